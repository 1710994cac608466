"""Realism metrics on tiny hand-computed fixtures: features, distances, every metric, bootstrap, report."""

from __future__ import annotations

import math

import numpy as np
import pytest

from shop_r1.realism.distances import histogram_mean, js_divergence, ks_statistic, shares, wasserstein_1
from shop_r1.realism.features import (
    click_category,
    ending,
    funnel_depth,
    is_purchase_click,
    session_features,
)
from shop_r1.realism.metrics import compare_sessions
from shop_r1.realism.report import format_value, render_markdown
from shop_r1.schema import Action, Session, Step


def click(name: str, click_type: str | None = None) -> Step:
    return Step(Action("click", name=name), meta={"click_type": click_type} if click_type else {})


def search(text: str) -> Step:
    return Step(Action("type_and_submit", name="search_input", text=text))


def end() -> Step:
    return Step(Action("terminate"))


def visit(session_id: str, *steps: Step) -> Session:
    return Session(session_id=session_id, steps=steps)


# Real: R1 searches, opens a product, reads reviews, leaves (4 steps); R2 buys through the cart (5 steps);
# R3 is OPeRA-style (click_type in meta), never searches, reads a review and leaves (3 steps).
REAL = [
    visit("r1", search("red shoes"), click("search_results.item_1"), click("reviews.see_more_reviews"), end()),
    visit("r2", search("shoes"), click("search_results.item_2"), click("add_to_cart"),
          click("cart.proceed_to_checkout"), click("checkout.place_order")),
    visit("r3", click("nav_bar.homepage", "nav_bar"), click("customer_reviews.star_5", "review"), end()),
]
# Simulated: S1 filters, opens a product and buys it now (4 steps); S2 searches twice and leaves (3 steps).
SIM = [
    visit("s1", search("blue running shoes"), click("refinements.price.under_25"), click("search_results.item_1"),
          click("buy_now")),
    visit("s2", search("a b"), search("c"), end()),
]


@pytest.fixture(scope="module")
def result():
    return compare_sessions(REAL, SIM, n_resamples=0)


def value(result, key: str) -> float | None:
    return result.get(key).value


# --- features -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "expected"), [
    ("search_results.item_3", "product_link"),
    ("refinements.brand.aquila", "filter"),
    ("sort.top_rated", "filter"),
    ("reviews.see_more_reviews", "review"),
    ("product_options.colour.red", "product_option"),
    ("add_to_cart", "purchase"),
    ("buy_now", "purchase"),
    ("cart.proceed_to_checkout", "purchase"),
    ("cart.delete_1", "cart_page_select"),
    ("checkout.place_order", "purchase"),
    ("pagination.next", "page_related"),
    ("nav_bar.search", "search"),
    ("nav_bar.home", "nav_bar"),
    ("back_to_results", "back_to_results"),  # no real counterpart: keeps its own segment
    ("categories.kitchen", "categories"),
    ("sortable_table.x", "sortable_table"),  # `sort` matches whole segments only
])
def test_click_category_maps_world_names(name, expected):
    assert click_category(click(name)) == expected


def test_click_category_prefers_opera_click_type_and_ignores_non_clicks():
    assert click_category(click("search_results.item_1", "other")) == "other"
    assert click_category(search("x")) == ""
    assert click_category(end()) == ""


def test_purchase_clicks():
    assert is_purchase_click(click("buy_now")) and is_purchase_click(click("checkout.place_order"))
    assert is_purchase_click(click("buybox.purchase_form.add_to_cart", "purchase"))
    assert not is_purchase_click(click("add_to_cart"))  # the world's cart add does not end the visit
    assert not is_purchase_click(click("cart.proceed_to_checkout"))
    assert not is_purchase_click(end())


def test_funnel_depth_and_ending():
    assert [funnel_depth(s) for s in REAL] == [2, 4, 2]
    assert [funnel_depth(s) for s in SIM] == [4, 1]
    assert [ending(s) for s in REAL] == ["terminate", "purchase", "terminate"]
    assert ending(visit("x", search("q"), click("search_results.item_1"))) == "cut_off"
    assert funnel_depth(visit("x", click("categories.kitchen"), end())) == 0
    assert funnel_depth(visit("x", click("nav_bar.cart"), end())) == 3  # opening the cart is the cart stage


