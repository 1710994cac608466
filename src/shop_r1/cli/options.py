"""Options several commands share, declared once so their flags, help and checks cannot drift apart."""

from __future__ import annotations

from typing import Annotated

import typer

from shop_r1.models.options import INFERENCE_DTYPES

__all__ = ["ModelSpecOption", "check_inference_dtype"]

ModelSpecOption = Annotated[str, typer.Option("--model", help="Model spec: embedded:smollm2-135m, a training run's "
                                                              "output_dir or another model directory, a .gguf "
                                                              "file, or a hub id.")]


def check_inference_dtype(dtype: str) -> None:
    """Reject a `--dtype` that inference does not offer (`shop_r1.models.options.INFERENCE_DTYPES`)."""
    if dtype not in INFERENCE_DTYPES:
        *rest, last = INFERENCE_DTYPES
        raise typer.BadParameter(f"must be {', '.join(rest)} or {last}", param_hint="--dtype")
