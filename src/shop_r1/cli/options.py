"""Options several commands share, declared once so their flags, help and checks cannot drift apart."""

from __future__ import annotations

from typing import Annotated

import typer

from shop_r1.models.options import INFERENCE_DTYPES
from shop_r1.rewards.rouge import TOKENIZERS

__all__ = ["ModelSpecOption", "RougeTokenizerOption", "check_inference_dtype"]

ModelSpecOption = Annotated[str, typer.Option("--model", help="Model spec: embedded:smollm2-135m, a training run's "
                                                              "output_dir or another model directory, a .gguf "
                                                              "file, or a hub id.")]


def _check_rouge_tokenizer(value: str) -> str:
    if value not in TOKENIZERS:
        raise typer.BadParameter(f"must be one of {', '.join(TOKENIZERS)}, got {value!r}")
    return value


# The choices are rouge.TOKENIZERS (the Literal's values), so the flag offers exactly what rouge_l accepts.
RougeTokenizerOption = Annotated[str, typer.Option(
    "--rouge-tokenizer", metavar="|".join(TOKENIZERS), callback=_check_rouge_tokenizer,
    help="Tokens of every ROUGE-L: unicode (words of any script, one token per CJK/Thai character) or "
         "rouge_score (the rouge-score package: [a-z0-9] words only, so e.g. Chinese text scores 0; to "
         "reproduce English numbers computed with it).")]


def check_inference_dtype(dtype: str) -> None:
    """Reject a `--dtype` that inference does not offer (`shop_r1.models.options.INFERENCE_DTYPES`)."""
    if dtype not in INFERENCE_DTYPES:
        *rest, last = INFERENCE_DTYPES
        raise typer.BadParameter(f"must be {', '.join(rest)} or {last}", param_hint="--dtype")
