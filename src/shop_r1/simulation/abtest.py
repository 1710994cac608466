"""A/B tests of store variants: the simulator's estimated effect beside the world's true effect.

Both arms run the same visits (`v00001`...: the same seeds, and so the same world shoppers and, with world
personas, the same personas for the model); only the store differs. The difference B - A of each metric
gets a paired percentile bootstrap interval that resamples visits with the same weights in both arms
(`shop_r1.evaluation.bootstrap.paired_difference_intervals`): visit i in A and visit i in B are the same
shopper, so pairing removes the shopper-to-shopper spread from the interval.

Ground truth: the world's rule-based shoppers visit both variants too. Their difference is the true
effect of the change *for the world's shoppers*; a simulator trained on that world should recover at
least its sign. With `--model world` the simulator is the world itself (a check of the machinery).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from shop_r1.data.atomic import atomic_write
from shop_r1.evaluation.bootstrap import bootstrap_intervals, paired_difference_intervals
from shop_r1.simulation.config import SimulationConfig, store_config_dict
from shop_r1.simulation.drivers import Driver, WorldDriver
from shop_r1.simulation.loop import Progress, simulate
from shop_r1.simulation.outcomes import COUNT_COLUMNS, outcome_matrix, read_outcomes
from shop_r1.simulation.shoppers import visit_ids
from shop_r1.world.store import StoreConfig

__all__ = ["METRICS", "arm_metrics", "compare_arms", "format_difference", "render_report", "run_abtest"]

METRICS = ("purchase_rate", "search_rate", "product_rate", "cart_rate", "mean_steps")
_COL = {name: index for index, name in enumerate(COUNT_COLUMNS)}


def arm_metrics(totals: np.ndarray) -> dict[str, float | None]:
    """Summed per-visit counts (`COUNT_COLUMNS`) -> rates per visit and mean session length."""
    visits = totals[_COL["visits"]]
    if visits <= 0:
        return dict.fromkeys(METRICS)
    return {
        "purchase_rate": float(totals[_COL["purchase"]] / visits),
        "search_rate": float(totals[_COL["search"]] / visits),
        "product_rate": float(totals[_COL["product"]] / visits),
        "cart_rate": float(totals[_COL["cart"]] / visits),
        "mean_steps": float(totals[_COL["steps"]] / visits),
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def compare_arms(counts_a: np.ndarray, counts_b: np.ndarray, *, n_resamples: int = 1000, confidence: float = 0.95,
                 seed: int = 0) -> dict[str, Any]:
    """Both arms' metrics (with their own intervals) and the paired difference B - A per metric."""
    metrics_a, metrics_b = arm_metrics(counts_a.sum(axis=0)), arm_metrics(counts_b.sum(axis=0))
    diff = paired_difference_intervals(counts_a, counts_b, arm_metrics, n_resamples=n_resamples,
                                       confidence=confidence, seed=seed)
    out: dict[str, Any] = {"visits": int(counts_a.shape[0]), "a": {}, "b": {}, "difference": {}}
    for arm, counts, metrics in (("a", counts_a, metrics_a), ("b", counts_b, metrics_b)):
        intervals = bootstrap_intervals(counts, arm_metrics, n_resamples=n_resamples, confidence=confidence, seed=seed)
        out[arm] = {m: {"value": _rounded(metrics[m]), "low": _rounded(intervals[m].low),
                        "high": _rounded(intervals[m].high)} for m in METRICS}
    for m in METRICS:
        a, b = metrics_a[m], metrics_b[m]
        estimate = None if a is None or b is None else b - a
        out["difference"][m] = {"estimate": _rounded(estimate), "low": _rounded(diff[m].low),
                                "high": _rounded(diff[m].high)}
    return out


def _sign(value: float | None) -> int | None:
    return None if value is None else (0 if math.isclose(value, 0.0, abs_tol=1e-12) else (1 if value > 0 else -1))


