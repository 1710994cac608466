import json
import os
import re
import subprocess
import sys

import pytest

from shop_r1.rationales.prompt import (
    OMITTED_PAGE,
    PROMPT_VERSION,
    SYSTEM_PROMPT,
    RationalePromptConfig,
    RationalePromptTooLong,
    session_prompt,
    step_prompt,
)
from tests.conftest import REPO_ROOT, make_session


def _user(prompt) -> str:
    assert [m["role"] for m in prompt.messages] == ["system", "user"]
    assert prompt.messages[0]["content"] == SYSTEM_PROMPT
    return prompt.messages[1]["content"]


def _chars(prompt) -> int:
    return sum(len(m["content"]) for m in prompt.messages)


def test_prompt_version_is_part_of_every_cache_key(monkeypatch):
    from shop_r1.rationales import synthesize
    from shop_r1.rationales.cache import cache_key

    config = synthesize.SynthesisConfig(model="teacher-a")
    fields = synthesize.request_fields(make_session(), config)
    assert fields["prompt_version"] == PROMPT_VERSION == "rationales-v1"
    monkeypatch.setattr(synthesize, "PROMPT_VERSION", "rationales-v2")  # a bumped version: no cached reply reused
    assert cache_key(synthesize.request_fields(make_session(), config)) != cache_key(fields)


def test_session_prompt_shows_every_page_and_action_in_order_and_asks_for_n_rationales():
    session = make_session(n_steps=4, html_size=5)
    text = _user(session_prompt(session))
    positions = [text.index(f"page-{i}") for i in range(4)]
    assert positions == sorted(positions)
    actions = re.findall(r"^Action: (.*)$", text, flags=re.M)
    assert [json.loads(a) for a in actions] == [step.action.to_dict() for step in session.steps]
    assert "exactly 4 sentences" in text and '{"rationales": [' in text
    # Rationales already in the session are never shown to the teacher.
    assert "reason 0" not in text


@pytest.mark.parametrize(("persona", "shown"), [
    ({"description": "A student on a tight budget."}, "A student on a tight budget."),
    ({"age": "25-34", "income": "low"}, "age: 25-34\nincome: low"),
    ("Likes hiking gear.", "Likes hiking gear."),
], ids=["description", "key-values", "plain-string"])
def test_persona_is_shown_first_and_can_be_left_out(persona, shown):
    session = make_session(n_steps=2, html_size=3, persona=persona)
    text = _user(session_prompt(session))
    assert text.startswith(f"About the shopper:\n{shown}\n\n")
    assert "About the shopper" not in _user(session_prompt(session, RationalePromptConfig(include_persona=False)))
    assert shown in _user(step_prompt(session, 1))


def test_no_persona_no_persona_block():
    assert "About the shopper" not in _user(session_prompt(make_session(persona=None)))


def test_budget_drops_the_oldest_pages_html_first_and_keeps_every_action():
    session = make_session(n_steps=5, html_size=200)
    full = session_prompt(session, RationalePromptConfig(max_prompt_chars=None))
    budget = _chars(full) - 2 * len(session.steps[0].html) + 100  # room for about three of five pages
    fitted = session_prompt(session, RationalePromptConfig(max_prompt_chars=budget))
    text = _user(fitted)
    assert _chars(fitted) <= budget
    assert fitted.dropped_pages == 2 and not fitted.current_page_truncated
    assert "page-0" not in text and "page-1" not in text
    assert all(f"page-{i}" in text for i in (2, 3, 4))
    assert text.count(OMITTED_PAGE) == 2
    assert len(re.findall(r"^Action: ", text, flags=re.M)) == 5


def test_tighter_budget_drops_more_pages_and_finally_cuts_the_last_one():
    session = make_session(n_steps=4, html_size=200)
    dropped = []
    for budget in (100_000, 12_000, 9_000, 6_000, 3_500):
        prompt = session_prompt(session, RationalePromptConfig(max_prompt_chars=budget))
        assert _chars(prompt) <= budget
        dropped.append(prompt.dropped_pages)
    assert dropped == sorted(dropped) and dropped[0] == 0 and dropped[-1] == 3
    last = session_prompt(session, RationalePromptConfig(max_prompt_chars=3_500))
    assert last.current_page_truncated and "page-3" in _user(last)


def test_actions_alone_over_budget_is_an_error_not_a_silent_cut():
    session = make_session(n_steps=40, html_size=50)
    with pytest.raises(RationalePromptTooLong, match="max-prompt-chars=2000"):
        session_prompt(session, RationalePromptConfig(max_prompt_chars=2000))


def test_step_prompt_shows_history_then_the_step_to_explain():
    session = make_session(n_steps=4, html_size=5)
    text = _user(step_prompt(session, 2))
    assert "page-0" in text and "page-1" in text and "page-3" not in text
    head, tail = text.split("The step to explain, step 3")
    assert "page-2" in tail and "page-2" not in head
    assert json.loads(re.findall(r"^Action: (.*)$", tail, flags=re.M)[0]) == session.steps[2].action.to_dict()
    assert '{"rationale": "<reason>"}' in tail
    assert "first step" in _user(step_prompt(session, 0))
    with pytest.raises(IndexError):
        step_prompt(session, 4)


def test_step_prompt_budget_drops_history_html_before_the_current_page():
    session = make_session(n_steps=4, html_size=200)
    prompt = step_prompt(session, 3, RationalePromptConfig(max_prompt_chars=len(SYSTEM_PROMPT) + 4000))
    text = _user(prompt)
    assert prompt.dropped_pages == 3 and "page-3" in text and "page-0" not in text


def test_rendering_is_the_same_in_every_process():
    session = make_session(n_steps=3, persona={"b": "2", "a": "1"})
    messages = session_prompt(session).messages
    # The persona keeps its own key order; the visit follows.
    head = "About the shopper:\nb: 2\na: 1\n\nThe shopper's visit has 3 steps."
    assert _user(session_prompt(session)).startswith(head)
    code = ("import json; from tests.conftest import make_session; "
            "from shop_r1.rationales.prompt import session_prompt; "
            "print(json.dumps(session_prompt(make_session(n_steps=3, persona={'b': '2', 'a': '1'})).messages))")
    for seed in ("1", "2"):  # different string-hash seeds: no set order may leak into the prompt
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "src"),
                                                                                    str(REPO_ROOT)])}
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert json.loads(done.stdout) == messages
