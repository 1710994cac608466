"""Stage 1 of Shop-R1: supervised fine-tuning (cold start) with the stock `trl.SFTTrainer`.

Paper (section 4): whole sessions with teacher rationales, 4 epochs, lr 2e-5. The loss falls on the
assistant turns only (see `sft_data`). Run it with a recipe, overriding any key on the command line:

    shop-r1 sft --config configs/debug/sft.yaml --max_steps 5
    python -m shop_r1.training.sft --config configs/demo/sft.yaml
    accelerate launch --config_file configs/accelerate/zero3.yaml -m shop_r1.training.sft \\
        --config configs/paper/qwen2.5-3b/sft.yaml
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from shop_r1.training.configs import ModelArguments, SFTDataArguments

if TYPE_CHECKING:
    from trl import SFTConfig, TrlParser

logger = logging.getLogger(__name__)


def make_parser() -> TrlParser:
    from trl import SFTConfig, TrlParser

    # allow_abbrev=False: a typo such as --learning_rat must fail, not silently set learning_rate.
    return TrlParser((ModelArguments, SFTDataArguments, SFTConfig), allow_abbrev=False)


def parse_args(argv: Sequence[str] | None = None) -> tuple[ModelArguments, SFTDataArguments, SFTConfig]:
    """Parse `--config recipe.yaml --key value ...`; unknown keys (in the YAML or the flags) raise."""
    from shop_r1.training.common import default_to_cpu_backend

    default_to_cpu_backend()
    return make_parser().parse_args_and_config(args=None if argv is None else list(argv))


def main(model_args: ModelArguments, data_args: SFTDataArguments, training_args: SFTConfig) -> dict[str, float]:
    """Train, then save the model, tokenizer, metrics and `trainer_state.json` into `output_dir`."""
    from shop_r1.training.preflight import preflight

    preflight(model_args, data_args, training_args)  # recipe and data are checked before any model loads

    from transformers import set_seed
    from trl import SFTTrainer

    from shop_r1.models.load import choose_attn_implementation, load_model_tokenizer
    from shop_r1.training.common import check_packing, finish, load_training_model, resolve_resume, setup_logging
    from shop_r1.training.compact_head import labelled_positions_only
    from shop_r1.training.guards import NonFiniteGradientGuard
    from shop_r1.training.sft_data import load_sft_split

    setup_logging(training_args)
    set_seed(training_args.seed)
    check_packing(training_args.packing, choose_attn_implementation(model_args.attn_implementation))
    checkpoint = resolve_resume(training_args)

    # Rank 0 materialises cached models (GGUF dequantisation) and tokenises; the other ranks then read its results.
    with training_args.main_process_first(desc="model and data"):
        tokenizer = load_model_tokenizer(model_args.model_name_or_path)
        model = load_training_model(model_args, training_args)
        train_dataset = load_sft_split(data_args, tokenizer, split="train", seed=training_args.seed,
                                       max_length=training_args.max_length)
        eval_dataset = None
        if training_args.eval_strategy != "no":
            eval_dataset = load_sft_split(data_args, tokenizer, split="test", seed=training_args.seed,
                                          max_length=training_args.max_length)
    logger.info("SFT on %d %s rows from %s", len(train_dataset), data_args.sft_format, data_args.dataset_dir)

    trainer = SFTTrainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        processing_class=tokenizer,
        peft_config=model_args.peft_config(),
        callbacks=[NonFiniteGradientGuard()],
    )
    with labelled_positions_only():
        result = trainer.train(resume_from_checkpoint=checkpoint)
    finish(trainer, tokenizer, result, merge_lora=model_args.use_peft and model_args.merge_lora)
    return dict(result.metrics)


if __name__ == "__main__":
    import sys

    from shop_r1.training.common import run_from_command_line

    run_from_command_line(sys.modules[__name__])  # a recipe mistake: one `error:` line and exit 1, as in the CLI
