"""The rows of `predictions.jsonl`: how `predict` writes one and how `evaluate` reads one back.

Predict once, score many times: a row holds everything the metrics need (the raw completion, the gold
action, rationale and reason), so scoring never re-runs the model. The stored `parsed` and
`parse_error` fields are for people reading the file; the metrics re-parse `completion` with the one
shared parser (`shop_r1.parsing.parse_completion`), so a file is always scored by the current parser.

    {"session_id": "u0001-s01", "step_index": 8, "user_id": "u0001",
     "prompt_sha256": "5f1c...", "completion": "{\"rationale\": \"...\", \"action\": {...}}",
     "parsed": {"rationale": "...", "action": {"type": "click", "name": "search_results.item_2"}},
     "parse_error": null, "finish_reason": "stop", "completion_tokens": 41,
     "gold_action": {"type": "click", "name": "search_results.item_2", "text": null},
     "gold_rationale": "Let me see if ...", "gold_reason": "compare_price",
     "generation": {"model": "embedded:smollm2-135m", "backend": "hf", "temperature": 0.6, ...}}
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shop_r1.errors import ShopR1Error
from shop_r1.parsing import parse_completion
from shop_r1.rewards import coerce_gold
from shop_r1.schema import Action, SchemaError

__all__ = [
    "PredictionRecord",
    "StepKey",
    "check_dataset_row",
    "check_prompt",
    "parse_failure_reason",
    "prediction_row",
    "prompt_sha256",
    "record_from_row",
    "step_key",
]

# (session_id, step_index): a step's identity in a dataset and in a predictions file.
StepKey = tuple[str, int]


def step_key(row: Mapping[str, Any], where: str = "row") -> StepKey:
    """The `(session_id, step_index)` of a dataset or predictions row; `ShopR1Error` when either is missing."""
    session_id, step_index = row.get("session_id"), row.get("step_index")
    if not isinstance(session_id, str) or not session_id:
        raise ShopR1Error(f"{where}: `session_id` must be a non-empty string, got {session_id!r}")
    if isinstance(step_index, bool) or not isinstance(step_index, int) or step_index < 0:
        raise ShopR1Error(f"{where}: `step_index` must be an integer >= 0, got {step_index!r}")
    return session_id, step_index


def check_prompt(prompt: Any, where: str) -> None:
    """A dataset row's `prompt`: a non-empty list of chat messages with string `role` and `content`."""
    if not isinstance(prompt, list) or not prompt:
        raise ShopR1Error(f"{where}: `prompt` must be a non-empty list of chat messages "
                          f"({{\"role\": ..., \"content\": ...}}), got {type(prompt).__name__}")
    for index, message in enumerate(prompt):
        if not isinstance(message, Mapping) or not isinstance(message.get("role"), str) \
                or not isinstance(message.get("content"), str):
            raise ShopR1Error(f"{where}: `prompt[{index}]` must be a message with string `role` and `content`")


def check_dataset_row(row: Any, where: str) -> StepKey:
    """Validate one `rl_*.jsonl` row the way every later command relies on; returns its step key.

    The gold action goes through the same check as `evaluate`'s, so a row that `evaluate` would reject
    (an action type outside the action space, a click without a name) is refused before any generation.
    """
    if not isinstance(row, Mapping):
        raise ShopR1Error(f"{where}: expected a JSON object, got {type(row).__name__}")
    key = step_key(row, where)
    check_prompt(row.get("prompt"), where)
    try:
        coerce_gold(row.get("gold_action"))
    except SchemaError as err:
        raise ShopR1Error(f"{where}: {err}") from None
    for name in ("gold_rationale", "gold_reason", "user_id"):
        _optional_str(row, name, where)
    return key


