"""Model output -> `ParsedOutput`: the one parser shared by the rewards and the evaluation.

Shop-R1 (arXiv 2507.17842, section 3) pays its format reward when a completion is exactly one JSON
object with a string `rationale` and an object `action` whose `type` is one of the three action
types; every other reward depends on it. Evaluation must read predictions the same way, so both
import `parse_completion` from here. A valid completion looks like:

    {"rationale": "I want to see what other buyers say first.",
     "action": {"type": "click", "name": "refinements.customer_reviews"}}

How strict it is (the format reward exists to teach this exact format):
- The whole text must be one JSON object; whitespace around it is allowed, anything else (prose, a
  second object, a code fence) makes it invalid. `ParseConfig(allow_code_fence=True)` also accepts
  the object wrapped in one ```json fence (off by default).
- The top level holds exactly the keys `rationale` and `action`; repeated keys anywhere are invalid
  (which value would count is ambiguous).
- `rationale` is a JSON string (empty allowed: it is a string, and it earns no self-certainty).
- `action` holds `type` plus only the keys its type's action space has: `name` for click,
  `name` and `text` for type_and_submit, nothing else for terminate. A `null` value counts as absent.
- `name` / `text` must be strings when present; numbers, lists or objects there are invalid. Unlike
  the gold `schema.Action`, they may be missing or empty: such an output is well formed but earns no
  attribute reward, which is the reward table's job, not the parser's.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from shop_r1.schema import Action, ActionType, action_dict

__all__ = ["ParseConfig", "ParsedOutput", "PredictedAction", "parse_completion"]

# Keys each action type may carry besides `type` (the action space of the paper, section 1).
_ACTION_KEYS: dict[ActionType, frozenset[str]] = {
    ActionType.CLICK: frozenset({"type", "name"}),
    ActionType.TYPE_AND_SUBMIT: frozenset({"type", "name", "text"}),
    ActionType.TERMINATE: frozenset({"type"}),
}
_TYPES: dict[str, ActionType] = {t.value: t for t in ActionType}
_TOP_KEYS = frozenset({"rationale", "action"})
# One fenced block and nothing else: ```json (or a bare ```), a newline, the body, the closing fence.
_FENCE = re.compile(r"\A\s*```(?:json)?[ \t]*\r?\n(?P<body>.*?)\r?\n?[ \t]*```\s*\Z", re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ParseConfig:
    """How lenient `parse_completion` is.

    Args:
        allow_code_fence (`bool`, *optional*, defaults to `False`):
            Also accept the JSON object wrapped in a single Markdown code fence (```json ... ```).
    """

    allow_code_fence: bool = False


@dataclass(frozen=True, slots=True)
class PredictedAction:
    """A model's action: the gold `Action` schema, except that `name` and `text` may be missing or empty.

    >>> PredictedAction(ActionType.CLICK, name="").to_dict()
    {'type': 'click', 'name': ''}
    """

    type: ActionType
    name: str | None = None
    text: str | None = None

    def to_dict(self) -> dict[str, str]:
        return action_dict(self.type, self.name, self.text)

    def to_action(self) -> Action | None:
        """The same action as a gold-schema `Action`, or `None` when a required field is missing or empty."""
        if self.type is not ActionType.TERMINATE and not self.name:
            return None
        if self.type is ActionType.TYPE_AND_SUBMIT and not self.text:
            return None
        return Action(self.type, name=self.name, text=self.text)


@dataclass(frozen=True, slots=True)
class ParsedOutput:
    """A well-formed completion: the rationale string and the predicted action."""

    rationale: str
    action: PredictedAction

    def to_dict(self) -> dict[str, Any]:
        return {"rationale": self.rationale, "action": self.action.to_dict()}


class _DuplicateKey(ValueError):
    pass


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # object_pairs_hook sees every key, so a repeated key is caught instead of silently last-wins.
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _DuplicateKey
    return obj


# One decoder for every call: json.loads(..., object_pairs_hook=...) would build a new JSONDecoder each time.
_DECODER = json.JSONDecoder(object_pairs_hook=_unique_pairs)


def _load_object(text: str) -> dict[str, Any] | None:
    """`text` (already stripped) as exactly one JSON object, or `None`."""
    if not text.startswith("{"):
        return None
    try:
        value, end = _DECODER.raw_decode(text)
    except (ValueError, RecursionError):  # JSONDecodeError and duplicates are ValueErrors; deep nesting recurses
        return None
    return value if end == len(text) else None  # anything after the object (prose, a second object) is invalid


def _action(raw: Any) -> PredictedAction | None:
    if not isinstance(raw, dict):
        return None
    kind = _TYPES.get(raw.get("type")) if isinstance(raw.get("type"), str) else None
    if kind is None:
        return None
    present = {key for key, value in raw.items() if value is not None}
    if not present <= _ACTION_KEYS[kind]:
        return None
    name, text = raw.get("name"), raw.get("text")
    if (name is not None and not isinstance(name, str)) or (text is not None and not isinstance(text, str)):
        return None
    return PredictedAction(kind, name=name, text=text)


def parse_completion(text: Any, config: ParseConfig | None = None) -> ParsedOutput | None:
    """Parse one model completion; `None` when it is not exactly one well-formed output. Never raises.

    Args:
        text (`str`):
            The completion text. Anything that is not a `str` is invalid.
        config (`ParseConfig`, *optional*):
            Leniency switches; defaults to the strict `ParseConfig()`.

    >>> parse_completion('{"rationale": "Done.", "action": {"type": "terminate"}}').to_dict()
    {'rationale': 'Done.', 'action': {'type': 'terminate'}}
    >>> parse_completion('Sure! {"rationale": "Done.", "action": {"type": "terminate"}}') is None
    True
    """
    if not isinstance(text, str):
        return None
    body = text.strip()
    if config is not None and config.allow_code_fence and body.startswith("```"):
        fenced = _FENCE.match(body)
        if fenced is None:
            return None
        body = fenced.group("body")
    obj = _load_object(body)
    if obj is None or obj.keys() != _TOP_KEYS:
        return None
    rationale = obj["rationale"]
    if not isinstance(rationale, str):
        return None
    action = _action(obj["action"])
    if action is None:
        return None
    return ParsedOutput(rationale=rationale, action=action)