def _recovery(simulated: Mapping[str, Any], true: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for m in METRICS:
        sim, world = simulated["difference"][m], true["difference"][m]
        same = _sign(sim["estimate"]) == _sign(world["estimate"])
        # "Significant": the interval excludes 0, so the simulator would have told the team the same thing.
        significant = sim["low"] is not None and (sim["low"] > 0 or sim["high"] < 0)
        out[m] = {"sign_recovered": same, "simulator_interval_excludes_zero": significant,
                  "true_effect_in_simulator_interval": sim["low"] is not None
                  and sim["low"] <= world["estimate"] <= sim["high"]}
    return out


def run_abtest(
    config: SimulationConfig,
    variant_a: StoreConfig,
    variant_b: StoreConfig,
    out_dir: str | Path,
    *,
    driver: Driver | None,
    settings: dict[str, Any] | None = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    on_arm: Callable[[str], Callable[[Progress], None]] = lambda name: lambda progress: None,
) -> dict[str, Any]:
    """Simulate both variants with `driver` (`None`: the world is the simulator) and with the world's
    shoppers; write `abtest.json` and `report.md` in `out_dir` and return the JSON's content. Each arm's
    sessions stay in `out_dir` (`simulator_a.jsonl`, ..., `world_b.jsonl`) and resume like `simulate`."""
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    ids = visit_ids(config.shoppers)
    runs: dict[str, dict[str, Path]] = {"world": {}, "simulator": {}}
    for arm, store in (("a", variant_a), ("b", variant_b)):
        arm_config = dataclasses.replace(config, store=store)
        path = directory / f"world_{arm}.jsonl"
        simulate(arm_config, WorldDriver(), path, on_progress=on_arm(f"world {arm.upper()}"))
        runs["world"][arm] = path
        if driver is not None:
            path = directory / f"simulator_{arm}.jsonl"
            simulate(arm_config, driver, path, settings=settings, on_progress=on_arm(f"simulator {arm.upper()}"))
        runs["simulator"][arm] = path

    def counts(kind: str, arm: str) -> np.ndarray:
        return outcome_matrix(read_outcomes(runs[kind][arm]), ids)

    world = compare_arms(counts("world", "a"), counts("world", "b"), n_resamples=n_resamples,
                         confidence=confidence, seed=config.seed)
    simulator = world if driver is None else compare_arms(
        counts("simulator", "a"), counts("simulator", "b"), n_resamples=n_resamples, confidence=confidence,
        seed=config.seed)
    result = {
        "shoppers": config.shoppers,
        "seed": config.seed,
        "confidence": confidence,
        "n_resamples": n_resamples,
        "simulator_is_world": driver is None,
        "settings": settings or {},
        "variants": {"a": store_config_dict(variant_a), "b": store_config_dict(variant_b),
                     "changed": _changed(variant_a, variant_b)},
        "files": {kind: {arm: path.name for arm, path in arms.items()} for kind, arms in runs.items()},
        "simulator": simulator,
        "world": world,
        "recovery": _recovery(simulator, world),
    }
    with atomic_write(directory / "abtest.json") as handle:
        handle.write(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    with atomic_write(directory / "report.md") as handle:
        handle.write(render_report(result))
    return result


def _changed(a: StoreConfig, b: StoreConfig) -> dict[str, list[Any]]:
    da, db = store_config_dict(a), store_config_dict(b)
    return {key: [da[key], db[key]] for key in da if da[key] != db[key]}


def _fmt(value: float | None, metric: str) -> str:
    if value is None:
        return "n/a"
    return f"{value:.2f}" if metric == "mean_steps" else f"{value:.1%}"


def format_difference(diff: Mapping[str, Any], metric: str) -> str:
    """`+1.23 pp [+0.50, +2.00]` for a rate (`+0.56 [...]` for mean_steps); `n/a` without an estimate."""
    if diff["estimate"] is None:
        return "n/a"
    scale, unit = (1, "") if metric == "mean_steps" else (100, " pp")
    return (f"{diff['estimate'] * scale:+.2f}{unit} [{diff['low'] * scale:+.2f}, {diff['high'] * scale:+.2f}]"
            if diff["low"] is not None else f"{diff['estimate'] * scale:+.2f}{unit}")


def render_report(result: Mapping[str, Any]) -> str:
    """`report.md`: what changed, then per metric both arms and B - A for the simulator and the world."""
    changed = ", ".join(f"`{key}` {a} -> {b}" for key, (a, b) in result["variants"]["changed"].items()) or "nothing"
    level = f"{result['confidence']:.0%}"
    lines = [
        "# A/B test", "",
        f"{result['shoppers']} visits per arm, seed {result['seed']}; B changes {changed}. Intervals: paired "
        f"{level} percentile bootstrap over visits ({result['n_resamples']} resamples).", "",
    ]
    if result["simulator_is_world"]:
        lines += ["The simulator here is the world's own rule-based shoppers (`--model world`): its effect is "
                  "the true effect by definition.", ""]
    lines += ["| metric | simulator A | simulator B | simulator B - A | world A | world B | true B - A | sign |",
              "|---|---|---|---|---|---|---|---|"]
    for m in METRICS:
        sim, world, rec = result["simulator"], result["world"], result["recovery"][m]
        sign = "recovered" if rec["sign_recovered"] else "**wrong**"
        lines.append(f"| {m} | {_fmt(sim['a'][m]['value'], m)} | {_fmt(sim['b'][m]['value'], m)} | "
                     f"{format_difference(sim['difference'][m], m)} | {_fmt(world['a'][m]['value'], m)} | "
                     f"{_fmt(world['b'][m]['value'], m)} | {format_difference(world['difference'][m], m)} | {sign} |")
    purchase = result["recovery"]["purchase_rate"]
    verdict = ("recovers the sign of the true purchase-rate effect" if purchase["sign_recovered"]
               else "gets the sign of the true purchase-rate effect wrong")
    strength = (" and its interval excludes zero" if purchase["simulator_interval_excludes_zero"]
                else ", but its interval includes zero")
    lines += ["", f"The simulator {verdict}{strength}. Funnel rates are shares of all visits (see "
              "docs/simulation.md); pp = percentage points.", ""]
    return "\n".join(lines)
