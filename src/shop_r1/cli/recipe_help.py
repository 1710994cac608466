"""The recipe keys of `shop-r1 sft|grpo --help`, read from the argument dataclasses the stage parses.

A recipe key is a field of one of the stage's dataclasses (`training.configs`, or TRL's config for the
trainer group); its default and help come from the field itself, so the listing cannot drift from what
the parser accepts. TRL's configs have ~150 fields: the trainer group shows the ones the shipped recipes
set (`TRAINER_KEYS`, kept equal to the recipes by a test) and says the others are accepted too.

Building the listing imports TRL (seconds), so only `--help` of these two commands pays for it.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import re
import types
import typing
from collections.abc import Iterable, Sequence
from typing import Any

import click
from typer import core as typer_core
from typer.core import TyperCommand

__all__ = ["KeyGroup", "RecipeKey", "TRAINER_KEYS", "help_line", "recipe_command", "recipe_keys", "stage_groups",
           "yaml_default"]

# The TRL config fields the shipped recipes (configs/*/{sft,grpo}.yaml) set, in recipe order.
TRAINER_KEYS: dict[str, tuple[str, ...]] = {
    "sft": ("output_dir", "num_train_epochs", "max_steps", "per_device_train_batch_size",
            "gradient_accumulation_steps", "learning_rate", "lr_scheduler_type", "warmup_steps", "weight_decay",
            "max_length", "packing", "bf16", "activation_checkpointing", "logging_steps", "save_strategy",
            "save_steps", "save_total_limit", "report_to", "seed", "dataloader_num_workers"),
    "grpo": ("output_dir", "max_steps", "learning_rate", "lr_scheduler_type", "warmup_steps",
             "per_device_train_batch_size", "gradient_accumulation_steps", "num_generations",
             "max_completion_length", "temperature", "beta", "scale_rewards", "bf16", "activation_checkpointing",
             "use_vllm", "vllm_mode", "vllm_gpu_memory_utilization", "vllm_max_model_length", "logging_steps",
             "save_strategy", "save_steps", "save_total_limit", "report_to", "seed"),
}

# Group titles by dataclass name; the stage's last dataclass is always its trainer config.
_TITLES = {"ModelArguments": "Model", "SFTDataArguments": "Data", "GRPODataArguments": "Data",
           "RewardArguments": "Rewards", "RolloutArguments": "Rollouts"}
_KINDS = {bool: "BOOL", int: "INT", float: "FLOAT", str: "TEXT"}
# Long enough for every help line of training.configs; TRL's multi-paragraph helps keep their first sentences.
_HELP_CHARS = 160
_SENTENCE_END = re.compile(r"(?<=\.)\s+(?=[A-Z`])")


@dataclasses.dataclass(frozen=True)
class RecipeKey:
    """One recipe key as `--help` shows it: the name, a type label, the default in YAML spelling, one help line
    (with the allowed values when the field lists them)."""

    name: str
    kind: str
    default: str
    help: str


@dataclasses.dataclass(frozen=True)
class KeyGroup:
    title: str
    source: str  # the dataclass the keys are fields of
    keys: tuple[RecipeKey, ...]
    note: str = ""


def yaml_default(value: Any) -> str:
    """A default as a recipe would spell it.

    >>> [yaml_default(v) for v in (None, True, 0.005, 1000.0, "kl_u_p", "", [])]
    ['null', 'true', '0.005', '1000.0', 'kl_u_p', '""', '[]']
    """
    if value is dataclasses.MISSING:
        return "required"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return yaml_default(value.value)
    if isinstance(value, str):
        return value if value else '""'
    return repr(value) if isinstance(value, float) else str(value)


def help_line(text: str, limit: int = _HELP_CHARS) -> str:
    """The help on one line: whole sentences up to `limit` characters (always the first one).

    >>> help_line("Sets X. Long detail that does not fit.", limit=10)
    'Sets X.'
    >>> help_line("Ratio of 10%% of the   steps.")
    'Ratio of 10% of the steps.'
    """
    flat = " ".join(text.replace("%%", "%").split())  # argparse help strings escape % as %%
    sentences = _SENTENCE_END.split(flat)
    line = sentences[0]
    for sentence in sentences[1:]:
        if len(line) + 1 + len(sentence) > limit:
            break
        line = f"{line} {sentence}"
    return line


def _kind(hint: Any) -> str:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        members = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        hint = next((member for member in members if member in _KINDS), str)
    return _KINDS.get(hint, "TEXT")


def _default(item: dataclasses.Field[Any]) -> Any:
    if item.default_factory is not dataclasses.MISSING:
        return item.default_factory()
    return item.default


def recipe_keys(cls: type, names: Iterable[str] | None = None) -> tuple[RecipeKey, ...]:
    """The keys a recipe may set through dataclass `cls`: all its init fields, or only `names` (in that order)."""
    hints = typing.get_type_hints(cls)
    fields = {item.name: item for item in dataclasses.fields(cls) if item.init}
    chosen = list(fields) if names is None else list(names)
    keys = []
    for name in chosen:
        item = fields[name]
        text = help_line(item.metadata.get("help", ""))
        if choices := item.metadata.get("choices"):
            text = f"{text} [choices: {', '.join(str(choice) for choice in choices)}]"
        keys.append(RecipeKey(name, _kind(hints.get(name)), yaml_default(_default(item)), text))
    return tuple(keys)


def stage_groups(dataclass_types: Sequence[type], stage: str) -> list[KeyGroup]:
    """One group per dataclass of a stage's parser; the trainer config (last) shows the recipes' keys only."""
    *own, trainer = dataclass_types
    groups = [KeyGroup(_TITLES.get(cls.__name__, cls.__name__), cls.__name__, recipe_keys(cls)) for cls in own]
    shown = TRAINER_KEYS[stage]
    others = sum(1 for item in dataclasses.fields(trainer) if item.init) - len(shown)
    note = (f"Every other {trainer.__name__} field ({others} more, from TRL and transformers' TrainingArguments) is "
            f"accepted too, in the recipe or as --key value; `python -m shop_r1.training.{stage} --help` lists "
            "them all with their help.")
    groups.append(KeyGroup("Trainer", trainer.__name__, recipe_keys(trainer, shown), note))
    return groups


def _print_rich(groups: Sequence[KeyGroup]) -> None:
    from rich.console import Console, Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text
    from typer import rich_utils

    # The width typer's own panels use (TERMINAL_WIDTH, else the terminal's), so the panels line up.
    console = Console(width=rich_utils.MAX_WIDTH)
    for group in groups:
        table = Table(show_header=False, box=None, expand=True, padding=(0, 1), pad_edge=False)
        # A key's name is never cut; a long word in the help folds onto the next line instead.
        table.add_column(no_wrap=True)
        table.add_column(no_wrap=True)
        table.add_column(overflow="fold", ratio=1)
        for key in group.keys:
            # Text, not markup: helps hold brackets such as `[0,1)`.
            table.add_row(Text(f"--{key.name}", style="bold cyan"), Text(key.kind, style="bold yellow"),
                          Text(f"{key.help} ").append(f"[default: {key.default}]", style="dim"))
        body = Group(table, Text(group.note, style="italic")) if group.note else table
        console.print(Panel(body, title=f"Recipe keys: {group.title} ({group.source})", title_align="left",
                            border_style="dim"))


def _write_plain(groups: Sequence[KeyGroup], formatter: click.HelpFormatter) -> None:
    for group in groups:
        with formatter.section(f"Recipe keys: {group.title} ({group.source})"):
            formatter.write_dl([(f"--{key.name} {key.kind}", f"{key.help} [default: {key.default}]")
                                for key in group.keys])
            if group.note:
                formatter.write_paragraph()
                formatter.write_text(group.note)


def recipe_command(stage: str) -> type[TyperCommand]:
    """A typer command class whose `--help` ends with the recipe keys of `shop_r1.training.<stage>`."""

    class RecipeCommand(TyperCommand):
        def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
            super().format_help(ctx, formatter)
            module = importlib.import_module(f"shop_r1.training.{stage}")
            groups = stage_groups(module.make_parser().dataclass_types, stage)
            # TyperCommand prints rich help itself and writes plain help into `formatter`: follow suit.
            if not typer_core.HAS_RICH or self.rich_markup_mode is None:
                _write_plain(groups, formatter)
            else:
                _print_rich(groups)

    RecipeCommand.__name__ = f"{stage.upper()}RecipeCommand"
    return RecipeCommand
