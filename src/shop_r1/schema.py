"""The session data model: what a shopper saw, did and why (Shop-R1 paper, section 2).

A `Session` is an ordered list of `Step`s; each step holds the page the shopper observed (simplified
HTML, possibly empty for history-only logs), the `Action` taken on it and an optional first-person
rationale. The on-disk layout is flat and stable because outside tools read and write it:

    {"session_id": "s1", "user_id": "u1", "persona": null,
     "steps": [{"url": "https://shop.example/", "html": "<body>...</body>",
                "action": {"type": "click", "name": "search_results.item_2"},
                "rationale": "The second one fits my budget.", "meta": {}}]}

Plain frozen dataclasses and the standard library only: every other module imports this one.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Action", "ActionType", "SchemaError", "Session", "Step", "action_dict"]


class ActionType(enum.StrEnum):
    CLICK = "click"
    TYPE_AND_SUBMIT = "type_and_submit"
    TERMINATE = "terminate"


ACTION_TYPES: tuple[str, ...] = tuple(t.value for t in ActionType)


class SchemaError(ValueError):
    """A record does not follow the schema. `field` is a dotted path such as `steps[3].action.name`."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}" if field else reason)

    def nested(self, prefix: str) -> SchemaError:
        """The same error seen from a containing record (`prefix` + this error's field)."""
        joined = f"{prefix}.{self.field}" if self.field and not self.field.startswith("[") else prefix + self.field
        return SchemaError(joined, self.reason)


