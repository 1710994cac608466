import json

import pytest

from shop_r1.errors import ShopR1Error
from shop_r1.evaluation.markov_baseline import MarkovBaseline, baseline_prediction_rows, page_kind
from shop_r1.evaluation.records import record_from_row
from shop_r1.evaluation.runs import MetricsConfig, evaluate_records
from shop_r1.schema import Action, Session, Step

HOME, SEARCH, PRODUCT = "https://s.example/", "https://s.example/search?q=x", "https://s.example/p/P1"


def _session(session_id, *steps):
    return Session(session_id, tuple(Step(action=a, url=u) for u, a in steps), user_id=session_id)


SEARCH_SOCKS = Action("type_and_submit", name="search_input", text="socks")
ITEM_1, ITEM_2 = Action("click", name="search_results.item_1"), Action("click", name="search_results.item_2")
BUY, LEAVE = Action("click", name="buy_now"), Action("terminate")


def _train():
    return [
        _session("a", (HOME, SEARCH_SOCKS), (SEARCH, ITEM_1), (PRODUCT, BUY)),
        _session("b", (HOME, SEARCH_SOCKS), (SEARCH, ITEM_1), (PRODUCT, LEAVE)),
        _session("c", (HOME, SEARCH_SOCKS), (SEARCH, ITEM_2), (PRODUCT, LEAVE)),
    ]


def test_page_kind_is_the_first_path_segment():
    assert [page_kind(u) for u in (HOME, SEARCH, PRODUCT, "https://s.example/cart/", "", None)] == \
        ["home", "search", "p", "cart", "unknown", "unknown"]


def test_fit_takes_the_most_frequent_action_per_context_and_breaks_ties_by_json():
    table = MarkovBaseline.fit(_train())
    assert table.by_context[("search", "type_and_submit:search_input")] == ITEM_1.to_json()  # 2 of 3
    assert table.by_context[("p", "click:search_results.item_1")] == BUY.to_json()  # 1:1 tie, "click" < "terminate"
    assert table.by_context[("p", "click:search_results.item_2")] == LEAVE.to_json()
    assert table.by_page_kind["p"] == LEAVE.to_json()  # 2 of 3 product-page steps
    assert table.overall == SEARCH_SOCKS.to_json()  # 3 of 9 steps, the largest share


def test_unseen_contexts_back_off_to_the_page_kind_then_overall():
    table = MarkovBaseline.fit(_train())
    history = [Step(action=Action("click", name="nav_bar.cart"))]
    assert table.predict(history, PRODUCT) == LEAVE  # context unseen, product pages end in terminate
    assert table.predict(history, "https://s.example/checkout") == SEARCH_SOCKS  # page kind unseen too


def test_prediction_rows_score_like_model_predictions():
    table = MarkovBaseline.fit(_train())
    held_out = _session("t", (HOME, SEARCH_SOCKS), (SEARCH, ITEM_2), (PRODUCT, LEAVE))
    rows = [{"session_id": "t", "step_index": i, "user_id": "t", "prompt": [{"role": "user", "content": str(i)}],
             "gold_action": {"type": s.action.type.value, "name": s.action.name, "text": s.action.text}}
            for i, s in enumerate(held_out.steps)]
    predictions = baseline_prediction_rows(rows, {"t": held_out}, table)
    assert [json.loads(p["completion"])["action"] for p in predictions] == \
        [SEARCH_SOCKS.to_dict(), ITEM_1.to_dict(), LEAVE.to_dict()]
    records = [record_from_row(p, f"row {i}") for i, p in enumerate(predictions)]
    metrics = evaluate_records(records, MetricsConfig(n_resamples=0)).metrics
    assert metrics["exact_action_acc"].value == pytest.approx(2 / 3)  # wrong item on the search page
    assert metrics["action_type_acc"].value == 1.0 and metrics["parse_failure_rate"].value == 0.0


def test_a_row_without_its_session_or_an_empty_fit_is_an_error():
    table = MarkovBaseline.fit(_train())
    with pytest.raises(ShopR1Error, match="no step 5 of session 'a'"):
        baseline_prediction_rows([{"session_id": "a", "step_index": 5, "prompt": [], "gold_action": {}}],
                                 {s.session_id: s for s in _train()}, table)
    with pytest.raises(ShopR1Error, match="at least one training step"):
        MarkovBaseline.fit([])


def test_on_real_opera_actions_the_table_beats_the_single_most_frequent_action(opera_actions_path):
    from shop_r1.data.opera import import_opera
    from shop_r1.data.split import split_sessions

    sessions, _ = import_opera(opera_actions_path)
    split = split_sessions(sessions, test_fraction=0.2, seed=0)
    table = MarkovBaseline.fit(split.train)
    constant = Action.from_dict(json.loads(table.overall))
    steps = [(session.steps[:i], step) for session in split.test for i, step in enumerate(session.steps)]
    table_hits = sum(table.predict(history, step.url) == step.action for history, step in steps)
    constant_hits = sum(constant == step.action for _, step in steps)
    # History-only logs: every page kind is unknown, so the previous action carries the whole context.
    assert set(table.by_page_kind) == {"unknown"}
    assert table_hits > constant_hits and table_hits / len(steps) > 0.10
