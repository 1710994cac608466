"""Chat prompts for Shop-R1: the system prompt, RL/evaluation prompts per step, SFT conversations.

Paper, sections 1-2: the model sees every earlier page's simplified HTML and the action taken on it,
then the current page, and answers with one JSON object, rationale first. RL and evaluation prompts
carry no rationales; SFT conversations put each step's rationale and action in an assistant turn.

When a prompt exceeds `max_context_tokens` (counted with the real tokenizer), the HTML of the oldest
pages is replaced by a one-line marker first; the actions, the system prompt and the current page are
kept. The current page is never cut: a click names an element that is only on that page, so a prompt
that cannot show it whole is a `PromptTooLongError` that names the tokens it needs (the paper gives
no truncation policy; this is the project's default).

`next_action_prompt` builds the same prompt from steps and a page that need not form a `Session`, and
also without a current page (serving a live session whose every page was acted on: the history and the
question only).

Example RL prompt (context "full", step 2 of a session):
    system: You are role-playing a person shopping on a website. ...
    user:   Page 1 (https://shop.example/):
            <body><input name="search_input"/> ...</body>
            Action 1: {"type": "type_and_submit", "name": "search_input", "text": "wool socks"}
            Current page, page 2 (https://shop.example/search?q=wool+socks):
            <body> ... </body>
            What do you do next? Answer with one JSON object.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from shop_r1.errors import ShopR1Error
from shop_r1.schema import Session, Step

Message = dict[str, str]
TokenCounter = Callable[[list[Message]], int]
ContextMode = Literal["full", "latest", "none"]
CONTEXT_MODES: tuple[str, ...] = ("full", "latest", "none")

_ROLE = """\
You are role-playing a person shopping on a website. At each step you are shown what you have seen \
and done so far in this visit, then the page in front of you now. Decide what you do next and why, \
as that person would."""
_ROLE_HISTORY_ONLY = """\
You are role-playing a person shopping on a website. At each step you are shown the actions you have \
taken so far in this visit, with each page's address when it is known, but not the pages themselves. \
Decide what you do next and why, as that person would."""
_PAGES = """\
Each page is given as simplified HTML: scripts and styling are removed, and every element you can \
interact with has a unique `name` attribute (for example `search_input` or `search_results.item_2`)."""
_NAMES_HISTORY_ONLY = """\
Every element you can interact with has a unique hierarchical name (for example `search_input` or \
`search_results.item_2`)."""
_ACTIONS_AND_ANSWER = """\
You can take one of three actions:
- {"type": "click", "name": "<name>"}: click the element with that name (a link, button, option or product).
- {"type": "type_and_submit", "name": "<name>", "text": "<text>"}: type text into that input and submit it.
- {"type": "terminate"}: leave the website without buying anything.

Answer with a single JSON object and nothing else. Put a short first-person sentence explaining your \
reason first, then the action:
{"rationale": "<why you take this action>", "action": {...}}"""

# What the paper's system prompt tells the model (role, action space, simplified HTML with named
# elements, a first-person rationale, one JSON object), in the project's words.
SYSTEM_PROMPT = "\n\n".join((_ROLE, _PAGES, _ACTIONS_AND_ANSWER))
# For `context="none"` (history-only logs such as OPeRA's actions): the same task, without claiming
# that pages are shown.
SYSTEM_PROMPT_HISTORY_ONLY = "\n\n".join((_ROLE_HISTORY_ONLY, _NAMES_HISTORY_ONLY, _ACTIONS_AND_ANSWER))

NEXT_ACTION_QUESTION = "What do you do next? Answer with one JSON object."
DROPPED_PAGE_MARKER = "[page content omitted to fit the context budget]"


@dataclass(frozen=True)
class PromptConfig:
    """How prompts are built. `max_context_tokens=None` disables the token budget. `system_prompt=None`
    takes the context's own: `SYSTEM_PROMPT_HISTORY_ONLY` for "none", else `SYSTEM_PROMPT`."""

    context: ContextMode = "full"
    max_context_tokens: int | None = 32768
    include_persona: bool = True
    system_prompt: str | None = None

    def __post_init__(self) -> None:
        if self.system_prompt is None:
            default = SYSTEM_PROMPT_HISTORY_ONLY if self.context == "none" else SYSTEM_PROMPT
            object.__setattr__(self, "system_prompt", default)
        if self.context not in CONTEXT_MODES:
            raise ValueError(f"context must be one of {', '.join(CONTEXT_MODES)}, got {self.context!r}")
        if self.max_context_tokens is not None and self.max_context_tokens <= 0:
            raise ValueError(f"max_context_tokens must be positive or None, got {self.max_context_tokens}")


