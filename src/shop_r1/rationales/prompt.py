"""The teacher prompt that asks an instruction model to write the shopper's rationale for each step.

Paper, section 2: rationales for every step were synthesized by a teacher LLM "given the context and the
action", one call per session. This module is our own wording of that request. It is pure (no I/O) and
versioned: change any text or rendering rule below and bump `PROMPT_VERSION`, so that cached teacher
replies made with the old prompt are not reused (the version is part of every cache key).

Two modes:
- session (default, as in the paper): every page and action of the visit in one message; the teacher
  answers `{"rationales": ["...", ...]}`, one sentence per step, in order.
- step: the history so far (pages and actions) and the one step to explain; the teacher answers
  `{"rationale": "..."}`.

Budget: the user message is kept under `max_prompt_chars` characters by replacing the oldest pages' HTML
with a one-line marker first (`prompts.fit_pages`, the same rule as the training prompts); the persona and
every action are always kept, and the last page shown is cut only when it alone is too long.

Example user message (session mode, 2 steps):
    The shopper's visit has 2 steps.

    Step 1
    Page (https://shop.example/):
    <body><input name="search_input"/></body>
    Action: {"type": "type_and_submit", "name": "search_input", "text": "wool socks"}

    Step 2
    ...
    Write the shopper's reason for each of the 2 steps, in order. Answer with exactly one JSON object:
    {"rationales": ["<reason for step 1>", "<reason for step 2>"]}
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from shop_r1.errors import ShopR1Error
from shop_r1.prompts import DROPPED_PAGE_MARKER, Message, Prompt, PromptTooLongError, fit_pages, persona_text
from shop_r1.schema import Session, Step

__all__ = [
    "PROMPT_VERSION",
    "SYSTEM_PROMPT",
    "RationalePromptConfig",
    "RationalePromptTooLong",
    "SynthesisMode",
    "session_prompt",
    "step_prompt",
]

PROMPT_VERSION = "rationales-v1"


class SynthesisMode(enum.StrEnum):
    SESSION = "session"
    STEP = "step"


SYSTEM_PROMPT = """\
You help build a dataset of real online shopping behaviour. You are shown what one person saw and did \
while visiting a shopping website: for each step, the page in front of them and the action they took \
on it. Your job is to write down why they took each action, as the shopper would have put it at that \
moment.

Pages are simplified HTML: scripts and styling are removed, and every element the shopper could \
interact with has a unique `name` attribute. Some pages may be left out to save space; the actions \
are always given. Actions are JSON objects:
- {"type": "click", "name": "<name>"}: the shopper clicked that element (a link, button, option or product).
- {"type": "type_and_submit", "name": "<name>", "text": "<text>"}: the shopper typed the text into that \
input and submitted it.
- {"type": "terminate"}: the shopper left the website without buying anything.

For every step, write one short sentence in the first person ("I ...") that gives the shopper's reason. \
Ground it in what the page shows, what they have done so far and who they are, when a profile is given. \
Use only what the shopper knew at that step, never what happens later. Give the reason, not a \
description of the click: no element names, no HTML, no "I click the button".

Answer with exactly one JSON object, in the form the request asks for, and nothing else."""

OMITTED_PAGE = "[page omitted to fit the prompt budget]"


@dataclass(frozen=True)
class RationalePromptConfig:
    """How teacher prompts are rendered. Every field changes the prompt, so all are part of the cache key.

    Args:
        max_prompt_chars (`int` or `None`, *optional*, defaults to `60000`):
            Budget for the whole prompt (system and user message) in characters; `None` disables it.
            About 20k tokens of HTML for common tokenizers, leaving room for the reply in a 32k context.
        include_persona (`bool`, *optional*, defaults to `True`):
            Show the session's persona, when it has one.
    """

    max_prompt_chars: int | None = 60_000
    include_persona: bool = True

    def __post_init__(self) -> None:
        if self.max_prompt_chars is not None and self.max_prompt_chars <= 0:
            raise ValueError(f"max_prompt_chars must be positive or None, got {self.max_prompt_chars}")


class RationalePromptTooLong(ShopR1Error):
    """Even with every page's HTML left out, the prompt exceeds the character budget."""


