"""A predict request's session -> the prompt, exactly as training and evaluation build it (`rl_prompt`).

A live session differs from a logged one only in its last step: the shopper may be looking at a page
they have not acted on yet. Requests use the native schema (`Session.from_dict`), except that the last
step may lack its action; that page is then the current one:

    {"session_id": "live-1", "persona": "Student on a budget",
     "steps": [{"url": "https://shop.example/", "html": "<body>...</body>",
                "action": {"type": "type_and_submit", "name": "search_input", "text": "wool socks"}},
               {"url": "https://shop.example/search?q=wool+socks", "html": "<body>...</body>"}]}

The prompt is then `rl_prompt` of the same session with any action on that last step (the current
step's action never appears in its own prompt). When every step has an action, the model is asked for
the step after the last one from the history alone: no current page (`next_action_prompt(..., None)`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shop_r1.data.jsonl import check_json_value
from shop_r1.prompts import Page, Prompt, PromptConfig, TokenCounter, next_action_prompt
from shop_r1.schema import SchemaError, Session, Step

__all__ = ["SessionSoFar", "parse_session_so_far", "predict_prompt"]

_PENDING_KEYS = frozenset({"url", "html", "meta", "action"})


@dataclass(frozen=True)
class SessionSoFar:
    """A session in progress: the steps taken (oldest first) and the page in front of the shopper, if any."""

    session_id: str
    history: tuple[Step, ...]
    page: Page | None
    user_id: str | None = None
    persona: str | dict[str, Any] | None = None


def _pending_page(raw: Mapping[str, Any], where: str) -> Page:
    """The last step when it has no action; its field paths are those of the request (`steps[3].html`)."""
    if raw.get("rationale") is not None:
        raise SchemaError(f"{where}.rationale", "must be absent on the step without an action "
                                                "(its rationale is what the model predicts)")
    present = {key for key, value in raw.items() if value is not None}
    unknown = sorted(present - _PENDING_KEYS)
    if unknown:
        raise SchemaError(f"{where}.{unknown[0]}", f"unknown field (allowed: {', '.join(sorted(_PENDING_KEYS))})")
    html, url, meta = raw.get("html"), raw.get("url"), raw.get("meta")
    if html is not None and not isinstance(html, str):
        raise SchemaError(f"{where}.html", f"must be a string, got {type(html).__name__}")
    if url is not None and not isinstance(url, str):
        raise SchemaError(f"{where}.url", f"must be a string, got {type(url).__name__}")
    if meta is not None and not isinstance(meta, Mapping):
        raise SchemaError(f"{where}.meta", f"must be a JSON object, got {type(meta).__name__}")
    return Page(html=html or "", url=url)


def parse_session_so_far(data: Any) -> SessionSoFar:
    """Validate a request's session; raises `SchemaError` naming the field (`steps[2].action.type: ...`)."""
    if not isinstance(data, Mapping):
        raise SchemaError("", f"a session must be a JSON object, got {type(data).__name__}")
    # The same rules as files (shop_r1.data.jsonl): the web framework's decoder accepts NaN and any depth.
    if (reason := check_json_value(data)) is not None:
        raise SchemaError("", reason)
    steps = data.get("steps")
    last = steps[-1] if isinstance(steps, list) and steps else None
    if not (isinstance(last, Mapping) and last.get("action") is None):
        session = Session.from_dict(data)
        return SessionSoFar(session.session_id, session.steps, None, session.user_id, session.persona)
    page = _pending_page(last, f"steps[{len(steps) - 1}]")
    # A Session needs at least one step, each with an action: a stand-in action on the pending step lets
    # Session.from_dict check the header and the history with its own field paths even when the history
    # is empty. Only the history goes on, so the stand-in can never reach a prompt.
    stand_in = {"url": page.url, "html": page.html, "action": {"type": "terminate"}}
    session = Session.from_dict({**data, "steps": [*steps[:-1], stand_in]})
    return SessionSoFar(session.session_id, session.steps[:-1], page, session.user_id, session.persona)


def predict_prompt(
    session: SessionSoFar, config: PromptConfig = PromptConfig(), count_tokens: TokenCounter | None = None
) -> Prompt:
    """The RL/evaluation prompt for the session's next action (see the module docstring)."""
    return next_action_prompt(session.history, session.page, persona=session.persona, config=config,
                              count_tokens=count_tokens)