@dataclass(frozen=True)
class Prompt:
    """Chat messages plus what the token budget took out of them."""

    messages: list[Message]
    dropped_pages: int = 0
    current_page_truncated: bool = False

    @property
    def truncated(self) -> bool:
        return self.dropped_pages > 0 or self.current_page_truncated


class PromptTooLongError(ShopR1Error):
    """Even with every page's HTML removed, the prompt exceeds the token budget."""


def chat_token_counter(tokenizer: Any) -> TokenCounter:
    """Count a conversation's tokens exactly as the model will see them, through its chat template."""

    def count(messages: list[Message]) -> int:
        add_prompt = messages[-1]["role"] != "assistant"
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_prompt)
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    return count


def target_json(step: Step) -> str:
    """The assistant's answer for a step: rationale first, then the action."""
    return json.dumps({"rationale": step.rationale or "", "action": step.action.to_dict()}, ensure_ascii=False)


def persona_text(persona: str | dict[str, Any] | None) -> str | None:
    """A persona as prose: its `description` when it has one, else `key: value` lines."""
    if persona is None:
        return None
    if isinstance(persona, str):
        return persona.strip() or None
    if isinstance(persona.get("description"), str):
        return persona["description"]
    lines = [f"{key}: {value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)}"
             for key, value in persona.items() if value not in (None, "", [], {})]
    return "\n".join(lines) or None


def _page_block(title: str, url: str | None, html: str) -> str:
    header = f"{title} ({url})" if url else title
    return f"{header}:\n{html}" if html else f"{header}."


def _truncate_marker(shown: int, total: int) -> str:
    return f"[page truncated to fit the context budget: first {shown} of {total} characters shown]"


def fit_pages(
    pages: Sequence[str],
    render: Callable[[list[str]], list[Message]],
    count_tokens: TokenCounter | None,
    budget: int | None,
    *,
    cut_last: bool = False,
) -> Prompt:
    """Render with as many pages' HTML as fit, dropping the oldest first.

    `pages` are the HTML strings the prompt may show, oldest first; the last is the current page. It is
    kept whole unless `cut_last` (for readers other than the simulator, such as a rationale teacher, for
    whom a cut last page is better than none); otherwise a prompt that does not fit with every older
    page dropped is a `PromptTooLongError`. Token counts fall as more pages are dropped (and as the last
    page gets shorter), so both searches are binary searches over full re-renders, exact for any
    tokenizer and template.
    """
    full = render(list(pages))
    if count_tokens is None or budget is None or count_tokens(full) <= budget:
        return Prompt(full)
    droppable = [i for i, html in enumerate(pages[:-1]) if html]

    def shown(drop: int, current_chars: int | None = None) -> list[str]:
        out = list(pages)
        for i in droppable[:drop]:
            out[i] = DROPPED_PAGE_MARKER
        if current_chars is not None and out:
            out[-1] = f"{pages[-1][:current_chars]}\n{_truncate_marker(current_chars, len(pages[-1]))}"
        return out

    def fits(messages: list[Message]) -> bool:
        return count_tokens(messages) <= budget

    low, high = 1, len(droppable)
    if droppable and fits(render(shown(high))):
        while low < high:  # smallest number of dropped pages that fits
            middle = (low + high) // 2
            if fits(render(shown(middle))):
                high = middle
            else:
                low = middle + 1
        return Prompt(render(shown(low)), dropped_pages=low)

    current = pages[-1] if pages else ""
    if not current or not fits(render(shown(len(droppable), 0))):
        raise PromptTooLongError(
            f"the prompt exceeds max_context_tokens={budget} even without any page HTML "
            "(system prompt, persona and actions alone are too long)"
        )
    if not cut_last:
        needed = count_tokens(render(shown(len(droppable))))
        raise PromptTooLongError(
            f"the current page does not fit whole: the prompt needs {needed} tokens with every earlier page's "
            f"HTML left out, more than max_context_tokens={budget}; raise the budget (the current page is never cut)"
        )
    low, high = 0, len(current) - 1  # longest prefix of the last page that fits
    while low < high:
        middle = (low + high + 1) // 2
        if fits(render(shown(len(droppable), middle))):
            low = middle
        else:
            high = middle - 1
    return Prompt(render(shown(len(droppable), low)), dropped_pages=len(droppable), current_page_truncated=True)


