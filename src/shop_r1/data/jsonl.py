"""The one way shop-r1 reads JSON Lines: sessions, OPeRA rows, dataset rows and predictions alike.

Every line is held to the same rules, so a file that one command accepts is never one that a later
command chokes on:

- bytes must be UTF-8 (an invalid byte is reported with its offset in the file, not decoded into
  surrogates that crash whoever writes the text out again);
- a line may hold at most `MAX_LINE_BYTES` (read in bounded pieces: a huge line costs no memory);
- JSON must be standard: `NaN` and `Infinity` are not JSON and would poison every mean computed later;
- objects and arrays may nest at most `MAX_JSON_DEPTH` deep (the decoder would otherwise recurse until
  the interpreter gives up), and strings may not hold unpaired surrogates (`"\\ud800"`), which no UTF-8
  file can store.

Problems are values (`LineProblem`), so a caller can skip bad lines and report them all; `iter_json`
raises on the first one instead.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from shop_r1.errors import ShopR1Error
from shop_r1.limits import MAX_JSON_DEPTH, MAX_LINE_BYTES

__all__ = ["JsonlError", "LineProblem", "check_json_value", "decode_json", "iter_json", "iter_json_lines"]

logger = logging.getLogger(__name__)

_SURROGATE = re.compile("[\ud800-\udfff]")
_SKIP_CHUNK = 1 << 20


@dataclass(frozen=True)
class LineProblem:
    """Why one line of a JSONL file is unusable."""

    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


class JsonlError(ShopR1Error):
    """A line of a JSONL file is not acceptable JSON; the message names file, line and reason."""

    def __init__(self, problem: LineProblem) -> None:
        self.problem = problem
        super().__init__(str(problem))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number (write null, or a finite number)")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def check_json_value(value: Any, max_depth: int = MAX_JSON_DEPTH) -> str | None:
    """Why a decoded value breaks the rules above (too deep, NaN or infinite number, unpaired surrogate),
    or None when it is fine. Iterative, so it is safe on any value a decoder could build; it checks values
    decoded elsewhere too (a request body decoded by the web framework, a Parquet cell).
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return "a string holds an unpaired UTF-16 surrogate (\\ud800-\\udfff), which UTF-8 cannot store"
        elif isinstance(item, float) and not math.isfinite(item):
            return f"{item} is not a JSON number (write null, or a finite number)"
        elif isinstance(item, dict | list):
            if depth >= max_depth:
                return f"nested deeper than {max_depth} levels of objects/arrays"
            if isinstance(item, dict):
                stack.extend((key, depth) for key in item)
                stack.extend((child, depth + 1) for child in item.values())
            else:
                stack.extend((child, depth + 1) for child in item)
    return None


def decode_json(text: str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Decode one JSON document under the rules above; `ValueError` with a short reason otherwise."""
    try:
        value = _DECODER.decode(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"not valid JSON ({err.msg} at column {err.colno})") from None
    except RecursionError:
        raise ValueError(f"not accepted: nested deeper than {max_depth} levels of objects/arrays") from None
    except ValueError as err:  # NaN / Infinity
        raise ValueError(f"not accepted: {err}") from None
    reason = check_json_value(value, max_depth)
    if reason is not None:
        raise ValueError(f"not accepted: {reason}")
    return value


def _skip_rest_of_line(handle: Any) -> int:
    """Read (and drop) up to and including the next newline; returns the bytes consumed."""
    consumed = 0
    while True:
        piece = handle.readline(_SKIP_CHUNK)
        consumed += len(piece)
        if not piece or piece.endswith(b"\n"):
            return consumed


def iter_json_lines(
    path: str | os.PathLike[str],
    *,
    max_line_bytes: int = MAX_LINE_BYTES,
    max_depth: int = MAX_JSON_DEPTH,
    allow_partial_tail: bool = False,
) -> Iterator[tuple[int, Any]]:
    """`(line number, decoded value or LineProblem)` for every non-blank line, in file order.

    With `allow_partial_tail`, a last line that is not valid and lacks its newline (a run still
    writing, or one that was killed) is skipped with a warning instead of reported.
    """
    where = os.fspath(path)
    offset = 0
    with open(path, "rb") as handle:
        number = 0
        while True:
            raw = handle.readline(max_line_bytes + 2)
            if not raw:
                return
            number += 1
            start, complete = offset, raw.endswith(b"\n")
            offset += len(raw)
            body = raw.rstrip(b"\r\n")
            if len(body) > max_line_bytes:
                if not complete:
                    offset += _skip_rest_of_line(handle)
                yield number, LineProblem(where, number, f"line longer than {max_line_bytes} bytes (the limit of "
                                                         "one record; see docs/limits.md)")
                continue
            if number == 1 and body.startswith(b"\xef\xbb\xbf"):  # a byte-order mark some editors add
                body, start = body[3:], start + 3
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError as err:
                bad = body[err.start]
                yield number, LineProblem(where, number, f"invalid UTF-8 at byte offset {start + err.start} "
                                                         f"(byte 0x{bad:02x}, column {err.start + 1})")
                continue
            if not text.strip():
                continue
            try:
                value = decode_json(text, max_depth)
            except ValueError as err:
                if allow_partial_tail and not complete:  # no newline: necessarily the last line
                    logger.warning("%s:%d: ignoring a half-written last line", where, number)
                    return
                yield number, LineProblem(where, number, str(err))
                continue
            yield number, value


def iter_json(path: str | os.PathLike[str], *, allow_partial_tail: bool = False) -> Iterator[tuple[int, Any]]:
    """Like `iter_json_lines`, but the first problem raises `JsonlError`."""
    for number, value in iter_json_lines(path, allow_partial_tail=allow_partial_tail):
        if isinstance(value, LineProblem):
            raise JsonlError(value)
        yield number, value