def test_session_features():
    features = session_features(SIM[1])
    assert features.action_types == ("type_and_submit", "type_and_submit", "terminate")
    assert features.searches == 2 and features.query_lengths == (2, 1)
    assert features.terminate_step == 3 and features.leave_stage == "search"
    bought = session_features(REAL[1])
    assert bought.terminate_step is None and bought.leave_stage is None and bought.depth == 4
    assert bought.click_categories == ("product_link", "purchase", "purchase", "purchase")


# --- distances ------------------------------------------------------------------------------------------

def test_js_divergence_known_values():
    assert float(js_divergence(np.array([3, 1]), np.array([6, 2]))) == pytest.approx(0.0)
    assert float(js_divergence(np.array([5, 0]), np.array([0, 2]))) == pytest.approx(1.0)
    # p = (1/2, 1/2), q = (1, 0), m = (3/4, 1/4): JS = H(m) - (H(p) + H(q)) / 2 = H(m) - 1/2
    h_m = -(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25))
    assert float(js_divergence(np.array([1, 1]), np.array([1, 0]))) == pytest.approx(h_m - 0.5)
    assert float(js_divergence(np.array([1, 1]), np.array([1, 0]))) == pytest.approx(
        float(js_divergence(np.array([1, 0]), np.array([1, 1]))))  # symmetric


def test_distances_are_nan_for_an_empty_side_and_vectorised():
    assert np.isnan(js_divergence(np.array([0, 0]), np.array([1, 0])))
    assert np.isnan(wasserstein_1(np.array([0, 0]), np.array([1, 0]), np.array([1.0, 2.0])))
    assert np.isnan(shares(np.array([0, 0]))).all()
    rows = js_divergence(np.array([[1, 0], [1, 1]]), np.array([[0, 1], [1, 1]]))
    assert rows.tolist() == pytest.approx([1.0, 0.0])


def test_wasserstein_and_ks_on_an_uneven_grid():
    grid = np.array([1.0, 2.0, 5.0])
    a, b = np.array([1, 1, 0]), np.array([0, 1, 1])  # {1, 2} vs {2, 5}: CDFs (.5, 1, 1) and (0, .5, 1)
    assert float(wasserstein_1(a, b, grid)) == pytest.approx(0.5 * 1 + 0.5 * 3)
    assert float(ks_statistic(a, b)) == pytest.approx(0.5)
    assert float(histogram_mean(b, grid)) == pytest.approx(3.5)


# --- every metric on the fixture (values worked out by hand from REAL and SIM) -------------------------

def test_action_type_mix(result):
    # real: 8 clicks, 2 type_and_submit, 2 terminate of 12; simulated: 3, 3, 1 of 7
    assert value(result, "action_type.real.click") == pytest.approx(8 / 12)
    assert value(result, "action_type.real.terminate") == pytest.approx(2 / 12)
    assert value(result, "action_type.simulated.type_and_submit") == pytest.approx(3 / 7)


def _js_reference(p: dict[str, float], q: dict[str, float]) -> float:
    keys = set(p) | set(q)
    p_total, q_total = sum(p.values()), sum(q.values())
    m = {k: (p.get(k, 0) / p_total + q.get(k, 0) / q_total) / 2 for k in keys}

    def kl(x: dict[str, float], total: float) -> float:
        return sum(v / total * math.log2(v / total / m[k]) for k, v in x.items() if v)

    return (kl(p, p_total) + kl(q, q_total)) / 2


