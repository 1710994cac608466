"""The precisions and attention kernels a model may be loaded with: one definition for recipes, CLI and loader.

Torch-free, so configuration (`training.configs`, the CLI) can validate choices without loading a model stack.

>>> INFERENCE_DTYPES
('auto', 'float32', 'bfloat16')
>>> TRAINING_DTYPES
('auto', 'float32', 'bfloat16', 'float16')
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "ATTN_IMPLEMENTATIONS",
    "INFERENCE_DTYPES",
    "TRAINING_DTYPES",
    "AttnImplementation",
    "InferenceDtype",
    "TrainingDtype",
]

# Prediction, serving and the demo's evaluations: "auto" picks bfloat16 on CUDA, else float32.
InferenceDtype = Literal["auto", "float32", "bfloat16"]
# Training alone also admits float16: fp16 mixed precision on accelerators without bf16 may load a frozen
# LoRA base in it (`choose_dtype`), and a recipe may ask for it explicitly.
TrainingDtype = Literal[InferenceDtype, "float16"]
AttnImplementation = Literal["auto", "sdpa", "eager", "flash_attention_2"]

INFERENCE_DTYPES: tuple[InferenceDtype, ...] = get_args(InferenceDtype)
TRAINING_DTYPES: tuple[TrainingDtype, ...] = get_args(TrainingDtype)
ATTN_IMPLEMENTATIONS: tuple[AttnImplementation, ...] = get_args(AttnImplementation)
