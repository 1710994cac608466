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

__all__ = ["load_for_inference", "resolve_model_dir"]

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


def load_for_inference(spec: str, *, device: str = "auto") -> tuple[Any, Any]:
    """Load a causal LM in eval mode on `device` (`auto`: CUDA when visible, else CPU) and its tokenizer.

    float32 on CPU (bf16 matmuls are slow there), bfloat16 on CUDA.
    """
    import torch

    target = _pick_device(device)
    dtype = torch.bfloat16 if target == "cuda" else torch.float32
    models = _training_loader()
    if models is not None:
        model = models.load_model(spec, dtype="bfloat16" if target == "cuda" else "float32")
        tokenizer = models.load_model_tokenizer(spec)
    else:
        from transformers import AutoModelForCausalLM

        from shop_r1.embedded import load_tokenizer

        directory = resolve_model_dir(spec)
        try:
            model = AutoModelForCausalLM.from_pretrained(directory, dtype=dtype)
        except OSError as err:
            raise ShopR1Error(f"could not load model {spec!r}: {err}") from err
        tokenizer = load_tokenizer(directory)
    if tokenizer.chat_template is None:
        raise ShopR1Error(f"the tokenizer of {spec!r} has no chat template; predict formats prompts with it")
    model.to(target)
    model.eval()
    logger.info("loaded %s on %s (%s)", spec, target, dtype)
    return model, tokenizer