def test_click_target_mix(result):
    # real clicks: product_link 2, review 2 (one by OPeRA click_type), purchase 3, nav_bar 1 (8 clicks of 12
    # actions); simulated: filter 1, product_link 1, purchase 1 (3 clicks of 7 actions)
    assert result.layout.labels["click_target"] == ("purchase", "product_link", "review", "filter", "nav_bar")
    assert value(result, "click_target.real.review") == pytest.approx(2 / 8)
    assert value(result, "click_target.simulated.filter") == pytest.approx(1 / 3)
    assert value(result, "click_target.simulated.review") == 0.0
    assert value(result, "click_target_per_action.real.review") == pytest.approx(2 / 12)
    assert value(result, "click_target_per_action.simulated.filter") == pytest.approx(1 / 7)
    expected = _js_reference({"product_link": 2, "review": 2, "purchase": 3, "nav_bar": 1},
                             {"filter": 1, "product_link": 1, "purchase": 1})
    assert value(result, "click_target.js") == pytest.approx(expected)


def test_session_length(result):
    # real {4, 5, 3}, simulated {4, 3}: CDFs on (3, 4, 5) are (1/3, 2/3, 1) and (1/2, 1, 1)
    assert value(result, "session_length.real.mean") == pytest.approx(4.0)
    assert value(result, "session_length.simulated.mean") == pytest.approx(3.5)
    assert value(result, "session_length.mean_difference") == pytest.approx(-0.5)
    assert value(result, "session_length.wasserstein") == pytest.approx(1 / 6 + 1 / 3)
    assert value(result, "session_length.ks") == pytest.approx(1 / 3)


def test_searches_and_query_length(result):
    # searches real {1, 1, 0}, simulated {1, 2}; query words real {2, 1}, simulated {3, 2, 1}
    assert value(result, "searches_per_session.real.mean") == pytest.approx(2 / 3)
    assert value(result, "searches_per_session.simulated.mean") == pytest.approx(1.5)
    assert value(result, "searches_per_session.wasserstein") == pytest.approx(1 / 3 + 1 / 2)
    assert value(result, "searches_per_session.ks") == pytest.approx(1 / 2)
    assert value(result, "query_length.real.mean") == pytest.approx(1.5)
    assert value(result, "query_length.simulated.mean") == pytest.approx(2.0)
    assert value(result, "query_length.wasserstein") == pytest.approx(1 / 6 + 1 / 3)
    assert value(result, "query_length.ks") == pytest.approx(1 / 3)


def test_purchase_rate_and_funnel(result):
    assert value(result, "purchase_rate.real") == pytest.approx(1 / 3)
    assert value(result, "purchase_rate.simulated") == pytest.approx(1 / 2)
    assert value(result, "purchase_rate.difference") == pytest.approx(1 / 6)
    # depths real (2, 4, 2), simulated (4, 1)
    assert [value(result, f"funnel.real.{s}") for s in ("search", "product", "cart", "purchase")] == pytest.approx(
        [1.0, 1.0, 1 / 3, 1 / 3])
    assert [value(result, f"funnel.simulated.{s}") for s in ("search", "product", "cart", "purchase")] == \
        pytest.approx([1.0, 0.5, 0.5, 0.5])
    assert value(result, "funnel.difference.product") == pytest.approx(-0.5)


def test_endings_and_where_terminate_falls(result):
    assert value(result, "ending.real.terminate") == pytest.approx(2 / 3)
    assert value(result, "ending.simulated.cut_off") == 0.0
    # terminated real visits left from product pages at steps 4 and 3; the simulated one after searching, at 3
    assert value(result, "leave_stage.real.product") == pytest.approx(1.0)
    assert value(result, "leave_stage.js") == pytest.approx(1.0)
    assert value(result, "terminate_step.real.mean") == pytest.approx(3.5)
    assert value(result, "terminate_step.simulated.mean") == pytest.approx(3.0)
    assert value(result, "terminate_step.wasserstein") == pytest.approx(0.5)
    assert value(result, "terminate_step.ks") == pytest.approx(0.5)


def test_summary_is_the_mean_of_three_divergences(result):
    parts = [value(result, f"{mix}.js") for mix in ("action_type", "click_target", "ending")]
    assert value(result, "summary.mean_js") == pytest.approx(sum(parts) / 3)
    ending_js = _js_reference({"purchase": 1, "terminate": 2}, {"purchase": 1, "terminate": 1})
    assert value(result, "ending.js") == pytest.approx(ending_js)


