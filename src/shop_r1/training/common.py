"""Boilerplate both stages share: loading the model, logging, resume, run-time guards, saving the final model."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from shop_r1.errors import ShopR1Error

if TYPE_CHECKING:
    from transformers import PreTrainedModel, TrainingArguments

    from shop_r1.training.configs import ModelArguments

logger = logging.getLogger(__name__)

# Values of `resume_from_checkpoint` (the `--resume` flag of the CLI) that mean "the latest checkpoint in output_dir".
RESUME_LATEST = ("auto", "latest", "last", "true", "True")


def default_to_cpu_backend() -> None:
    """On a machine without an accelerator, let accelerate run a `torchrun` launch as multi-process CPU (gloo) DDP.

    TrainingArguments does that only with `use_cpu=True`, which a recipe meant for CPUs and GPUs alike cannot
    set; accelerate's `ACCELERATE_USE_CPU` has the same effect and leaves the bf16-without-GPU check in place.
    Called by the entry points before parsing, never when the variable is already set.
    """
    from shop_r1.models.load import accelerator_available

    if not accelerator_available():
        os.environ.setdefault("ACCELERATE_USE_CPU", "true")


def _config_argument(argv: Sequence[str]) -> str | None:
    """The recipe path of `--config PATH` (the only spelling TrlParser reads), or None without a recipe."""
    if "--config" not in argv:
        return None
    index = list(argv).index("--config") + 1
    if index == len(argv):
        raise ShopR1Error("--config needs a recipe path, e.g. --config configs/debug/sft.yaml")
    return argv[index]


def parse_stage_args(stage: ModuleType, argv: Sequence[str]) -> tuple[Any, ...]:
    """Parse `--config recipe.yaml --key value ...` with a stage's parser; configuration mistakes are `ShopR1Error`.

    The recipe is read and type-checked first (`training.preflight`), so broken YAML or a value of the
    wrong type is reported with the file, not as a traceback from PyYAML or, later, from torch. Shared by
    `shop-r1 sft|grpo` and `python -m shop_r1.training.sft|grpo`.
    """
    from shop_r1.training.preflight import check_recipe_types, load_recipe

    config = _config_argument(argv)
    if config is not None:
        check_recipe_types(load_recipe(config), stage.make_parser().dataclass_types, config)
    try:
        return stage.parse_args(argv)
    except (ValueError, TypeError) as err:
        hint = ""
        if "bf16" in str(err):
            hint = " (no GPU here: add --bf16 false, or use a CPU recipe such as configs/demo/*.yaml)"
        raise ShopR1Error(f"{config or 'arguments'}: {err}{hint}") from err


def run_from_command_line(stage: ModuleType, argv: Sequence[str] | None = None) -> None:
    """`python -m shop_r1.training.<stage>`: parse, then train; a user error is one `error: ...` line and exit 1.

    The same errors and lines as the `shop-r1` CLI (SHOP_R1_DEBUG=1 shows the traceback), so a recipe
    mistake reads alike under the CLI, `python -m`, `accelerate launch` and `torchrun`.
    """
    from shop_r1.schema import SchemaError

    try:
        stage.main(*parse_stage_args(stage, sys.argv[1:] if argv is None else list(argv)))
    except (ShopR1Error, SchemaError, OSError) as err:
        if os.environ.get("SHOP_R1_DEBUG") == "1":
            raise
        sys.stderr.write(f"error: {err}\n")
        raise SystemExit(1) from None


def load_training_model(model_args: ModelArguments, training_args: Any) -> PreTrainedModel:
    """`load_model` with a stage's model arguments and its (SFT/GRPO) training arguments' precision."""
    from shop_r1.models.load import load_model

    return load_model(model_args.model_name_or_path, dtype=model_args.dtype,
                      attn_implementation=model_args.attn_implementation, bf16=training_args.bf16,
                      fp16=training_args.fp16, frozen_base=model_args.use_peft)


def setup_logging(args: TrainingArguments) -> None:
    """Configure logging once, at the entry point: shop-r1's own messages at INFO on the logging process (WARNING on
    the others); transformers and datasets at the trainer's `log_level` when one is set."""
    import datasets
    import transformers

    logging.basicConfig(
        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S",
        handlers=[logging.StreamHandler(sys.stdout)], force=True,
    )
    logging.getLogger("shop_r1").setLevel(logging.INFO if args.should_log else logging.WARNING)
    if args.log_level != "passive":
        level = args.get_process_log_level()
        datasets.utils.logging.set_verbosity(level)
        transformers.utils.logging.set_verbosity(level)


def resolve_resume(args: TrainingArguments) -> str | None:
    """The checkpoint to resume from: `auto` (etc.) = the latest one in output_dir, if any; else the given path."""
    from transformers.trainer_utils import get_last_checkpoint

    value = args.resume_from_checkpoint
    output_dir = Path(args.output_dir)
    if value in (None, "", "false", "False"):
        if output_dir.is_dir() and get_last_checkpoint(str(output_dir)) is not None:
            logger.warning("%s already holds checkpoints; this run starts from scratch and overwrites them "
                           "(pass --resume to continue the last one)", output_dir)
        return None
    if value in RESUME_LATEST:
        last = get_last_checkpoint(str(output_dir)) if output_dir.is_dir() else None
        if last is None:
            logger.warning("no checkpoint in %s yet: starting from scratch", output_dir)
        else:
            logger.info("resuming from %s", last)
        return last
    if not Path(value).is_dir():
        raise ShopR1Error(f"resume_from_checkpoint {value!r} is not a checkpoint directory")
    return value


def check_packing(packing: bool, attn_implementation: str) -> None:
    """Packing is only correct with FlashAttention: with sdpa/eager, packed examples attend to each other."""
    if packing and attn_implementation != "flash_attention_2":
        raise ShopR1Error(f"packing needs attn_implementation flash_attention_2 (got {attn_implementation}): with "
                          "sdpa or eager, packed examples attend to each other; set --packing false")


def _save_final_model(trainer: Any, merge_lora: bool) -> None:
    from accelerate.utils import DistributedType, is_peft_model

    model = trainer.accelerator.unwrap_model(trainer.model)
    sharded = trainer.accelerator.distributed_type in (DistributedType.DEEPSPEED, DistributedType.FSDP)
    if not (merge_lora and is_peft_model(model)) or sharded:
        if merge_lora and is_peft_model(model):
            logger.warning("the LoRA adapter is saved unmerged: merging under %s is not supported here "
                           "(merge it afterwards with peft's merge_and_unload)", trainer.accelerator.distributed_type)
        trainer.save_model(trainer.args.output_dir)
        return
    trainer.accelerator.wait_for_everyone()
    if trainer.accelerator.is_main_process:
        # The run is over, so merging in place is fine; the result is an ordinary checkpoint for the next stage.
        model.merge_and_unload().save_pretrained(trainer.args.output_dir)
    trainer.accelerator.wait_for_everyone()


def finish(trainer: Any, tokenizer: Any, train_result: Any, *, merge_lora: bool = False) -> None:
    """Save the final model (LoRA merged when asked), tokenizer, metrics and `trainer_state.json` into output_dir."""
    _save_final_model(trainer, merge_lora)
    metrics = dict(train_result.metrics)
    trainer.log_metrics("train", metrics)
    trainer.save_metrics("train", metrics)
    trainer.save_state()
    if trainer.accelerator.is_main_process:
        tokenizer.save_pretrained(trainer.args.output_dir)
