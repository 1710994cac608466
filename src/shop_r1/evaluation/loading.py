"""Model spec -> (model, tokenizer) for inference: the one place `predict` loads a model.

`shop_r1.training.models` (embedded GGUF models dequantised and cached as safetensors, tiny random
models, GGUF files, local directories) is the project's loader. When it is importable it is used; until
then this module loads a local model directory (`AutoModelForCausalLM` plus the tokenizer saved
beside it) and says what to do for other specs.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Any

from shop_r1.errors import ShopR1Error

__all__ = ["DTYPES", "load_for_inference", "resolve_model_dir"]

logger = logging.getLogger(__name__)

_TRAINING_MODELS = "shop_r1.training.models"


def _training_loader() -> Any | None:
    try:
        if importlib.util.find_spec(_TRAINING_MODELS) is None:
            return None
    except ModuleNotFoundError:  # shop_r1.training itself is absent
        return None
    return importlib.import_module(_TRAINING_MODELS)


def resolve_model_dir(spec: str) -> str:
    """A local directory holding the model `spec` names (vLLM loads directories, not specs)."""
    models = _training_loader()
    if models is not None:
        return models.resolve_model_dir(spec)
    path = Path(spec).expanduser()
    if path.is_dir() and (path / "config.json").is_file():
        return str(path)
    raise ShopR1Error(
        f"cannot load model {spec!r}: this build of shop-r1 evaluates local model directories only (a folder "
        "with config.json, e.g. from `save_pretrained` or a training run's output_dir)"
    )


def _pick_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ShopR1Error("--device cuda: no CUDA device is visible")
    return device


DTYPES = ("auto", "float32", "bfloat16")


def load_for_inference(spec: str, *, device: str = "auto", dtype: str = "auto") -> tuple[Any, Any]:
    """Load a causal LM in eval mode on `device` (`auto`: CUDA when visible, else CPU) and its tokenizer.

    `dtype="auto"`: bfloat16 on CUDA; float32 on CPU, the numerically safe choice. On CPUs with native
    bf16 instructions (AVX512-BF16, AMX) `bfloat16` runs the prompt (prefill) about 2.5x faster.
    """
    import torch

    if dtype not in DTYPES:
        raise ShopR1Error(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    target = _pick_device(device)
    name = dtype if dtype != "auto" else ("bfloat16" if target == "cuda" else "float32")
    torch_dtype = getattr(torch, name)
    models = _training_loader()
    if models is not None:
        model = models.load_model(spec, dtype=name)
        tokenizer = models.load_model_tokenizer(spec)
    else:
        from transformers import AutoModelForCausalLM

        from shop_r1.embedded import load_tokenizer

        directory = resolve_model_dir(spec)
        try:
            model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch_dtype)
        except OSError as err:
            raise ShopR1Error(f"could not load model {spec!r}: {err}") from err
        tokenizer = load_tokenizer(directory)
    if tokenizer.chat_template is None:
        raise ShopR1Error(f"the tokenizer of {spec!r} has no chat template; predict formats prompts with it")
    model.to(target)
    model.eval()
    logger.info("loaded %s on %s (%s)", spec, target, name)
    return model, tokenizer
