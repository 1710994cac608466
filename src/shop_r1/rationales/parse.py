"""Validate a teacher's reply: one JSON object holding exactly one non-empty rationale per requested step.

Instruction models often wrap JSON in a ```json fence or add a sentence before or after it; both are
accepted. Anything else (no JSON object, two objects, a wrong count, an empty or non-string rationale)
is an `InvalidReply` whose message says what was wrong, so the caller can retry and finally report it.

    >>> parse_session_reply('Sure!\\n```json\\n{"rationales": ["I search first.", "This one fits."]}\\n```', 2)
    ['I search first.', 'This one fits.']
    >>> parse_step_reply('{"rationale": "  I want the cheaper one. "}')
    'I want the cheaper one.'
    >>> parse_session_reply('{"rationales": ["I search first."]}', 2)
    Traceback (most recent call last):
    ...
    shop_r1.rationales.parse.InvalidReply: expected 2 rationales, got 1
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["InvalidReply", "extract_json_object", "parse_session_reply", "parse_step_reply"]

_DECODER = json.JSONDecoder()


class InvalidReply(ValueError):
    """The teacher answered, but not with what was asked for. The message is the reason, for the report."""


def extract_json_object(text: str) -> dict[str, Any]:
    """The one JSON object in `text`; prose and a code fence around it are ignored.

    Objects nested inside the top-level one do not count as a second object.
    """
    found: list[dict[str, Any]] = []
    position = text.find("{")
    while position != -1:
        try:
            value, end = _DECODER.raw_decode(text, position)
        except json.JSONDecodeError:
            # A brace in prose ("{like this}") is not the start of the reply's object: keep looking.
            position = text.find("{", position + 1)
            continue
        if isinstance(value, dict):
            found.append(value)
        position = text.find("{", end)
    if not found:
        raise InvalidReply("no JSON object in the reply")
    if len(found) > 1:
        raise InvalidReply(f"{len(found)} JSON objects in the reply, expected one")
    return found[0]


def _rationale(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise InvalidReply(f"{where} must be a string, got {type(value).__name__}")
    text = value.strip()
    if not text:
        raise InvalidReply(f"{where} is empty")
    return text


def parse_session_reply(text: str, n_steps: int) -> list[str]:
    """`{"rationales": [...]}` with exactly `n_steps` non-empty strings, stripped, in step order."""
    data = extract_json_object(text)
    if "rationales" not in data:
        raise InvalidReply(f"the JSON object has no 'rationales' key (keys: {', '.join(sorted(data)) or 'none'})")
    items = data["rationales"]
    if not isinstance(items, list):
        raise InvalidReply(f"'rationales' must be a list, got {type(items).__name__}")
    if len(items) != n_steps:
        raise InvalidReply(f"expected {n_steps} rationales, got {len(items)}")
    return [_rationale(item, f"rationale {number}") for number, item in enumerate(items, start=1)]


def parse_step_reply(text: str) -> str:
    """`{"rationale": "..."}` with a non-empty string, stripped."""
    data = extract_json_object(text)
    if "rationale" not in data:
        raise InvalidReply(f"the JSON object has no 'rationale' key (keys: {', '.join(sorted(data)) or 'none'})")
    return _rationale(data["rationale"], "the rationale")
