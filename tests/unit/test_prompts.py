import dataclasses
import json

import pytest

from shop_r1.prompts import (
    DROPPED_PAGE_MARKER,
    SYSTEM_PROMPT,
    Page,
    PromptConfig,
    PromptTooLongError,
    chat_token_counter,
    next_action_prompt,
    persona_text,
    rl_prompt,
    sft_conversation,
    sft_step_example,
    target_json,
)
from tests.conftest import make_session


def _user(prompt):
    assert [m["role"] for m in prompt.messages] == ["system", "user"]
    return prompt.messages[1]["content"]


def test_full_context_shows_every_earlier_page_and_action_in_order_and_no_rationale():
    session = make_session(n_steps=4)
    text = _user(rl_prompt(session, 2, PromptConfig(max_context_tokens=None)))
    order = [text.index(marker) for marker in ("page-0", "Action 1:", "page-1", "Action 2:", "page-2")]
    assert order == sorted(order)
    assert "page-3" not in text  # the future is never shown
    assert "Current page, page 3 (https://shop.example/p2)" in text
    assert '{"type": "type_and_submit", "name": "search_input", "text": "query 0"}' in text
    assert "reason" not in text  # RL prompts carry no rationales


@pytest.mark.parametrize(
    ("context", "present", "absent"),
    [
        ("latest", ["page-2", "Action 1:", "Action 2:"], ["page-0", "page-1"]),
        ("none", ["Action 1:", "Action 2:"], ["page-0", "page-1", "page-2", "Current page"]),
    ],
    ids=["latest", "none"],
)
def test_reduced_context_modes(context, present, absent):
    text = _user(rl_prompt(make_session(n_steps=4), 2, PromptConfig(context=context, max_context_tokens=None)))
    assert all(p in text for p in present)
    assert not any(a in text for a in absent)


def test_first_step_has_only_the_current_page():
    text = _user(rl_prompt(make_session(), 0, PromptConfig(max_context_tokens=None)))
    assert "Action" not in text.replace("What do you do next?", "")
    assert text.startswith("Current page, page 1")


@pytest.mark.parametrize(
    ("persona", "shown"),
    [
        ({"description": "I need running shoes under $80.", "patience": 0.3}, "I need running shoes under $80."),
        ({"age": "25-34", "income": None}, "age: 25-34"),
        ("Budget-conscious student", "Budget-conscious student"),
    ],
    ids=["description", "survey-dict", "text"],
)
def test_persona_block(persona, shown):
    session = make_session(persona=persona)
    text = _user(rl_prompt(session, 1, PromptConfig(max_context_tokens=None)))
    assert text.startswith(f"About you (the shopper):\n{shown}")
    assert "income" not in text
    hidden = _user(rl_prompt(session, 1, PromptConfig(max_context_tokens=None, include_persona=False)))
    assert "About you" not in hidden


def test_persona_text_of_empty_values():
    assert persona_text(None) is None
    assert persona_text("  ") is None


def test_system_prompt_describes_the_three_actions_and_json_output():
    for needle in (
        '"type": "click"',
        '"type": "type_and_submit"',
        '"type": "terminate"',
        "name",
        "rationale",
        "single JSON object",
    ):
        assert needle in SYSTEM_PROMPT


def test_target_json_puts_the_rationale_first():
    step = make_session().steps[1]
    assert (
        target_json(step) == '{"rationale": "reason 1", "action": {"type": "click", "name": "search_results.item_1"}}'
    )
    assert list(json.loads(target_json(step))) == ["rationale", "action"]


def test_sft_conversation_alternates_pages_and_targets():
    session = make_session(n_steps=3, persona="Student")
    messages = sft_conversation(session, PromptConfig(max_context_tokens=None)).messages
    assert [m["role"] for m in messages] == ["system"] + ["user", "assistant"] * 3
    assert messages[1]["content"].startswith("About you (the shopper):\nStudent")
    for i in range(3):
        assert f"page-{i}" in messages[1 + 2 * i]["content"]
        assert json.loads(messages[2 + 2 * i]["content"])["rationale"] == f"reason {i}"
    with pytest.raises(ValueError, match="per-step rows"):
        sft_conversation(session, PromptConfig(context="latest"))


