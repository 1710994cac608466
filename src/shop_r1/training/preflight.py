"""Checks a training run makes before it loads a model: the recipe, the argument types and the data.

Loading a model takes from seconds to many minutes; a typo in the recipe or a truncated dataset file
should cost neither, and should never surface as a traceback from PyYAML, torch or `datasets`. Each
check raises `ShopR1Error` naming the file (and line) and what to fix.

The recipe's values become argparse *defaults*, which argparse never converts, so `learning_rate:
[1, 2]` would reach torch as a list: `check_recipe_types` compares each value with the annotated type
of the dataclass field it sets.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from shop_r1.data.build import RL_ROW_COLUMNS, require_manifest
from shop_r1.data.jsonl import iter_json
from shop_r1.errors import ShopR1Error
from shop_r1.evaluation.records import check_dataset_row, check_prompt

__all__ = ["check_argument_types", "check_recipe_types", "check_training_data", "load_recipe", "preflight"]

_SCALARS: dict[type, str] = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def load_recipe(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The recipe's mapping; broken YAML names the line and column."""
    import yaml

    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except UnicodeDecodeError as err:
        raise ShopR1Error(f"{path}: not UTF-8 text (invalid byte at offset {err.start})") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        problem = getattr(err, "problem", None) or str(err)
        raise ShopR1Error(f"{where}: not valid YAML ({problem})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ShopR1Error(f"{path}: a recipe must be a YAML mapping of `key: value` lines, got {type(data).__name__}")
    return data


def _allowed(hint: Any) -> tuple[type, ...] | None:
    """The plain types a value of this annotation may have, or None when the annotation is not checked
    here (enums, dicts, unions with other classes: TRL and argparse validate those themselves)."""
    if hint in _SCALARS:
        return (hint,)
    origin = typing.get_origin(hint)
    if origin is list:
        return (list,)
    if origin in (typing.Union, types.UnionType):
        members = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        allowed: list[type] = []
        for member in members:
            # A str member (Union[SchedulerType, str]) accepts strings; other classes make it unchecked.
            inner = _allowed(member)
            if inner is None:
                return None
            allowed.extend(inner)
        return (*allowed, type(None))
    return None


def _type_problem(name: str, value: Any, hint: Any) -> str | None:
    allowed = _allowed(hint)
    if allowed is None:
        return None
    if isinstance(value, bool):  # before int: True is an int to Python, never to a recipe
        ok = bool in allowed
    elif isinstance(value, int) and float in allowed:
        ok = True
    elif isinstance(value, str) and any(kind in allowed for kind in (bool, int, float)):
        ok = True  # argparse converts text (YAML reads 1e-5 as text) and reports a bad one itself
    else:
        ok = isinstance(value, allowed)
    if ok:
        return None
    wanted = " or ".join(_SCALARS.get(kind, "a list" if kind is list else "null") for kind in allowed)
    return f"`{name}` must be {wanted}, got {type(value).__name__} {value!r}"


def _hints(dataclass_types: Sequence[type]) -> dict[str, Any]:
    hints: dict[str, Any] = {}
    for cls in dataclass_types:
        try:
            resolved = typing.get_type_hints(cls)
        except Exception:  # an annotation this Python cannot resolve: leave those fields to argparse
            resolved = {}
        for item in dataclasses.fields(cls):
            if item.name in resolved:
                hints.setdefault(item.name, resolved[item.name])
    return hints


def check_recipe_types(recipe: Mapping[str, Any], dataclass_types: Sequence[type], source: str) -> None:
    """`ShopR1Error` for the first recipe value whose type cannot be the field's (unknown keys are left to
    TrlParser, which rejects them)."""
    hints = _hints(dataclass_types)
    for name, value in recipe.items():
        if name in hints and (problem := _type_problem(name, value, hints[name])):
            raise ShopR1Error(f"{source}: {problem}")


def check_argument_types(*arguments: Any) -> None:
    """The same check on parsed argument dataclasses (for `python -m shop_r1.training.*` runs)."""
    for instance in arguments:
        hints = _hints([type(instance)])
        defaults = {item.name: item.default for item in dataclasses.fields(instance)}
        for name, hint in hints.items():
            value = getattr(instance, name)
            if value is defaults.get(name) or value == defaults.get(name):
                continue  # the library's own default (some are typed loosely): only what was set is checked
            if problem := _type_problem(name, value, hint):
                raise ShopR1Error(problem)


def _check_rows(path: Path, kind: str) -> None:
    """Read a dataset file with the shared JSONL reader and check each row's columns for `kind`."""
    if not path.is_file():
        raise ShopR1Error(f"{path} is missing: build the datasets first with `shop-r1 data build SESSIONS "
                          f"{path.parent}` (or fix dataset_dir)")
    rows = 0
    for number, row in iter_json(path):
        where = f"{path}:{number}"
        if not isinstance(row, dict):
            raise ShopR1Error(f"{where}: expected a JSON object, got {type(row).__name__}")
        if kind == "rl":
            missing = [column for column in RL_ROW_COLUMNS if column not in row]
            if missing:
                raise ShopR1Error(f"{where}: missing {', '.join(missing)}; expected an rl_*.jsonl file of "
                                  "`data build`")
            check_dataset_row(row, where)
        elif kind == "sft_step":
            check_prompt(row.get("prompt"), where)
            check_prompt(row.get("completion"), f"{where} (completion)")
        else:
            check_prompt(row.get("messages"), f"{where} (messages)")
        rows += 1
    if not rows:
        raise ShopR1Error(f"{path}: no rows (an empty or interrupted build?): run `shop-r1 data build` again")


def check_training_data(data_args: Any, *, with_eval: bool) -> None:
    """The build is complete (manifest present) and the split files the run reads hold valid rows."""
    require_manifest(Path(data_args.dataset_dir).expanduser())
    kind = "rl" if hasattr(data_args, "max_prompt_tokens") else (
        "sft_step" if getattr(data_args, "sft_format", "session") == "step" else "sft_session")
    files = [data_args.train_file()] + ([data_args.eval_file()] if with_eval else [])
    for path in files:
        _check_rows(Path(path), kind)


def preflight(model_args: Any, data_args: Any, *other_args: Any) -> None:
    """Every check above for a parsed run; the last of `other_args` is the TRL training config."""
    check_argument_types(model_args, data_args, *other_args)
    training_args = other_args[-1]
    check_training_data(data_args, with_eval=getattr(training_args, "eval_strategy", "no") != "no")
