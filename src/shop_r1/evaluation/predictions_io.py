"""Append-only JSONL for predictions: crash-safe appends, tail repair, and reading a file back.

`predict` may be killed at any moment (Ctrl-C, out of memory, a pre-empted machine). It only ever
appends whole batches, each flushed and fsynced, so after a crash the file holds complete rows plus, at
worst, one half-written last line. `repair_tail` removes that fragment (or, when it is a complete row
that only lacks its newline, adds the newline) before a rerun appends, so the rerun neither loses nor
duplicates a step.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from shop_r1.data.jsonl import decode_json, iter_json
from shop_r1.errors import ShopR1Error
from shop_r1.evaluation.records import PredictionRecord, StepKey, record_from_row

__all__ = ["AppendWriter", "iter_jsonl", "load_predictions", "repair_tail"]


_CHUNK = 1 << 16


def _last_newline(handle: IO[bytes], size: int) -> int:
    """Offset of the file's last b"\\n", or -1; reads backwards so a long file is not read whole."""
    end = size
    while end > 0:
        start = max(0, end - _CHUNK)
        handle.seek(start)
        found = handle.read(end - start).rfind(b"\n")
        if found >= 0:
            return start + found
        end = start
    return -1


def _is_json_object(data: bytes) -> bool:
    try:
        return isinstance(decode_json(data.decode("utf-8")), dict)
    except ValueError:  # not UTF-8, not JSON, or too deep: a fragment
        return False


def repair_tail(path: str | os.PathLike[str]) -> str | None:
    """Make `path` end in a complete line. Returns what was done (`None`: nothing to do).

    A last line without its newline is either a fragment left by a crash (dropped: that step is simply
    predicted again) or a complete row written by a tool that omits the final newline (kept, newline added).
    """
    target = Path(path)
    if not target.is_file():
        return None
    with open(target, "r+b") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return None
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return None
        cut = _last_newline(handle, size) + 1
        handle.seek(cut)
        tail = handle.read()
        if _is_json_object(tail):
            handle.seek(size)
            handle.write(b"\n")
            return "added the missing newline after the last row"
        handle.truncate(cut)
        return f"dropped a half-written last line ({len(tail)} bytes) left by an interrupted run"


def iter_jsonl(path: str | os.PathLike[str], *, allow_partial_tail: bool = False) -> Iterator[tuple[int, Any]]:
    """Decoded `(line number, value)` pairs of a JSONL file, blank lines skipped.

    A line that is not JSON raises `ShopR1Error` naming file and line, except, with `allow_partial_tail`,
    a last line without a newline (a run still writing, or one that crashed): it is skipped with a warning.
    """
    # The shared reader (shop_r1.data.jsonl): same UTF-8, size, depth and NaN rules as every other input.
    yield from iter_json(path, allow_partial_tail=allow_partial_tail)


def load_predictions(path: str | os.PathLike[str]) -> list[PredictionRecord]:
    """Every row of a predictions file; `ShopR1Error` on a malformed row or a step present twice."""
    records: list[PredictionRecord] = []
    seen: dict[StepKey, int] = {}
    for number, row in iter_jsonl(path, allow_partial_tail=True):
        record = record_from_row(row, f"{path}:{number}")
        if record.key in seen:
            raise ShopR1Error(
                f"{path}:{number}: step {record.key} already appears on line {seen[record.key]}; a predictions "
                "file holds each (session_id, step_index) once (were two runs concatenated?)"
            )
        seen[record.key] = number
        records.append(record)
    if not records:
        raise ShopR1Error(f"{path}: no predictions")
    return records


class AppendWriter:
    """Appends batches of rows to a JSONL file; each batch is flushed and fsynced before `write` returns."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle: IO[str] | None = None

    def __enter__(self) -> AppendWriter:
        self._handle = open(self.path, "a", encoding="utf-8")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def write(self, rows: Iterable[Mapping[str, Any]]) -> None:
        if self._handle is None:
            raise RuntimeError("AppendWriter.write outside its `with` block")
        # One write call per batch: a crash inside it leaves at most one partial line, which repair_tail drops.
        text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        self._handle.write(text)
        self._handle.flush()
        os.fsync(self._handle.fileno())
