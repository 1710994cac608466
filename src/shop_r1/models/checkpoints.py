"""Model specs -> directories `from_pretrained` loads: specs other than a directory or a hub id are
materialised once under `cache_dir()/models/<key>/model` as an ordinary safetensors checkpoint plus its
tokenizer, then loaded from there.

GGUF weights are dequantised on that first load (`GgufConfig(dequantize=True)`: trainers refuse "purely
quantized" models); afterwards loading takes about a second instead of ~15. Because the model is always
loaded from a real directory, `config._name_or_path` points at it, which TRL uses to build the GRPO
reference model. The tokenizer's chat template is kept as is.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shop_r1.data.atomic import staging_prefix, sweep_stale_staging
from shop_r1.errors import ShopR1Error
from shop_r1.models.embedded import cache_dir, embedded_gguf_path
from shop_r1.models.specs import parse_spec
from shop_r1.models.tiny import build_tiny_random_model
from shop_r1.models.tokenizers import load_tokenizer

__all__ = ["MARKER", "materialise", "resolve_model_dir"]

logger = logging.getLogger(__name__)

# Written last into a materialised checkpoint: its presence means the directory is complete and says
# what it was built from, so a changed source file is rebuilt rather than silently reused.
MARKER = "shop_r1_source.json"


def materialise(target: Path, source: dict[str, Any], build: Callable[[Path], None]) -> Path:
    """Build a checkpoint directory once: `build(staging)` writes it beside `target`, then one rename publishes it."""
    marker = target / MARKER
    if marker.is_file() and json.loads(marker.read_text()) == source:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale_staging(target.parent, "building")  # what killed builds left (a whole model each)
    staging = Path(tempfile.mkdtemp(prefix=staging_prefix("building"), dir=target.parent))
    try:
        build(staging)
        (staging / MARKER).write_text(json.dumps(source, sort_keys=True))
        if target.exists():  # stale (other source) or incomplete: replace it
            shutil.rmtree(target, ignore_errors=True)
        try:
            staging.rename(target)
        except OSError:  # another process published first; its copy is built from the same source
            pass
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _require_gguf() -> None:
    if importlib.util.find_spec("gguf") is None:
        raise ShopR1Error("loading a GGUF model needs the package 'gguf': run `pip install 'gguf>=0.10'`")


def _gguf_builder(path: Path, tokenizer_source: str) -> Callable[[Path], None]:
    def build(staging: Path) -> None:
        import torch
        from transformers import AutoModelForCausalLM, GgufConfig

        _require_gguf()
        logger.info("dequantising %s once into the shop-r1 cache (about 15 s)", path.name)
        model = AutoModelForCausalLM.from_pretrained(
            str(path.parent), gguf_file=path.name, quantization_config=GgufConfig(dequantize=True), dtype=torch.float32
        )
        # The GGUF origin must not follow the checkpoint: loading it back would try to re-quantise.
        for holder in (model.config, getattr(model, "generation_config", None)):
            if holder is not None and hasattr(holder, "quantization_config"):
                delattr(holder, "quantization_config")
        model.save_pretrained(str(staging))
        load_tokenizer(tokenizer_source).save_pretrained(str(staging))

    return build


def resolve_model_dir(spec: str) -> str:
    """A directory (or a hub id) that `from_pretrained` loads for `spec`, materialising cached specs on first use."""
    models = cache_dir() / "models"
    parsed = parse_spec(spec)
    if parsed.kind == "embedded":
        gguf = embedded_gguf_path(spec)
        source = {"gguf": str(gguf), "size": gguf.stat().st_size}
        return str(materialise(models / parsed.name / "model", source, _gguf_builder(gguf, spec)))
    if parsed.kind == "tiny-random":
        architecture = parsed.name
        source = {"tiny_random": architecture, "seed": 0, "version": 1}
        target = models / f"tiny-random-{architecture}" / "model"
        return str(materialise(target, source, lambda staging: build_tiny_random_model(architecture, staging)))
    if parsed.kind == "gguf":
        path = parsed.path.resolve()
        stat = path.stat()
        source = {"gguf": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        digest = hashlib.sha256(json.dumps(source, sort_keys=True).encode()).hexdigest()[:12]
        target = models / f"gguf-{parsed.path.stem}-{digest}" / "model"
        return str(materialise(target, source, _gguf_builder(path, str(path))))
    if parsed.kind == "directory":
        if not (parsed.path / "config.json").is_file():
            raise ShopR1Error(f"model directory {spec!r} has no config.json (expected a `save_pretrained` folder, "
                              "e.g. a training run's output_dir)")
        return str(parsed.path)
    return spec  # a hub id: transformers downloads it (needs network)
