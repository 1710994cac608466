"""`shop-r1 sft` and `shop-r1 grpo`: run a training stage from a YAML recipe; `--key value` flags override it.

The flags after the recipe are TRL's and shop-r1's argument names, parsed by the same `TrlParser` as
`python -m shop_r1.training.sft|grpo`, so a recipe behaves identically under the CLI, `python -m` and
`accelerate launch`. Register the commands with `register(app)`: they need `CONTEXT_SETTINGS` to accept
the extra flags.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import typer

# Unknown options are forwarded to TrlParser, which rejects the ones no dataclass defines.
CONTEXT_SETTINGS = {"allow_extra_args": True, "ignore_unknown_options": True}

ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="YAML recipe (e.g. configs/debug/sft.yaml).",
                                         exists=True, dir_okay=False, readable=True)]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="Continue from the last checkpoint in the recipe's "
                                                          "output_dir (starts fresh when there is none).")]


def recipe_argv(config: Path, extra: Sequence[str], resume: bool) -> list[str]:
    argv = ["--config", str(config), *extra]
    if resume:
        argv += ["--resume_from_checkpoint", "auto"]
    return argv


def parse_recipe(stage: ModuleType, config: Path, extra: Sequence[str], resume: bool) -> tuple[Any, ...]:
    """Parse a recipe plus overrides with the stage's parser; configuration mistakes become one-line errors
    (`training.common.parse_stage_args`, shared with `python -m shop_r1.training.sft|grpo`)."""
    from shop_r1.training.common import parse_stage_args

    return parse_stage_args(stage, recipe_argv(config, extra, resume))


def sft(ctx: typer.Context, config: ConfigOpt, resume: ResumeOpt = False) -> None:
    """Stage 1: supervised fine-tuning on whole sessions (or per-step rows) from a recipe.

    Example: shop-r1 sft --config configs/debug/sft.yaml --dataset_dir demo-out/datasets --max_steps 5
    """
    from shop_r1.training import sft as stage

    stage.main(*parse_recipe(stage, config, ctx.args, resume))


def grpo(ctx: typer.Context, config: ConfigOpt, resume: ResumeOpt = False) -> None:
    """Stage 2: GRPO with the Shop-R1 rewards (or a baseline / ablation via --reward_mode) from a recipe.

    Example: shop-r1 grpo --config configs/debug/grpo.yaml --model_name_or_path runs/debug/sft
    """
    from shop_r1.training import grpo as stage

    stage.main(*parse_recipe(stage, config, ctx.args, resume))


def register(app: typer.Typer, panel: str = "Training") -> None:
    """Add `sft` and `grpo` to a typer app, with the settings that let them forward recipe overrides."""
    from shop_r1.cli.recipe_help import recipe_command

    # recipe_command: `--help` also lists every key a recipe (or an override flag) may set, with its default.
    app.command(context_settings=CONTEXT_SETTINGS, rich_help_panel=panel, cls=recipe_command("sft"))(sft)
    app.command(context_settings=CONTEXT_SETTINGS, rich_help_panel=panel, cls=recipe_command("grpo"))(grpo)
