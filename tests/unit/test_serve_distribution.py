"""Sampled next actions -> their distribution."""

from __future__ import annotations

import json

import pytest

from shop_r1.parsing import parse_completion
from shop_r1.serve.distribution import action_distribution


def answer(action: dict, rationale: str = "Because.") -> str:
    return json.dumps({"rationale": rationale, "action": action})


CLICK_A = {"type": "click", "name": "a"}
CLICK_B = {"type": "click", "name": "b"}
SEARCH = {"type": "type_and_submit", "name": "search_input", "text": "socks"}
SEARCH_OTHER = {"type": "type_and_submit", "name": "search_input", "text": "wool socks"}


def distribution(texts):
    return action_distribution([parse_completion(t) for t in texts])


def test_counts_by_type_and_by_whole_action_ordered_by_count_then_first_seen():
    texts = [answer(CLICK_B), answer(CLICK_A), answer(CLICK_A, "Other words."), "not json", answer(SEARCH),
             answer(SEARCH_OTHER), answer(CLICK_B)]
    d = distribution(texts)
    assert (d.n, d.parse_failures) == (7, 1)
    assert d.action_types == {"click": 4, "type_and_submit": 2, "terminate": 0}
    # Rationales do not split an action; texts do. Ties keep the order of first appearance.
    assert d.actions == [(CLICK_B, 2), (CLICK_A, 2), (SEARCH, 1), (SEARCH_OTHER, 1)]


def test_shares_are_over_all_samples_so_they_add_up_with_the_failures():
    out = distribution([answer(CLICK_A), "oops", answer({"type": "terminate"}), answer(CLICK_A)]).to_dict()
    types = out["action_types"]
    assert types["click"] == {"count": 2, "share": 0.5}
    assert sum(t["share"] for t in types.values()) + out["parse_failures"] / out["n"] == pytest.approx(1.0)
    assert sum(t["count"] for t in types.values()) + out["parse_failures"] == out["n"] == 4
    assert out["actions"][0] == {"action": CLICK_A, "count": 2, "share": 0.5}
    json.dumps(out)  # the response body is plain JSON


def test_all_failures_and_no_samples():
    out = distribution(["", "{}"]).to_dict()
    assert out["parse_failures"] == 2 and out["actions"] == []
    assert all(t == {"count": 0, "share": 0.0} for t in out["action_types"].values())
    assert action_distribution([]).to_dict()["n"] == 0


def test_well_formed_but_incomplete_actions_are_kept_as_predicted():
    d = distribution([answer({"type": "click", "name": ""}), answer({"type": "click"})])
    assert d.parse_failures == 0
    assert d.actions == [({"type": "click", "name": ""}, 1), ({"type": "click"}, 1)]