def _persona_prefix(persona: str | dict[str, Any] | None, config: PromptConfig) -> list[str]:
    text = persona_text(persona) if config.include_persona else None
    return [f"About you (the shopper):\n{text}"] if text else []


@dataclass(frozen=True)
class Page:
    """A page the shopper has in front of them and has not acted on yet."""

    html: str = ""
    url: str | None = None


def rl_prompt(
    session: Session, step_index: int, config: PromptConfig = PromptConfig(), count_tokens: TokenCounter | None = None
) -> Prompt:
    """The prompt for predicting step `step_index`: earlier pages and actions, no rationales."""
    if not 0 <= step_index < len(session.steps):
        raise IndexError(f"step_index {step_index} is outside session {session.session_id!r} "
                         f"of {len(session.steps)} steps")
    current = session.steps[step_index]
    return next_action_prompt(session.steps[:step_index], Page(current.html, current.url), persona=session.persona,
                              config=config, count_tokens=count_tokens)


def next_action_prompt(
    history: Sequence[Step],
    current: Page | None,
    *,
    persona: str | dict[str, Any] | None = None,
    config: PromptConfig = PromptConfig(),
    count_tokens: TokenCounter | None = None,
) -> Prompt:
    """The prompt for the action after `history` (steps already taken, oldest first).

    With a `current` page this is exactly `rl_prompt` of a session made of `history` plus that page.
    Without one (a live session whose every page was already acted on) the prompt ends with the last
    action and the question; the token budget may then drop any page's HTML, oldest first.
    """
    step_index = len(history)
    # Which pages' HTML this context mode shows at all: the budget then works on these only.
    if config.context == "full":
        page_indices = list(range(step_index + 1))
    elif config.context == "latest":
        page_indices = [step_index]
    else:
        page_indices = []

    def render(htmls: list[str]) -> list[Message]:
        html_of = dict(zip(page_indices, htmls, strict=True))
        parts = _persona_prefix(persona, config)
        for index, step in enumerate(history):
            if index in html_of:
                parts.append(_page_block(f"Page {index + 1}", step.url, html_of[index]))
            parts.append(f"Action {index + 1}: {step.action.to_json()}")
        if current is not None and step_index in html_of:
            parts.append(_page_block(f"Current page, page {step_index + 1}", current.url, html_of[step_index]))
        parts.append(NEXT_ACTION_QUESTION)
        return [{"role": "system", "content": config.system_prompt}, {"role": "user", "content": "\n\n".join(parts)}]

    # Without a current page the last slot is an empty stand-in that is never rendered: `fit_pages` then never
    # cuts it and may drop every history page.
    pages = [history[i].html if i < step_index else (current.html if current is not None else "")
             for i in page_indices]
    return fit_pages(pages, render, count_tokens, config.max_context_tokens)


def sft_conversation(
    session: Session, config: PromptConfig = PromptConfig(), count_tokens: TokenCounter | None = None
) -> Prompt:
    """The whole session as one conversation (the paper's SFT): a user turn per page, each answered by
    an assistant turn with that step's rationale and action. Train on the assistant turns only."""
    if config.context == "latest":
        raise ValueError("whole-session SFT shows every page by construction; use per-step rows for context 'latest'")
    show_pages = config.context == "full"

    def render(htmls: list[str]) -> list[Message]:
        messages = [{"role": "system", "content": config.system_prompt}]
        for number, step in enumerate(session.steps, start=1):
            parts = _persona_prefix(session.persona, config) if number == 1 else []
            parts.append(_page_block(f"Page {number}", step.url, htmls[number - 1] if show_pages else ""))
            parts.append(NEXT_ACTION_QUESTION)
            messages.append({"role": "user", "content": "\n\n".join(parts)})
            messages.append({"role": "assistant", "content": target_json(step)})
        return messages

    pages = [step.html if show_pages else "" for step in session.steps]
    return fit_pages(pages, render, count_tokens, config.max_context_tokens)


def sft_step_example(
    session: Session, step_index: int, config: PromptConfig = PromptConfig(), count_tokens: TokenCounter | None = None
) -> tuple[Prompt, Message]:
    """One SFT row per step: the RL prompt, completed by the step's rationale and action."""
    prompt = rl_prompt(session, step_index, config, count_tokens)
    return prompt, {"role": "assistant", "content": target_json(session.steps[step_index])}