def _char_count(messages: list[Message]) -> int:
    return sum(len(message["content"]) for message in messages)


def _persona_block(session: Session, config: RationalePromptConfig) -> list[str]:
    text = persona_text(session.persona) if config.include_persona else None
    return [f"About the shopper:\n{text}"] if text else []


def _step_block(title: str, step: Step, html: str) -> str:
    where = f"Page ({step.url})" if step.url else "Page"
    page = f"{where}:\n{html}" if html else f"{where}: [no page content recorded]"
    return f"{title}\n{page}\nAction: {step.action.to_json()}"


def _fit(htmls: list[str], render: Callable[[list[str]], list[Message]], config: RationalePromptConfig) -> Prompt:
    # fit_pages writes its own marker for dropped pages; ours names the budget the teacher prompt uses.
    def render_with_marker(shown: list[str]) -> list[Message]:
        return render([OMITTED_PAGE if text == DROPPED_PAGE_MARKER else text for text in shown])

    try:
        # The teacher is told the action taken on the last page, so a cut last page still serves it.
        return fit_pages(htmls, render_with_marker, _char_count if config.max_prompt_chars else None,
                         config.max_prompt_chars, cut_last=True)
    except PromptTooLongError:
        raise RationalePromptTooLong(
            f"the teacher prompt exceeds --max-prompt-chars={config.max_prompt_chars} even without any page "
            "HTML (persona and actions alone are too long)"
        ) from None


def session_prompt(session: Session, config: RationalePromptConfig = RationalePromptConfig()) -> Prompt:
    """The one-call-per-session request: every page and action; the reply holds one rationale per step.

    Raises `RationalePromptTooLong` when persona and actions alone exceed the budget.
    """
    n = len(session.steps)
    example = ", ".join(f'"<reason for step {i}>"' for i in range(1, min(n, 2) + 1)) + (", ..." if n > 2 else "")

    def render(htmls: list[str]) -> list[Message]:
        parts = _persona_block(session, config)
        parts.append(f"The shopper's visit has {n} step{'s' if n != 1 else ''}.")
        for number, (step, html) in enumerate(zip(session.steps, htmls, strict=True), start=1):
            parts.append(_step_block(f"Step {number}", step, html))
        parts.append(
            f"Write the shopper's reason for each of the {n} steps, in order: exactly {n} sentence"
            f"{'s' if n != 1 else ''}. Answer with exactly one JSON object:\n"
            f'{{"rationales": [{example}]}}'
        )
        return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": "\n\n".join(parts)}]

    return _fit([step.html for step in session.steps], render, config)


def step_prompt(
    session: Session, step_index: int, config: RationalePromptConfig = RationalePromptConfig()
) -> Prompt:
    """The per-step request: the pages and actions before `step_index`, then that step's page and action.

    Earlier rationales are not shown, so the calls for one session are independent of each other.
    """
    if not 0 <= step_index < len(session.steps):
        raise IndexError(f"step_index {step_index} is outside session {session.session_id!r} "
                         f"of {len(session.steps)} steps")
    history = session.steps[:step_index]
    number = step_index + 1

    def render(htmls: list[str]) -> list[Message]:
        parts = _persona_block(session, config)
        if history:
            parts.append(f"What the shopper did before, {len(history)} step{'s' if len(history) != 1 else ''}:")
            for index, step in enumerate(history):
                parts.append(_step_block(f"Step {index + 1}", step, htmls[index]))
        else:
            parts.append("This is the first step of the shopper's visit.")
        parts.append(_step_block(f"The step to explain, step {number}", session.steps[step_index], htmls[-1]))
        parts.append(
            f"Write the shopper's reason for step {number}. Answer with exactly one JSON object:\n"
            '{"rationale": "<reason>"}'
        )
        return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": "\n\n".join(parts)}]

    return _fit([step.html for step in session.steps[: step_index + 1]], render, config)