def test_sft_step_example_completes_the_rl_prompt():
    session = make_session()
    prompt, completion = sft_step_example(session, 1, PromptConfig(max_context_tokens=None))
    assert prompt == rl_prompt(session, 1, PromptConfig(max_context_tokens=None))
    assert completion == {"role": "assistant", "content": target_json(session.steps[1])}


# Truncation, counted with the real embedded tokenizer.


def test_no_truncation_when_it_fits(smollm2_tokenizer):
    count = chat_token_counter(smollm2_tokenizer)
    prompt = rl_prompt(make_session(n_steps=4), 3, PromptConfig(max_context_tokens=100_000), count)
    assert not prompt.truncated
    assert DROPPED_PAGE_MARKER not in _user(prompt)


def test_oldest_pages_are_dropped_first_and_actions_kept(smollm2_tokenizer):
    count = chat_token_counter(smollm2_tokenizer)
    session = make_session(n_steps=6, html_size=60)
    untruncated = count(rl_prompt(session, 5, PromptConfig(max_context_tokens=None)).messages)
    budget = untruncated - 150  # about one page too many
    prompt = rl_prompt(session, 5, PromptConfig(max_context_tokens=budget), count)
    text = _user(prompt)
    assert count(prompt.messages) <= budget
    assert prompt.dropped_pages >= 1 and not prompt.current_page_truncated
    dropped = prompt.dropped_pages
    assert all(f"page-{i}" not in text for i in range(dropped))
    assert all(f"page-{i}" in text for i in range(dropped, 6))
    assert text.count(DROPPED_PAGE_MARKER) == dropped
    assert all(f"Action {i}:" in text for i in range(1, 6))

    # Minimal and exact: brute force over "first k pages replaced by the marker" agrees.
    def with_first_dropped(k):
        steps = tuple(
            dataclasses.replace(step, html=DROPPED_PAGE_MARKER) if i < k else step
            for i, step in enumerate(session.steps)
        )
        return rl_prompt(dataclasses.replace(session, steps=steps), 5, PromptConfig(max_context_tokens=None))

    smallest = next(k for k in range(6) if count(with_first_dropped(k).messages) <= budget)
    assert smallest == dropped
    assert prompt.messages == with_first_dropped(dropped).messages


def test_current_page_is_never_cut_a_step_that_cannot_fit_is_an_error(smollm2_tokenizer):
    count = chat_token_counter(smollm2_tokenizer)
    session = make_session(n_steps=3, html_size=400)
    # What the prompt costs with both earlier pages dropped and the current page whole.
    whole = rl_prompt(session, 2, PromptConfig(max_context_tokens=count(
        rl_prompt(session, 2, PromptConfig(max_context_tokens=None)).messages) - 1), count)
    assert whole.dropped_pages == 1  # one dropped page is enough at one token under the full prompt
    needed = count(next_action_prompt(
        [dataclasses.replace(step, html="") for step in session.steps[:2]],
        Page(session.steps[2].html, session.steps[2].url)).messages)
    with pytest.raises(PromptTooLongError, match=r"current page does not fit whole: the prompt needs \d+ tokens"):
        rl_prompt(session, 2, PromptConfig(max_context_tokens=needed - 60), count)
    fitted = rl_prompt(session, 2, PromptConfig(max_context_tokens=needed + 60), count)
    text = _user(fitted)
    assert fitted.dropped_pages == 2 and not fitted.current_page_truncated
    assert session.steps[2].html in text and "page truncated" not in text
    assert "Action 1:" in text and "Action 2:" in text
    assert count(fitted.messages) <= needed + 60


def test_too_small_a_budget_is_an_error(smollm2_tokenizer):
    count = chat_token_counter(smollm2_tokenizer)
    with pytest.raises(PromptTooLongError, match="even without any page HTML"):
        rl_prompt(make_session(n_steps=3), 2, PromptConfig(max_context_tokens=100), count)


def test_sft_conversation_truncates_oldest_user_pages(smollm2_tokenizer):
    count = chat_token_counter(smollm2_tokenizer)
    session = make_session(n_steps=5, html_size=80)
    full = count(sft_conversation(session, PromptConfig(max_context_tokens=None)).messages)
    prompt = sft_conversation(session, PromptConfig(max_context_tokens=full - 200), count)
    assert 1 <= prompt.dropped_pages < 5 and count(prompt.messages) <= full - 200
    assert DROPPED_PAGE_MARKER in prompt.messages[1]["content"]
    assert "page-4" in prompt.messages[-2]["content"]
    assert sum(m["role"] == "assistant" for m in prompt.messages) == 5


def test_invalid_config_and_index():
    with pytest.raises(ValueError, match="context must be one of"):
        PromptConfig(context="everything")
    with pytest.raises(IndexError):
        rl_prompt(make_session(n_steps=2), 2)


# next_action_prompt: the same prompt from loose steps, and the history-only variant used by `serve`.


def test_next_action_prompt_with_a_page_is_rl_prompt():
    session = make_session(n_steps=4, persona="Student")
    config = PromptConfig(max_context_tokens=None)
    current = session.steps[2]
    prompt = next_action_prompt(session.steps[:2], Page(current.html, current.url), persona="Student", config=config)
    assert prompt == rl_prompt(session, 2, config)


def test_next_action_prompt_without_a_page_ends_with_the_last_action_and_the_question():
    session = make_session(n_steps=3)
    text = _user(next_action_prompt(session.steps, None, config=PromptConfig(max_context_tokens=None)))
    assert "Current page" not in text
    assert all(f"page-{i}" in text for i in range(3))
    assert text.endswith('Action 3: {"type": "terminate"}\n\nWhat do you do next? Answer with one JSON object.')


def test_next_action_prompt_without_a_page_may_drop_every_page(smollm2_tokenizer):
    count = chat_token_counter(smollm2_tokenizer)
    steps = make_session(n_steps=3, html_size=200).steps
    bare = count(next_action_prompt([dataclasses.replace(s, html=DROPPED_PAGE_MARKER) for s in steps], None,
                                    config=PromptConfig(max_context_tokens=None)).messages)
    prompt = next_action_prompt(steps, None, config=PromptConfig(max_context_tokens=bare), count_tokens=count)
    assert prompt.dropped_pages == 3 and not prompt.current_page_truncated
    assert count(prompt.messages) <= bare
    with pytest.raises(PromptTooLongError):
        next_action_prompt(steps, None, config=PromptConfig(max_context_tokens=bare - 1), count_tokens=count)


def test_history_only_prompts_do_not_claim_to_show_pages():
    from shop_r1.prompts import SYSTEM_PROMPT_HISTORY_ONLY

    session = make_session(n_steps=3)
    none = rl_prompt(session, 2, PromptConfig(context="none", max_context_tokens=None))
    assert none.messages[0]["content"] == SYSTEM_PROMPT_HISTORY_ONLY
    assert "HTML" not in SYSTEM_PROMPT_HISTORY_ONLY and "HTML" in SYSTEM_PROMPT
    # The action space and the answer format are the same words in both.
    assert SYSTEM_PROMPT.split("You can take one of three actions:")[1] == \
        SYSTEM_PROMPT_HISTORY_ONLY.split("You can take one of three actions:")[1]
    for context in ("full", "latest"):
        assert PromptConfig(context=context).system_prompt == SYSTEM_PROMPT
    assert PromptConfig(context="none", system_prompt="mine").system_prompt == "mine"
