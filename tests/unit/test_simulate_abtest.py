"""A/B tests whose true effect is known by construction.

Removing the "Buy Now" button sends every would-be one-click buyer through cart and checkout, where the
world's shoppers sometimes walk away: the purchase rate can only fall and sessions get longer. The
scripted page shopper (tests/unit/sim_fakes.py) abandons half of its carts by id, so it must recover
the sign through the whole model path (prompts, parsing, the store).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from shop_r1.prompts import PromptConfig
from shop_r1.simulation.abtest import arm_metrics, compare_arms, run_abtest
from shop_r1.simulation.config import SimulationConfig
from shop_r1.simulation.drivers import ModelDriver
from shop_r1.world.store import StoreConfig
from tests.unit.sim_fakes import PageShopperGenerator

PROMPT = PromptConfig(include_persona=False, max_context_tokens=None)
A, B = StoreConfig(), StoreConfig(buy_now_button=False)


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("ab")
    config = SimulationConfig(shoppers=120, seed=0, batch_size=16, prompt=PROMPT)
    driver = ModelDriver(PageShopperGenerator(), PROMPT)
    return out, run_abtest(config, A, B, out, driver=driver, settings={"model": "page-shopper"}, n_resamples=500)


def test_world_effect_has_the_constructed_sign(result):
    _, report = result
    world = report["world"]["difference"]
    assert world["purchase_rate"]["estimate"] < 0 and world["purchase_rate"]["high"] < 0
    assert world["mean_steps"]["estimate"] > 0 and world["mean_steps"]["low"] > 0
    # Nothing before the product page changes: the same shoppers search and open products alike.
    assert world["search_rate"] == {"estimate": 0.0, "low": 0.0, "high": 0.0}
    assert report["world"]["a"]["purchase_rate"]["value"] > report["world"]["b"]["purchase_rate"]["value"]


def test_simulator_recovers_the_sign(result):
    _, report = result
    sim = report["simulator"]
    # With the button every scripted visit buys; without it, the half that abandon carts do not.
    assert sim["a"]["purchase_rate"]["value"] == 1.0
    assert 0.3 < sim["b"]["purchase_rate"]["value"] < 0.7
    assert sim["difference"]["purchase_rate"]["high"] < 0
    assert report["recovery"]["purchase_rate"] == {"sign_recovered": True, "simulator_interval_excludes_zero": True,
                                                   "true_effect_in_simulator_interval": False}
    assert report["variants"]["changed"] == {"buy_now_button": [True, False]}


def test_files_written(result):
    out, report = result
    assert json.loads((out / "abtest.json").read_text()) == report
    text = (out / "report.md").read_text()
    assert "`buy_now_button` True -> False" in text
    assert "| purchase_rate | 100.0% |" in text and "recovers the sign" in text
    assert sorted(p.name for p in out.glob("*.jsonl")) == ["simulator_a.jsonl", "simulator_b.jsonl",
                                                           "world_a.jsonl", "world_b.jsonl"]


def test_paired_interval_of_a_known_difference():
    # 10 visits; B converts visits 0-4 that A did not: a +50 pp difference on every resample's pairs.
    a = np.array([[1, 1, 1, 1, 0, 3]] * 10, dtype=float)
    b = a.copy()
    b[:5, 4] = 1
    out = compare_arms(a, b, n_resamples=200)
    assert out["difference"]["purchase_rate"]["estimate"] == 0.5
    assert 0.1 < out["difference"]["purchase_rate"]["low"] <= 0.5 <= out["difference"]["purchase_rate"]["high"]
    assert arm_metrics(b.sum(axis=0))["purchase_rate"] == 0.5
    assert arm_metrics(np.zeros(6))["purchase_rate"] is None
