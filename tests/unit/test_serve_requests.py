"""A predict request's session -> the training prompt (pure: no model, no HTTP)."""

from __future__ import annotations

import copy

import pytest

from shop_r1.prompts import (
    DROPPED_PAGE_MARKER,
    NEXT_ACTION_QUESTION,
    Page,
    PromptConfig,
    chat_token_counter,
    rl_prompt,
)
from shop_r1.schema import Action, SchemaError, Session, Step
from shop_r1.serve.requests import parse_session_so_far, predict_prompt
from tests.conftest import make_session

NO_BUDGET = PromptConfig(max_context_tokens=None)
ANY_ACTIONS = [Action("terminate"), Action("click", name="x"), Action("type_and_submit", name="q", text="socks")]


def pending(session: Session) -> dict:
    """The session as a request whose last step has its page but no action yet."""
    data = session.to_dict()
    del data["steps"][-1]["action"]
    data["steps"][-1].pop("rationale")
    return data


def with_last_action(session: Session, action: Action) -> Session:
    last = session.steps[-1]
    return Session(session.session_id, (*session.steps[:-1], Step(action, last.html, last.url)), session.user_id,
                   session.persona)


@pytest.mark.parametrize("action", ANY_ACTIONS, ids=lambda a: a.type.value)
def test_pending_last_page_gives_the_rl_prompt_of_that_step_whatever_its_action(action):
    session = make_session(n_steps=4, persona={"description": "Student on a budget."})
    prompt = predict_prompt(parse_session_so_far(pending(session)), NO_BUDGET)
    assert prompt == rl_prompt(with_last_action(session, action), 3, NO_BUDGET)
    assert "Current page, page 4 (https://shop.example/p3)" in prompt.messages[1]["content"]


def test_a_single_pending_page_is_the_first_step_prompt():
    session = make_session(n_steps=1)
    so_far = parse_session_so_far(pending(session))
    assert so_far.history == () and so_far.page == Page(session.steps[0].html, session.steps[0].url)
    assert predict_prompt(so_far, NO_BUDGET) == rl_prompt(session, 0, NO_BUDGET)


def test_a_null_action_also_marks_the_pending_page():
    session = make_session(n_steps=2)
    data = session.to_dict()
    data["steps"][-1]["action"] = None
    data["steps"][-1]["rationale"] = None
    so_far = parse_session_so_far(data)
    assert so_far.page == Page(session.steps[1].html, session.steps[1].url)
    assert so_far.history == session.steps[:1]


def test_pending_prompt_honours_the_token_budget_like_rl_prompt(smollm2_tokenizer):
    count = chat_token_counter(smollm2_tokenizer)
    session = make_session(n_steps=5, html_size=80)
    full = count(rl_prompt(session, 4, NO_BUDGET).messages)
    config = PromptConfig(max_context_tokens=full - 150)
    prompt = predict_prompt(parse_session_so_far(pending(session)), config, count)
    assert prompt.dropped_pages >= 1 and count(prompt.messages) <= full - 150
    assert prompt == rl_prompt(with_last_action(session, Action("terminate")), 4, config, count)


def test_every_step_acted_on_asks_from_the_history_alone():
    session = make_session(n_steps=3)
    so_far = parse_session_so_far(session.to_dict())
    assert so_far.page is None and so_far.history == session.steps
    text = predict_prompt(so_far, NO_BUDGET).messages[1]["content"]
    assert "Current page" not in text
    assert all(f"page-{i}" in text and f"Action {i + 1}:" in text for i in range(3))
    assert text.endswith('Action 3: {"type": "terminate"}\n\n' + NEXT_ACTION_QUESTION)
    assert "reason" not in text  # no rationales in RL prompts, as in training


def test_history_alone_drops_old_pages_under_a_budget(smollm2_tokenizer):
    count = chat_token_counter(smollm2_tokenizer)
    session = make_session(n_steps=4, html_size=80)
    so_far = parse_session_so_far(session.to_dict())
    full = count(predict_prompt(so_far, NO_BUDGET).messages)
    prompt = predict_prompt(so_far, PromptConfig(max_context_tokens=full - 100), count)
    text = prompt.messages[1]["content"]
    assert prompt.dropped_pages >= 1 and DROPPED_PAGE_MARKER in text and "page-3" in text


def test_parsing_does_not_modify_the_request():
    data = pending(make_session(n_steps=3))
    before = copy.deepcopy(data)
    parse_session_so_far(data)
    assert data == before


def _bad(mutate):
    data = pending(make_session(n_steps=3))
    mutate(data)
    return data


@pytest.mark.parametrize(
    ("data", "field", "reason"),
    [
        (_bad(lambda d: d["steps"][1]["action"].update(type="hover")), "steps[1].action.type", "'hover'"),
        (_bad(lambda d: d["steps"][0].update(action=None)), "steps[0].action", "required"),
        (_bad(lambda d: d["steps"][2].update(rationale="I will click.")), "steps[2].rationale", "must be absent"),
        (_bad(lambda d: d["steps"][2].update(colour="red")), "steps[2].colour", "unknown field"),
        (_bad(lambda d: d["steps"][2].update(html=5)), "steps[2].html", "must be a string"),
        (_bad(lambda d: d["steps"][2].update(meta=[1])), "steps[2].meta", "JSON object"),
        (_bad(lambda d: d.pop("session_id")), "session_id", "required"),
        (_bad(lambda d: d.update(steps=[])), "steps", "at least one step"),
        (_bad(lambda d: d.update(steps={"a": 1})), "steps", "must be a list"),
        (_bad(lambda d: d.update(persona=3)), "persona", "must be a string or a JSON object"),
        ([1, 2], "", "must be a JSON object"),
    ],
    ids=["unknown-type", "middle-step-without-action", "pending-rationale", "pending-unknown-field",
         "pending-html-type", "pending-meta-type", "no-session-id", "no-steps", "steps-not-list", "persona-type",
         "not-an-object"],
)
def test_invalid_sessions_name_the_field(data, field, reason):
    with pytest.raises(SchemaError) as caught:
        parse_session_so_far(data)
    assert caught.value.field == field
    assert reason in caught.value.reason
