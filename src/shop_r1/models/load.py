"""Load a causal LM and its tokenizer from any model spec: the precision, the attention kernel, the loading.

Specs are resolved to directories by `shop_r1.models.checkpoints`; the dtype and attention choices are
those of `shop_r1.models.options`.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

from shop_r1.errors import ShopR1Error
from shop_r1.models.checkpoints import resolve_model_dir
from shop_r1.models.options import ATTN_IMPLEMENTATIONS, TRAINING_DTYPES
from shop_r1.models.tokenizers import load_tokenizer

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

__all__ = ["accelerator_available", "choose_attn_implementation", "choose_dtype", "load_model",
           "load_model_tokenizer"]


def accelerator_available() -> bool:
    """Whether torch sees a GPU-like device (CUDA/ROCm, XPU or Apple MPS)."""
    import torch

    return (torch.cuda.is_available() or (hasattr(torch, "xpu") and torch.xpu.is_available())
            or torch.backends.mps.is_available())


def choose_dtype(
    requested: str = "auto", *, bf16: bool = False, fp16: bool = False, frozen_base: bool = False
) -> torch.dtype:
    """The parameter dtype: as requested, or for "auto" float32 weights, with `bf16`/`fp16` training as autocast
    over them. Half-precision weights only for a frozen base (LoRA) on an accelerator.

    Trained weights stay float32 because an update of lr x O(1) with the RL learning rates (1e-6) is below
    bfloat16's resolution for weights of size ~0.05 (about 2e-4), so pure-bf16 GRPO barely moves the model; on
    an H100 it also hit non-finite gradients in 2 of 3 seeds of the medium demo. For models too large for
    float32 weights, set `dtype: bfloat16` with DeepSpeed/FSDP, which keep float32 master weights themselves.
    """
    import torch

    if requested not in TRAINING_DTYPES:
        raise ShopR1Error(f"dtype must be one of {', '.join(TRAINING_DTYPES)}, got {requested!r}")
    if requested != "auto":
        return getattr(torch, requested)
    if frozen_base and accelerator_available():
        if bf16:
            return torch.bfloat16
        if fp16:
            return torch.float16
    return torch.float32


def choose_attn_implementation(requested: str = "auto") -> str:
    """`flash_attention_2` on CUDA when the package is installed, else `sdpa` (for "auto")."""
    import torch

    if requested not in ATTN_IMPLEMENTATIONS:
        raise ShopR1Error(f"attn_implementation must be one of {', '.join(ATTN_IMPLEMENTATIONS)}, got {requested!r}")
    if requested != "auto":
        return requested
    if torch.cuda.is_available() and importlib.util.find_spec("flash_attn") is not None:
        return "flash_attention_2"
    return "sdpa"


def load_model(
    spec: str, *, dtype: str = "auto", attn_implementation: str = "auto", bf16: bool = False, fp16: bool = False,
    frozen_base: bool = False,
) -> PreTrainedModel:
    """Load a causal LM for training or inference from any model spec (see `shop_r1.models.specs`).

    `frozen_base`: only adapters will be trained, so "auto" may load the weights in half precision."""
    from transformers import AutoModelForCausalLM

    directory = resolve_model_dir(spec)
    try:
        return AutoModelForCausalLM.from_pretrained(
            directory,
            dtype=choose_dtype(dtype, bf16=bf16, fp16=fp16, frozen_base=frozen_base),
            attn_implementation=choose_attn_implementation(attn_implementation),
        )
    except (OSError, ValueError) as err:  # ValueError: a config.json transformers does not recognise
        raise ShopR1Error(f"could not load model {spec!r} from {directory!r}: {err}") from err


def load_model_tokenizer(spec: str) -> PreTrainedTokenizerBase:
    """The tokenizer stored beside the model `spec` resolves to (pad token = EOS when the tokenizer has none)."""
    tokenizer = load_tokenizer(resolve_model_dir(spec))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer
