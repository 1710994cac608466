"""Several simulators on one A/B test (`shop_r1.simulation.simulator_comparison`).

Three simulators of known behaviour on the "Buy Now" test, whose true purchase effect is negative by
construction (tests/unit/test_simulate_abtest.py): the world itself (recovers the effect exactly), the
scripted page shopper (recovers its sign), and a shopper that leaves at once (effect 0: sign wrong, as a
simulator that never buys must get it).
"""

from __future__ import annotations

import copy

import pytest

from shop_r1.errors import ShopR1Error
from shop_r1.prompts import PromptConfig
from shop_r1.simulation.abtest import run_abtest
from shop_r1.simulation.config import SimulationConfig
from shop_r1.simulation.drivers import ModelDriver
from shop_r1.simulation.simulator_comparison import compare_simulators, render_simulator_comparison
from shop_r1.world.store import StoreConfig
from tests.unit.sim_fakes import TERMINATE, PageShopperGenerator, ScriptedGenerator

PROMPT = PromptConfig(include_persona=False, max_context_tokens=None)
A, B = StoreConfig(), StoreConfig(buy_now_button=False)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    config = SimulationConfig(shoppers=60, seed=0, batch_size=16, prompt=PROMPT)
    drivers = {"world": None, "page-shopper": ModelDriver(PageShopperGenerator(), PROMPT),
               "leaver": ModelDriver(ScriptedGenerator(lambda *key: TERMINATE), PROMPT)}
    return {name: run_abtest(config, A, B, tmp_path_factory.mktemp(name), driver=driver, n_resamples=300)
            for name, driver in drivers.items()}


def test_each_simulator_is_scored_against_the_one_true_effect(results):
    table = compare_simulators(results)
    true = table["true"]["purchase_rate"]
    assert true["estimate"] < 0 and true["high"] < 0
    assert table["changed"] == {"buy_now_button": [True, False]} and table["shoppers"] == 60

    world = table["simulators"]["world"]["purchase_rate"]
    assert world["estimate"] == true["estimate"] and world["true_effect_in_simulator_interval"]

    page = table["simulators"]["page-shopper"]["purchase_rate"]
    assert page["a"] == 1.0 and page["estimate"] < 0 and page["sign_recovered"]

    leaver = table["simulators"]["leaver"]
    assert leaver["purchase_rate"]["a"] == leaver["purchase_rate"]["b"] == 0.0
    assert leaver["purchase_rate"]["estimate"] == 0.0 and not leaver["purchase_rate"]["sign_recovered"]
    assert leaver["mean_steps"]["a"] == 1.0  # one terminate per visit in both arms


def test_report_names_who_recovered_the_sign(results):
    text = render_simulator_comparison(compare_simulators(results))
    assert "| metric | true B - A | world | page-shopper | leaver |" in text
    assert "Purchase-rate sign recovered by: world, page-shopper." in text
    purchase_row = next(line for line in text.splitlines() if line.startswith("| purchase_rate |"))
    assert purchase_row.endswith("+0.00 pp [+0.00, +0.00], **sign wrong** |")


def test_runs_of_different_tests_are_refused(results):
    other = copy.deepcopy(results["leaver"])
    other["shoppers"] = 61
    with pytest.raises(ShopR1Error, match="differ in shoppers"):
        compare_simulators({"world": results["world"], "other": other})
    other = copy.deepcopy(results["leaver"])
    other["world"]["difference"]["purchase_rate"]["estimate"] = 0.5
    with pytest.raises(ShopR1Error, match="different world arms"):
        compare_simulators({"world": results["world"], "other": other})
    with pytest.raises(ShopR1Error, match="no A/B test results"):
        compare_simulators({})
