"""RL test rows -> `predictions.jsonl`: generate each step's next action once, resumably.

Input: the `rl_{split}.jsonl` rows of `shop-r1 data build` (chat `prompt`, `gold_action`,
`gold_rationale`, `gold_reason`, `session_id`, `step_index`). Output: one row per step (see
`shop_r1.evaluation.records`), appended batch by batch.

Resuming: rerunning the same command skips every step already in the output file. The file is repaired
first (a half-written last line from a crash is dropped), then checked: its rows must come from the same
prompts (`prompt_sha256`) and the same generation settings, otherwise mixing them would make the metrics
meaningless and `predict` refuses with a message. The final file holds each (session_id, step_index)
exactly once, in generation order, not dataset order (the metrics do not care).

Batches are formed from prompts sorted by length, longest first: rows of similar length waste less
compute on padding, and a batch too large for memory fails in the first minute, not the last.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shop_r1.data.build import RL_ROW_COLUMNS
from shop_r1.errors import ShopR1Error
from shop_r1.evaluation.generation import Generator
from shop_r1.evaluation.predictions_io import AppendWriter, iter_jsonl, repair_tail
from shop_r1.evaluation.records import StepKey, check_dataset_row, prediction_row, prompt_sha256, step_key

__all__ = ["PredictSummary", "load_rl_rows", "pending_rows", "predict"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PredictSummary:
    """What one `predict` call did."""

    total: int
    already_done: int
    written: int
    parse_failures: int
    seconds: float
    repair: str | None = None

    @property
    def examples_per_second(self) -> float:
        return self.written / self.seconds if self.seconds > 0 else 0.0


def load_rl_rows(path: str | os.PathLike[str], limit: int | None = None) -> list[dict[str, Any]]:
    """The rows of an RL dataset file (JSONL), checked for the fields predict needs and for repeated steps."""
    rows: list[dict[str, Any]] = []
    seen: set[StepKey] = set()
    for number, row in iter_jsonl(path):
        where = f"{path}:{number}"
        if not isinstance(row, dict):
            raise ShopR1Error(f"{where}: expected a JSON object")
        missing = [field for field in RL_ROW_COLUMNS if field not in row]
        if missing:
            raise ShopR1Error(f"{where}: missing {', '.join(missing)}; expected an rl_*.jsonl file of `data build`")
        key = check_dataset_row(row, where)
        if key in seen:
            raise ShopR1Error(f"{where}: step {key} appears twice in the dataset")
        seen.add(key)
        rows.append(row)
        if limit is not None and len(rows) >= limit:
            break
    if not rows:
        raise ShopR1Error(f"{path}: no rows")
    return rows


def _existing(path: Path) -> dict[StepKey, tuple[str | None, Any]]:
    """`key -> (prompt hash, generation settings)` of the rows already in the output file."""
    done: dict[StepKey, tuple[str | None, Any]] = {}
    if not path.is_file():
        return done
    for number, row in iter_jsonl(path):
        where = f"{path}:{number}"
        if not isinstance(row, dict):
            raise ShopR1Error(f"{where}: not a predictions row")
        key = step_key(row, where)
        if key in done:
            raise ShopR1Error(f"{where}: step {key} is already on an earlier line (not a file written by predict)")
        done[key] = (row.get("prompt_sha256"), row.get("generation"))
    return done


def pending_rows(
    rows: Sequence[Mapping[str, Any]], out_path: Path, generation: Mapping[str, Any]
) -> tuple[list[Mapping[str, Any]], int]:
    """The rows still to predict and how many are already in `out_path`; refuses an incompatible file."""
    done = _existing(out_path)
    if not done:
        return list(rows), 0
    by_key = {step_key(row): row for row in rows}
    foreign = [key for key in done if key not in by_key]
    if foreign:
        raise ShopR1Error(
            f"{out_path} holds {len(foreign)} step(s) that are not in the dataset (e.g. {foreign[0]}); "
            "it belongs to another dataset: choose another --out"
        )
    for key, (digest, settings) in done.items():
        if digest != prompt_sha256(by_key[key]["prompt"]):
            raise ShopR1Error(f"{out_path}: the prompt of step {key} differs from the dataset's; the dataset was "
                              "rebuilt since this file was written: choose another --out")
        if settings != dict(generation):
            raise ShopR1Error(f"{out_path} was written with generation settings {settings}, this run uses "
                              f"{dict(generation)}; rerun with the same settings or choose another --out")
    return [row for key, row in by_key.items() if key not in done], len(done)


def _prompt_chars(row: Mapping[str, Any]) -> int:
    # Characters, not tokens: a cheap proxy that orders prompts well enough to reduce padding.
    return sum(len(message.get("content", "")) for message in row["prompt"])


def predict(
    rows: Sequence[Mapping[str, Any]],
    generator: Generator,
    out_path: str | os.PathLike[str],
    *,
    generation: Mapping[str, Any],
    batch_size: int = 8,
    on_start: Callable[[int, int], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> PredictSummary:
    """Generate a completion for every row not yet in `out_path` and append the prediction rows.

    Args:
        rows: RL dataset rows (see `load_rl_rows`).
        generator (`Generator`): the batched generation backend.
        out_path: the predictions file; created, or resumed when it exists.
        generation (`Mapping`): the settings recorded in every row (model, backend, sampling); a resumed
            file must have been written with equal settings.
        batch_size (`int`, *optional*, defaults to 8): prompts per `generate` call.
        on_start (`Callable[[int, int], None]`, *optional*): called with (steps to generate, steps already done).
        on_batch (`Callable[[int], None]`, *optional*): called with the number of rows after each written batch.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    out = Path(out_path)
    repair = repair_tail(out)
    if repair:
        logger.warning("%s: %s", out, repair)
    todo, already = pending_rows(rows, out, generation)
    todo.sort(key=_prompt_chars, reverse=True)
    if on_start is not None:
        on_start(len(todo), already)
    written = failures = 0
    start = time.perf_counter()
    with AppendWriter(out) as writer:
        for begin in range(0, len(todo), batch_size):
            batch = todo[begin:begin + batch_size]
            results = generator.generate([row["prompt"] for row in batch], [step_key(row) for row in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"generator returned {len(results)} completions for {len(batch)} prompts")
            records = [
                prediction_row(row, result.text, finish_reason=result.finish_reason,
                               completion_tokens=result.tokens, generation=generation)
                for row, result in zip(batch, results, strict=True)
            ]
            writer.write(records)
            written += len(records)
            failures += sum(record["parsed"] is None for record in records)
            if on_batch is not None:
                on_batch(len(records))
    return PredictSummary(
        total=len(rows), already_done=already, written=written, parse_failures=failures,
        seconds=time.perf_counter() - start, repair=repair,
    )