def _check_keys(data: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise SchemaError(
            f"{where}.{unknown[0]}" if where else unknown[0],
            f"unknown field (allowed: {', '.join(sorted(allowed))})",
        )


def _optional_str(data: Mapping[str, Any], key: str, where: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise SchemaError(f"{where}.{key}" if where else key, f"must be a string, got {type(value).__name__}")
    return value


def _check_id(value: str | None, key: str) -> None:
    # Ids become file names, log keys and dictionary keys in other tools; a control character (NUL above
    # all) in one truncates or corrupts them there, so it is refused at the door.
    if value is not None and any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        raise SchemaError(key, "must not contain control characters (NUL, newline, ...)")


def action_dict(kind: ActionType, name: str | None, text: str | None) -> dict[str, str]:
    """An action's JSON object: `type`, then `name` and `text` when present (absent keys are left out)."""
    out = {"type": kind.value}
    if name is not None:
        out["name"] = name
    if text is not None:
        out["text"] = text
    return out


@dataclass(frozen=True, slots=True)
class Action:
    """One web action. `name` is the element's `name` attribute in the simplified HTML.

    >>> Action("click", name="search_results.item_2").to_dict()
    {'type': 'click', 'name': 'search_results.item_2'}
    >>> Action("terminate", name="x")
    Traceback (most recent call last):
    ...
    shop_r1.schema.SchemaError: name: must be absent for terminate
    """

    type: ActionType
    name: str | None = None
    text: str | None = None

    def __post_init__(self) -> None:
        try:
            kind = ActionType(self.type)
        except ValueError:
            raise SchemaError("type", f"must be one of {', '.join(ACTION_TYPES)}, got {self.type!r}") from None
        object.__setattr__(self, "type", kind)
        for key in ("name", "text"):
            value = getattr(self, key)
            if value is not None and not isinstance(value, str):
                raise SchemaError(key, f"must be a string, got {type(value).__name__}")
        if kind is ActionType.TERMINATE:
            for key in ("name", "text"):
                if getattr(self, key) is not None:
                    raise SchemaError(key, "must be absent for terminate")
            return
        if not self.name:
            raise SchemaError("name", f"required and non-empty for {kind.value}")
        if kind is ActionType.CLICK and self.text is not None:
            raise SchemaError("text", "must be absent for click")
        if kind is ActionType.TYPE_AND_SUBMIT and not self.text:
            raise SchemaError("text", "required and non-empty for type_and_submit")

    @classmethod
    def from_dict(cls, data: Any) -> Action:
        """Validate a JSON object. A `null` value counts as an absent field."""
        if isinstance(data, Action):
            return data
        if not isinstance(data, Mapping):
            raise SchemaError("", f"an action must be a JSON object, got {type(data).__name__}")
        present = {k: v for k, v in data.items() if v is not None}
        _check_keys(present, frozenset({"type", "name", "text"}), "")
        if "type" not in present:
            raise SchemaError("type", "required")
        return cls(present["type"], name=present.get("name"), text=present.get("text"))

    def to_dict(self) -> dict[str, str]:
        return action_dict(self.type, self.name, self.text)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class Step:
    """The page observed before an action, the action, and (when known) why it was taken."""

    action: Action
    html: str = ""
    url: str | None = None
    rationale: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    _KEYS = frozenset({"url", "html", "action", "rationale", "meta"})

    @classmethod
    def from_dict(cls, data: Any) -> Step:
        if not isinstance(data, Mapping):
            raise SchemaError("", f"a step must be a JSON object, got {type(data).__name__}")
        _check_keys(data, cls._KEYS, "")
        if data.get("action") is None:
            raise SchemaError("action", "required")
        try:
            action = Action.from_dict(data["action"])
        except SchemaError as err:
            raise err.nested("action") from None
        html = data.get("html")
        if html is None:
            html = ""
        elif not isinstance(html, str):
            raise SchemaError("html", f"must be a string, got {type(html).__name__}")
        meta = data.get("meta")
        if meta is None:
            meta = {}
        elif not isinstance(meta, Mapping):
            raise SchemaError("meta", f"must be a JSON object, got {type(meta).__name__}")
        return cls(
            action=action,
            html=html,
            url=_optional_str(data, "url", ""),
            rationale=_optional_str(data, "rationale", ""),
            meta=dict(meta),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "html": self.html,
            "action": self.action.to_dict(),
            "rationale": self.rationale,
            "meta": self.meta,
        }


@dataclass(frozen=True, slots=True)
class Session:
    """One shopper's visit: the ordered steps, who made them and (optionally) their persona."""

    session_id: str
    steps: tuple[Step, ...]
    user_id: str | None = None
    persona: str | dict[str, Any] | None = None

    _KEYS = frozenset({"session_id", "user_id", "persona", "steps"})

    def __post_init__(self) -> None:
        if not isinstance(self.session_id, str) or not self.session_id:
            raise SchemaError("session_id", "required and must be a non-empty string")
        object.__setattr__(self, "steps", tuple(self.steps))
        if not self.steps:
            raise SchemaError("steps", "must hold at least one step")

    @classmethod
    def from_dict(cls, data: Any) -> Session:
        if not isinstance(data, Mapping):
            raise SchemaError("", f"a session must be a JSON object, got {type(data).__name__}")
        _check_keys(data, cls._KEYS, "")
        session_id = data.get("session_id")
        if not isinstance(session_id, str) or not session_id:
            raise SchemaError("session_id", "required and must be a non-empty string")
        persona = data.get("persona")
        if persona is not None and not isinstance(persona, str | Mapping):
            raise SchemaError("persona", f"must be a string or a JSON object, got {type(persona).__name__}")
        raw_steps = data.get("steps")
        if not isinstance(raw_steps, list):
            raise SchemaError("steps", "required and must be a list")
        _check_id(session_id, "session_id")
        user_id = _optional_str(data, "user_id", "")
        _check_id(user_id, "user_id")
        steps = []
        for index, raw in enumerate(raw_steps):
            try:
                steps.append(Step.from_dict(raw))
            except SchemaError as err:
                raise err.nested(f"steps[{index}]") from None
        # terminate ends the visit: a step after it is a logging error, and training on it would teach
        # the model that shoppers act after leaving.
        for index, step in enumerate(steps[:-1]):
            if step.action.type is ActionType.TERMINATE:
                raise SchemaError(f"steps[{index}].action.type",
                                  f"terminate must be the last step, but {len(steps) - 1 - index} step(s) follow")
        return cls(
            session_id=session_id,
            steps=tuple(steps),
            user_id=user_id,
            persona=dict(persona) if isinstance(persona, Mapping) else persona,
        )

    @classmethod
    def from_json(cls, line: str) -> Session:
        return cls.from_dict(json.loads(line))

    def to_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "user_id": self.user_id,
            "persona": self.persona,
            "steps": [step.to_dict() for step in self.steps],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)

    @property
    def actions(self) -> list[Action]:
        return [step.action for step in self.steps]
