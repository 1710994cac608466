"""Tokenizers from model specs (with their chat templates, used as is).

Reading a tokenizer out of a GGUF file takes seconds, so the embedded model's is saved once as ordinary
files under the shop-r1 cache and later loads read those.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from shop_r1.data.atomic import staging_prefix, sweep_stale_staging
from shop_r1.errors import ShopR1Error
from shop_r1.models.embedded import DEFAULT_MODEL, cache_dir, embedded_gguf_path
from shop_r1.models.specs import parse_spec

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

__all__ = ["load_tokenizer"]


def _load_from_gguf(path: Path) -> PreTrainedTokenizerBase:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)


def _cached_gguf_tokenizer(path: Path, target: Path) -> PreTrainedTokenizerBase:
    from transformers import AutoTokenizer

    if (target / "tokenizer_config.json").is_file():
        return AutoTokenizer.from_pretrained(str(target))
    tokenizer = _load_from_gguf(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target and rename, so an interrupted first run never leaves a half cache.
    sweep_stale_staging(target.parent, "tokenizer")
    staging = Path(tempfile.mkdtemp(prefix=staging_prefix("tokenizer"), dir=target.parent))
    try:
        tokenizer.save_pretrained(str(staging))
        try:
            staging.rename(target)
        except OSError:  # another process won the race; its copy is as good as ours
            pass
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return tokenizer


def load_tokenizer(spec: str = DEFAULT_MODEL) -> PreTrainedTokenizerBase:
    """Load the tokenizer (with its chat template, used as is) for a model spec.

    A `tiny-random:` spec names no tokenizer of its own (`shop_r1.models.load.load_model_tokenizer` reads the
    one saved beside its built weights), so here it is looked up on the hub like any other name.
    """
    from transformers import AutoTokenizer

    parsed = parse_spec(spec)
    if parsed.kind == "embedded":
        return _cached_gguf_tokenizer(embedded_gguf_path(spec), cache_dir() / "models" / parsed.name / "tokenizer")
    if parsed.kind == "gguf":
        return _load_from_gguf(parsed.path)
    if parsed.kind == "directory":
        return AutoTokenizer.from_pretrained(str(parsed.path))
    try:
        return AutoTokenizer.from_pretrained(spec)
    except OSError as err:
        raise ShopR1Error(
            f"could not load a tokenizer for {spec!r} (not a local path, and the hub is unreachable or has no such "
            f"model); use {DEFAULT_MODEL!r} or a local directory: {err}"
        ) from err
