"""The quality benchmark's target checks (benchmarks/quality.py), on hand-made seed tables."""

import importlib.util

import pytest

from tests.conftest import REPO_ROOT

spec = importlib.util.spec_from_file_location("quality_benchmark", REPO_ROOT / "benchmarks" / "quality.py")
quality = importlib.util.module_from_spec(spec)
spec.loader.exec_module(quality)


def _table(exact, paired_low):
    per_type = {"click": {"exact": exact["click"]}, "type_and_submit": {"exact": exact["tas"]}}
    rows = {setting: {"exact": value, "type_acc": value, "type_f1": value, "per_type": per_type}
            for setting, value in exact["settings"].items()}
    return {**rows, "paired": {"shop_r1_minus_sft": {"exact": [paired_low, paired_low + 0.1]}}}


SETTINGS = {"zero_shot": 0.0, "markov": 0.05, "sft": 0.10, "sft_continued": 0.12, "sft_rl_binary": 0.11,
            "shop_r1": 0.20}


def _checks(tables):
    return {name: ok for name, ok, _ in quality.check_targets(quality.summarise(tables), tables)}


def test_every_target_met_when_shop_r1_clears_each_bar():
    tables = [_table({"settings": SETTINGS, "click": 0.1, "tas": 0.1}, low) for low in (0.01, 0.02, 0.03)]
    checks = _checks(tables)
    assert len(checks) == 7 and all(checks.values())


def test_one_seed_whose_interval_touches_zero_fails_the_paired_target_only():
    tables = [_table({"settings": SETTINGS, "click": 0.1, "tas": 0.1}, low) for low in (0.01, 0.0, 0.03)]
    failed = [name for name, ok in _checks(tables).items() if not ok]
    assert failed == ["paired 95% interval of Shop-R1 - SFT exact above 0 in every seed"]


@pytest.mark.parametrize(("setting", "value", "target"), [
    ("markov", 0.11, "Shop-R1 exact >= 2 x frequency-table exact"),  # 0.20 < 2 x 0.11
    ("sft_continued", 0.21, "Shop-R1 exact >= continued SFT exact"),
    ("sft", 0.13, "Shop-R1 exact >= 1.65 x SFT exact"),  # 0.20 < 1.65 x 0.13 = 0.2145
])
def test_each_baseline_bar_is_checked_on_the_seed_means(setting, value, target):
    settings = {**SETTINGS, setting: value}
    tables = [_table({"settings": settings, "click": 0.1, "tas": 0.1}, 0.05) for _ in range(2)]
    assert [name for name, ok in _checks(tables).items() if not ok] == [target]