def test_same_sessions_on_both_sides_are_at_distance_zero():
    same = compare_sessions(REAL, REAL, n_resamples=0)
    for key in ("summary.mean_js", "click_target.js", "session_length.wasserstein", "query_length.ks",
                "purchase_rate.difference"):
        assert value(same, key) == pytest.approx(0.0), key


# --- bootstrap -------------------------------------------------------------------------------------------

def test_intervals_bracket_the_value_and_follow_the_seed():
    first = compare_sessions(REAL, SIM, n_resamples=300, seed=3)
    again = compare_sessions(REAL, SIM, n_resamples=300, seed=3)
    other = compare_sessions(REAL, SIM, n_resamples=300, seed=4)
    estimate = first.get("session_length.real.mean")
    assert estimate.low <= estimate.value <= estimate.high and estimate.low < estimate.high
    assert 3.0 <= estimate.low and estimate.high <= 5.0  # resampled means of {3, 4, 5} stay within them
    assert first.estimates == again.estimates
    assert first.estimates != other.estimates


def test_a_constant_gap_has_a_zero_width_interval():
    # every real visit is 3 steps, every simulated one 5: any resample gives W1 = 2 and KS = 1 exactly
    real = [visit(f"r{i}", search("q"), click("search_results.item_1"), end()) for i in range(4)]
    sim = [visit(f"s{i}", search("q"), click("sort.top_rated"), click("search_results.item_1"),
                 click("pagination.next"), end()) for i in range(5)]
    result = compare_sessions(real, sim, n_resamples=200)
    w1 = result.get("session_length.wasserstein")
    assert (w1.value, w1.low, w1.high) == pytest.approx((2.0, 2.0, 2.0))
    assert result.get("session_length.ks").low == pytest.approx(1.0)
    assert result.get("click_target.real.product_link").high == pytest.approx(1.0)


def test_undefined_metrics_are_none_not_zero():
    bought = [visit("b", search("q"), click("buy_now"))]
    result = compare_sessions(bought, bought, n_resamples=50)
    assert result.get("terminate_step.wasserstein").value is None  # nobody terminated
    assert result.get("leave_stage.js").low is None
    assert compare_sessions(REAL, SIM, n_resamples=0).get("session_length.ks").low is None


def test_empty_side_is_refused():
    with pytest.raises(ValueError, match="at least one session"):
        compare_sessions([], SIM)


# --- report ----------------------------------------------------------------------------------------------

def test_json_layout(result):
    data = result.to_dict()
    assert data["real"]["sessions"] == 3 and data["simulated"]["steps"] == 7
    assert data["session_length"]["wasserstein"]["value"] == pytest.approx(0.5)
    assert data["session_length"]["values"] == [3.0, 4.0, 5.0]
    assert data["session_length"]["real_counts"] == [1, 1, 1]
    assert data["funnel"]["simulated"]["cart"]["value"] == pytest.approx(0.5)
    assert data["click_target_per_action"]["real"]["review"]["value"] == pytest.approx(1 / 6)
    assert data["summary"]["components"] == ["action_type.js", "click_target.js", "ending.js"]


def test_markdown_rows(result):
    text = render_markdown(result, ["mixes.png"])
    assert "| review | 25.0 | 0.0 | 16.7 | 0.0 |" in text
    assert "| cart | 33.3 | 50.0 | +16.7 |" in text
    assert "| session length (steps) | 4.00 | 3.50 | -0.50 | 0.50 | 0.333 |" in text
    assert "![mixes](mixes.png)" in text


def test_format_value():
    from shop_r1.evaluation.runs import Estimate

    assert format_value(Estimate(0.19, 0.112, 0.269)) == "19.0 [11.2, 26.9]"
    assert format_value(Estimate(None)) == "n/a"
    assert format_value(Estimate(2.0), lambda x: f"{x:.2f}") == "2.00"
