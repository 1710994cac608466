"""Several simulators on one A/B test: whose estimated effect matches the world's true effect.

Input: the `abtest.json` of one `shop-r1 abtest` run per simulator (zero-shot, SFT, Shop-R1, ...), all on
the same variants, visits and seed, so that their world arms are the same shoppers and the true effect is
one number per metric. Output: per simulator and metric its estimate B - A with the paired interval and
the three recovery flags of `abtest` (sign, interval excluding zero, true effect inside the interval).
This is the question a team deciding on a store change asks of a simulator; the paper scores single
steps only (Table 2).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shop_r1.errors import ShopR1Error
from shop_r1.simulation.abtest import METRICS, format_difference

__all__ = ["compare_simulators", "render_simulator_comparison"]

# What must agree between the runs for their world arms to be the same visits.
_SHARED = ("shoppers", "seed", "variants")


def compare_simulators(results: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Named `abtest.json` contents -> one table of every simulator's effect beside the true one.

    Raises `ShopR1Error` when the runs differ in variants, visits or seed, or when their world arms
    disagree (they would not be the same A/B test).
    """
    if not results:
        raise ShopR1Error("no A/B test results to compare")
    names = list(results)
    first = results[names[0]]
    for name in names[1:]:
        for key in _SHARED:
            if results[name][key] != first[key]:
                raise ShopR1Error(f"A/B tests {names[0]!r} and {name!r} differ in {key}: "
                                  f"{first[key]!r} vs {results[name][key]!r}; compare runs of one test only")
        if results[name]["world"]["difference"] != first["world"]["difference"]:
            raise ShopR1Error(f"A/B tests {names[0]!r} and {name!r} have different world arms; rerun them with "
                              "the same store and world settings")
    simulators = {}
    for name, result in results.items():
        simulators[name] = {
            metric: {**result["simulator"]["difference"][metric], **result["recovery"][metric],
                     "a": result["simulator"]["a"][metric]["value"], "b": result["simulator"]["b"][metric]["value"]}
            for metric in METRICS
        }
    return {
        "shoppers": first["shoppers"],
        "seed": first["seed"],
        "confidence": first["confidence"],
        "changed": first["variants"]["changed"],
        "true": {metric: {**first["world"]["difference"][metric], "a": first["world"]["a"][metric]["value"],
                          "b": first["world"]["b"][metric]["value"]} for metric in METRICS},
        "simulators": simulators,
    }


def render_simulator_comparison(table: Mapping[str, Any]) -> str:
    """Markdown: one row per metric, the true effect then each simulator's estimate and whether its sign holds."""
    changed = ", ".join(f"`{key}` {a} -> {b}" for key, (a, b) in table["changed"].items()) or "nothing"
    names = list(table["simulators"])
    lines = [
        "# Simulators on one A/B test", "",
        f"{table['shoppers']} visits per arm, seed {table['seed']}; B changes {changed}. Each cell is B - A with "
        f"its paired {table['confidence']:.0%} interval; the world's own shoppers give the true effect.", "",
        "| metric | true B - A | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for metric in METRICS:
        cells = []
        for name in names:
            cell = table["simulators"][name][metric]
            verdict = "sign ok" if cell["sign_recovered"] else "**sign wrong**"
            cells.append(f"{format_difference(cell, metric)}, {verdict}")
        lines.append(f"| {metric} | {format_difference(table['true'][metric], metric)} | " + " | ".join(cells) + " |")
    recovered = [name for name in names if table["simulators"][name]["purchase_rate"]["sign_recovered"]]
    lines += ["", "Purchase-rate sign recovered by: " + (", ".join(recovered) if recovered else "none") + ".", ""]
    return "\n".join(lines)
