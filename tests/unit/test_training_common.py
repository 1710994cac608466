"""The stages' small helpers: packing check, resume, CPU backend default, GRPO defaults, prompt budget."""

import os
from types import SimpleNamespace

import pytest

from shop_r1.errors import ShopR1Error
from shop_r1.models import load
from shop_r1.training.common import check_packing, default_to_cpu_backend, resolve_resume
from shop_r1.training.configs import GRPODataArguments, ShopR1GRPOConfig
from shop_r1.training.grpo_data import load_rl_split
from tests.training_support import build_synthetic_datasets


def test_packing_needs_flash_attention():
    check_packing(False, "sdpa")
    check_packing(True, "flash_attention_2")
    with pytest.raises(ShopR1Error, match="attend to each other"):
        check_packing(True, "sdpa")


def _args(output_dir, resume):
    return SimpleNamespace(output_dir=str(output_dir), resume_from_checkpoint=resume)


def test_resume_picks_the_latest_checkpoint(tmp_path):
    assert resolve_resume(_args(tmp_path / "none", "auto")) is None  # nothing yet: start fresh
    for step in (2, 10, 4):
        (tmp_path / f"checkpoint-{step}").mkdir()
    assert resolve_resume(_args(tmp_path, "auto")) == str(tmp_path / "checkpoint-10")
    assert resolve_resume(_args(tmp_path, None)) is None
    assert resolve_resume(_args(tmp_path, str(tmp_path / "checkpoint-2"))) == str(tmp_path / "checkpoint-2")
    with pytest.raises(ShopR1Error, match="not a checkpoint"):
        resolve_resume(_args(tmp_path, str(tmp_path / "checkpoint-99")))


def test_cpu_machines_default_accelerate_to_cpu(monkeypatch):
    monkeypatch.delenv("ACCELERATE_USE_CPU", raising=False)
    monkeypatch.setattr(load, "accelerator_available", lambda: False)
    default_to_cpu_backend()
    assert os.environ["ACCELERATE_USE_CPU"] == "true"
    monkeypatch.setenv("ACCELERATE_USE_CPU", "false")
    default_to_cpu_backend()
    assert os.environ["ACCELERATE_USE_CPU"] == "false"  # never overrides the user


def test_grpo_config_defaults_are_the_papers():
    config = ShopR1GRPOConfig(output_dir="/tmp/x", bf16=False)
    assert (config.beta, config.temperature, config.scale_rewards) == (0.001, 0.6, "group")


def test_long_prompts_are_dropped_and_counted(tmp_path, smollm2_tokenizer):
    datasets = build_synthetic_datasets(tmp_path)
    everything, report = load_rl_split(GRPODataArguments(dataset_dir=str(datasets)), smollm2_tokenizer,
                                       split="train", seed=0)
    assert report.dropped_too_long == 0 and "gold_action" in everything.column_names
    budget = 400  # synthetic prompts: 314, 392 and 462 tokens for steps 1, 2 and 3 of each session
    kept, report = load_rl_split(GRPODataArguments(dataset_dir=str(datasets), max_prompt_tokens=budget),
                                 smollm2_tokenizer, split="train", seed=0)
    assert report.dropped_too_long == len(everything) // 3 and report.kept == len(kept) == len(everything) * 2 // 3
    with pytest.raises(ShopR1Error, match="none of the 24 train prompts"):
        load_rl_split(GRPODataArguments(dataset_dir=str(datasets), max_prompt_tokens=100), smollm2_tokenizer,
                      split="train", seed=0)
    limited, _ = load_rl_split(GRPODataArguments(dataset_dir=str(datasets), max_train_samples=3),
                               smollm2_tokenizer, split="train", seed=0)
    assert len(limited) == 3
