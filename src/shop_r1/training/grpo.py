"""Stage 2 of Shop-R1: GRPO with the format, hierarchical action (DARS) and self-certainty rewards.

Paper (section 4): 500 steps, lr 1e-7, global batch 64, sampling temperature 0.6, beta 0.001,
alpha 0.005, DARS 1000, starting from the SFT model (RL alone collapses). `reward_mode` switches to the
RL (Binary) baselines or a Table 4 ablation. Run it with a recipe, overriding any key:

    shop-r1 grpo --config configs/debug/grpo.yaml --model_name_or_path runs/debug/sft
    python -m shop_r1.training.grpo --config configs/demo/grpo.yaml --reward_mode binary
    accelerate launch --config_file configs/accelerate/zero3.yaml -m shop_r1.training.grpo \\
        --config configs/paper/qwen2.5-3b/grpo.yaml

Logged every step (and kept in `trainer_state.json`): `rewards/<func>/mean` for each reward component,
`rewards/self_certainty/mean` (raw s(r)), `rollout_type_share/<type>` and `parse_failure_rate` (from
the rewards), `completions/mean_length`, `kl`, `frac_reward_std_floored`, and the monitor's
`rollout_type_share/max` and `reward_hacking/flagged`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from shop_r1.training.configs import (
    GRPODataArguments,
    ModelArguments,
    RewardArguments,
    RolloutArguments,
    ShopR1GRPOConfig,
)

if TYPE_CHECKING:
    from trl import GRPOConfig, TrlParser

    from shop_r1.training.trainer import ShopR1GRPOTrainer

logger = logging.getLogger(__name__)

ROLLOUTS_FILE = "rollouts.jsonl"


def make_parser() -> TrlParser:
    from trl import TrlParser

    # allow_abbrev=False: a typo such as --learning_rat must fail, not silently set learning_rate.
    return TrlParser((ModelArguments, GRPODataArguments, RewardArguments, RolloutArguments, ShopR1GRPOConfig),
                     allow_abbrev=False)


def parse_args(
    argv: Sequence[str] | None = None,
) -> tuple[ModelArguments, GRPODataArguments, RewardArguments, RolloutArguments, ShopR1GRPOConfig]:
    """Parse `--config recipe.yaml --key value ...`; unknown keys (in the YAML or the flags) raise."""
    from shop_r1.training.common import default_to_cpu_backend

    default_to_cpu_backend()
    return make_parser().parse_args_and_config(args=None if argv is None else list(argv))


def build_trainer(
    model_args: ModelArguments,
    data_args: GRPODataArguments,
    reward_args: RewardArguments,
    rollout_args: RolloutArguments,
    training_args: GRPOConfig,
) -> ShopR1GRPOTrainer:
    """Load the model, tokenizer and prompts and assemble the trainer (no training yet)."""
    from shop_r1.models.load import load_model_tokenizer
    from shop_r1.rewards import build_reward_funcs
    from shop_r1.training.common import load_training_model
    from shop_r1.training.grpo_data import load_rl_split
    from shop_r1.training.guards import NonFiniteGradientGuard
    from shop_r1.training.monitor import RolloutTypeMonitor
    from shop_r1.training.trainer import SelfCertaintySettings, ShopR1GRPOTrainer

    # Rank 0 materialises cached models (GGUF dequantisation) and filters prompts; the other ranks then reuse them.
    with training_args.main_process_first(desc="model and data"):
        tokenizer = load_model_tokenizer(model_args.model_name_or_path)
        model = load_training_model(model_args, training_args)
        train_dataset, report = load_rl_split(data_args, tokenizer, split="train", seed=training_args.seed)
        eval_dataset = None
        if training_args.eval_strategy != "no":
            eval_dataset, _ = load_rl_split(data_args, tokenizer, split="test", seed=training_args.seed)
    logger.info("GRPO (%s) on %d prompts from %s (%d dropped as longer than %s tokens)", reward_args.reward_mode,
                report.kept, data_args.dataset_dir, report.dropped_too_long, report.max_prompt_tokens)

    reward_config = reward_args.reward_config()
    self_certainty = None
    if reward_args.needs_self_certainty:
        self_certainty = SelfCertaintySettings(form=reward_config.self_certainty_form,
                                               source=rollout_args.self_certainty_source,
                                               chunk_size=rollout_args.self_certainty_chunk_size)
    return ShopR1GRPOTrainer(
        model=model,
        reward_funcs=build_reward_funcs(reward_args.reward_funcs, reward_config),
        args=training_args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        processing_class=tokenizer,
        peft_config=model_args.peft_config(),
        callbacks=[RolloutTypeMonitor(rollout_args.rollout_type_share_bound), NonFiniteGradientGuard()],
        self_certainty=self_certainty,
        reward_std_floor=reward_args.reward_std_floor,
        rollout_log=str(Path(training_args.output_dir) / ROLLOUTS_FILE) if rollout_args.save_rollouts else None,
        shared_prefill=rollout_args.shared_prefill,
    )


def main(
    model_args: ModelArguments,
    data_args: GRPODataArguments,
    reward_args: RewardArguments,
    rollout_args: RolloutArguments,
    training_args: GRPOConfig,
) -> dict[str, float]:
    """Train, then save the model, tokenizer, metrics and `trainer_state.json` into `output_dir`."""
    from shop_r1.training.preflight import preflight

    # The recipe and the data are checked before any model loads.
    preflight(model_args, data_args, reward_args, rollout_args, training_args)

    from transformers import set_seed

    from shop_r1.training.common import finish, resolve_resume, setup_logging
    from shop_r1.training.compact_head import labelled_positions_only

    setup_logging(training_args)
    set_seed(training_args.seed)
    checkpoint = resolve_resume(training_args)
    trainer = build_trainer(model_args, data_args, reward_args, rollout_args, training_args)
    with labelled_positions_only():
        result = trainer.train(resume_from_checkpoint=checkpoint)
    finish(trainer, trainer.processing_class, result,
           merge_lora=model_args.use_peft and model_args.merge_lora)
    return dict(result.metrics)


if __name__ == "__main__":
    import sys

    from shop_r1.training.common import run_from_command_line

    run_from_command_line(sys.modules[__name__])  # a recipe mistake: one `error:` line and exit 1, as in the CLI