def prompt_sha256(messages: Sequence[Mapping[str, str]]) -> str:
    """A stable hash of the chat prompt, so a resumed run can tell that the dataset changed under it."""
    canonical = json.dumps(list(messages), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def parse_failure_reason(text: str) -> str:
    """Why `parse_completion` rejected `text`, in a few words: `category` or `category: detail`.

    Diagnostic only: whether an output is valid is decided by `parse_completion` alone; this is called
    after it has said no, to tell a reader what went wrong.

    >>> parse_failure_reason('{"rationale": "I want it", "action": {"type": "cli')
    'invalid JSON: Unterminated string starting at (char 46)'
    >>> parse_failure_reason('Sure! {"rationale": "x", "action": {"type": "terminate"}}')
    'no JSON object at the start'
    """
    body = text.strip()
    if not body:
        return "empty output"
    if body.startswith("```"):
        return "wrapped in a code fence"
    if not body.startswith("{"):
        return "no JSON object at the start"
    try:
        value, end = json.JSONDecoder().raw_decode(body)
    except json.JSONDecodeError as err:
        return f"invalid JSON: {err.msg} (char {err.pos})"
    except RecursionError:
        return "invalid JSON: nested too deeply"
    if end != len(body):
        return "text after the JSON object"
    if set(value) != {"rationale", "action"}:
        return "wrong top-level keys: " + ", ".join(sorted(map(str, value))) if value else "wrong top-level keys"
    if not isinstance(value["rationale"], str):
        return "rationale is not a string"
    return "invalid action (unknown type, extra keys or non-string fields) or a repeated key"


def prediction_row(
    dataset_row: Mapping[str, Any],
    completion: str,
    *,
    finish_reason: str | None,
    completion_tokens: int | None,
    generation: Mapping[str, Any],
) -> dict[str, Any]:
    """The predictions-file row for one dataset step and the model's raw completion."""
    session_id, step_index = step_key(dataset_row)
    parsed = parse_completion(completion)
    return {
        "session_id": session_id,
        "step_index": step_index,
        "user_id": dataset_row.get("user_id"),
        "prompt_sha256": prompt_sha256(dataset_row["prompt"]),
        "completion": completion,
        "parsed": parsed.to_dict() if parsed is not None else None,
        "parse_error": None if parsed is not None else parse_failure_reason(completion),
        "finish_reason": finish_reason,
        "completion_tokens": completion_tokens,
        "gold_action": dataset_row["gold_action"],
        "gold_rationale": dataset_row.get("gold_rationale"),
        "gold_reason": dataset_row.get("gold_reason"),
        "generation": dict(generation),
    }


@dataclass(frozen=True, slots=True)
class PredictionRecord:
    """What the metrics read from one predictions row."""

    session_id: str
    step_index: int
    completion: str
    gold_action: Action
    gold_rationale: str | None = None
    gold_reason: str | None = None
    finish_reason: str | None = None  # "stop", or "length" when the output hit max_new_tokens

    @property
    def key(self) -> StepKey:
        return self.session_id, self.step_index


def _optional_str(row: Mapping[str, Any], key: str, where: str) -> str | None:
    value = row.get(key)
    if value is not None and not isinstance(value, str):
        raise ShopR1Error(f"{where}: `{key}` must be a string or null, got {type(value).__name__}")
    return value or None  # an empty gold rationale is no rationale: there is nothing to compare against


def record_from_row(row: Any, where: str) -> PredictionRecord:
    """Validate one decoded predictions row; `ShopR1Error` naming `where` (file:line) when it is malformed."""
    if not isinstance(row, Mapping):
        raise ShopR1Error(f"{where}: a predictions row must be a JSON object, got {type(row).__name__}")
    session_id, step_index = step_key(row, where)
    completion = row.get("completion")
    tokens = row.get("completion_tokens")
    if tokens is not None and (isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0):
        raise ShopR1Error(f"{where}: `completion_tokens` must be an integer >= 0 or null, got {tokens!r}")
    if not isinstance(completion, str):
        # A missing completion is a broken file, not a wrong prediction: refuse rather than score it as invalid.
        raise ShopR1Error(f"{where}: `completion` must be a string, got {type(completion).__name__}")
    try:
        gold = coerce_gold(row.get("gold_action"))
    except SchemaError as err:
        raise ShopR1Error(f"{where}: {err}") from None
    return PredictionRecord(
        session_id=session_id,
        step_index=step_index,
        completion=completion,
        gold_action=gold,
        gold_rationale=_optional_str(row, "gold_rationale", where),
        gold_reason=_optional_str(row, "gold_reason", where),
        finish_reason=_optional_str(row, "finish_reason", where),
    )
