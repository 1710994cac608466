"""Tiny random models (`tiny-random:llama|qwen2`): 2-layer decoders with the embedded tokenizer.

Their output is junk, but every code path (training, prediction, serving) runs on them in seconds, so tests
and the debug recipes use them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from shop_r1.errors import ShopR1Error
from shop_r1.models.specs import TINY_ARCHITECTURES
from shop_r1.models.tokenizers import load_tokenizer

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

__all__ = ["build_tiny_random_model", "tiny_random_config"]


def tiny_random_config(architecture: str, tokenizer: PreTrainedTokenizerBase) -> Any:
    """A 2-layer, 64-wide decoder config for `architecture` sized to `tokenizer` (about 3.3M parameters)."""
    from transformers import LlamaConfig, Qwen2Config

    if architecture not in TINY_ARCHITECTURES:
        raise ShopR1Error(f"unknown tiny-random architecture {architecture!r}; known: {', '.join(TINY_ARCHITECTURES)}")
    common = {
        "vocab_size": len(tokenizer),
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 8192,
        "tie_word_embeddings": True,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    return (LlamaConfig if architecture == "llama" else Qwen2Config)(**common)


def build_tiny_random_model(
    architecture: str, out_dir: str | Path, tokenizer_spec: str = "embedded:smollm2-135m", seed: int = 0
) -> Path:
    """Save a random tiny model plus the tokenizer of `tokenizer_spec` to `out_dir` (deterministic in `seed`)."""
    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig

    tokenizer = load_tokenizer(tokenizer_spec)
    config = tiny_random_config(architecture, tokenizer)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id
    )
    out = Path(out_dir)
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    return out
