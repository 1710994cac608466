"""Synthetic sessions: determinism, the name-consistency guarantee, the action mix, rationales, rebalancing."""

from __future__ import annotations

import random
from collections import Counter

import lxml.html
import pytest

from shop_r1.data.rebalance import rebalance_steps
from shop_r1.schema import ActionType, Session
from shop_r1.world.reason_templates import REASONS, TEMPLATES, template_slots, write_rationale
from shop_r1.world.synth import synthesize_sessions


@pytest.fixture(scope="module")
def sessions() -> list[Session]:
    # 170 users x 3 visits = 510 sessions (about 4,400 steps): 3-8 s, so the tests using it are slow.
    return list(synthesize_sessions(170, 3, seed=0))


@pytest.fixture(scope="module")
def few() -> list[Session]:
    return list(synthesize_sessions(30, 2, seed=1))


def test_session_count_and_ids(few: list[Session]) -> None:
    assert len(few) == 60
    assert few[0].session_id == "u0001-s01" and few[0].user_id == "u0001"
    assert few[-1].session_id == "u0030-s02"


def test_same_seed_same_bytes() -> None:
    first = [s.to_json() for s in synthesize_sessions(6, 2, seed=7)]
    second = [s.to_json() for s in synthesize_sessions(6, 2, seed=7)]
    assert first == second
    assert first != [s.to_json() for s in synthesize_sessions(6, 2, seed=8)]


def test_users_independent_of_count() -> None:
    few = [s.to_json() for s in synthesize_sessions(2, 2, seed=3)]
    more = [s.to_json() for s in synthesize_sessions(4, 2, seed=3)]
    assert more[:4] == few


def test_first_user_gives_the_users_a_longer_run_simulates_next() -> None:
    more = [s.to_json() for s in synthesize_sessions(5, 2, seed=3)]
    later = list(synthesize_sessions(3, 2, seed=3, first_user=2))
    assert [s.to_json() for s in later] == more[4:]
    assert later[0].user_id == "u0003" and later[-1].session_id == "u0005-s02"


def _check_names(sessions: list[Session]) -> int:
    checked = 0
    for session in sessions:
        for index, step in enumerate(session.steps):
            if step.action.name is None:
                continue
            names = [n.get("name") for n in lxml.html.fromstring(step.html).iter() if n.get("name")]
            assert names.count(step.action.name) == 1, (session.session_id, index, step.action.name)
            checked += 1
    return checked


def test_gold_name_occurs_exactly_once_small(few: list[Session]) -> None:
    """The consistency guarantee on 60 sessions (fast)."""
    assert _check_names(few) > 300


@pytest.mark.slow
def test_gold_name_occurs_exactly_once(sessions: list[Session]) -> None:
    """The consistency guarantee: every gold element name is on its page exactly once (510 sessions)."""
    assert _check_names(sessions) > 3_000


def test_sessions_end_in_purchase_or_terminate(few: list[Session]) -> None:
    for session in few:
        last = session.steps[-1]
        assert last.action.type is ActionType.TERMINATE or last.action.name in ("buy_now", "checkout.place_order")
        assert all(s.action.type is not ActionType.TERMINATE for s in session.steps[:-1])


@pytest.mark.slow
def test_action_mix_looks_like_logs(sessions: list[Session]) -> None:
    types = Counter(step.action.type for s in sessions for step in s.steps)
    steps = sum(types.values())
    ended = sum(s.steps[-1].action.type is ActionType.TERMINATE for s in sessions) / len(sessions)
    assert 0.60 <= types[ActionType.CLICK] / steps <= 0.80
    assert 0.14 <= types[ActionType.TYPE_AND_SUBMIT] / steps <= 0.25
    assert 0.28 <= ended <= 0.50
    lengths = [len(s.steps) for s in sessions]
    assert sum(4 <= n <= 20 for n in lengths) / len(lengths) >= 0.85


def test_steps_carry_reason_and_rationale(few: list[Session]) -> None:
    sessions = few
    step = sessions[0].steps[0]
    assert step.url == "https://shop.example/" and step.html.startswith("<body>")
    assert set(step.meta) == {"reason", "slots"} and step.meta["reason"] in REASONS
    assert step.rationale and step.rationale[0].isupper()
    persona = sessions[0].persona
    assert isinstance(persona, dict) and persona["goal"]["sentence"] in persona["description"]
    assert {"patience", "price_sensitivity", "brand_loyalty", "review_reliance", "decisiveness"} <= persona.keys()


@pytest.mark.parametrize("reason", ["search", "open_best_match", "add_to_cart", "read_reviews", "place_order"],
                         ids=str)
def test_rationales_vary_within_reason(few: list[Session], reason: str) -> None:
    texts = {step.rationale for s in few for step in s.steps if step.meta["reason"] == reason}
    assert len(texts) >= 3


@pytest.mark.parametrize("reason", REASONS, ids=str)
def test_every_reason_has_varied_templates(reason: str) -> None:
    templates = TEMPLATES[reason]
    assert len(set(templates)) >= 4
    slots = {name: f"<{name}>" for t in templates for name in template_slots(t)}
    rng = random.Random(0)
    texts = {write_rationale(reason, slots, rng) for _ in range(60)}
    assert len(texts) >= 4


def test_unknown_reason_rejected() -> None:
    with pytest.raises(ValueError, match="unknown reason"):
        write_rationale("teleport", {}, random.Random(0))


def test_rebalance_toward_uniform(few: list[Session]) -> None:
    items = [(s.session_id, i, step.action.type.value) for s in few for i, step in enumerate(s.steps)]
    kept = rebalance_steps(items, key=lambda item: item[2], seed=0)
    counts = Counter(item[2] for item in kept)
    assert counts["terminate"] == sum(1 for item in items if item[2] == "terminate")
    for name in ("click", "type_and_submit"):
        assert counts[name] == round(counts["terminate"] * 1.1)
    assert kept == sorted(kept, key=items.index)
    assert rebalance_steps(items, key=lambda item: item[2], seed=0) == kept
