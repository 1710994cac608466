"""Property-based fuzzing of parse + score: never raises, always finite, 0 for every invalid output.

Generated outputs: arbitrary text (lone surrogates included), near-valid objects with wrong value types,
extra keys and junk nesting, each serialised and then possibly truncated, wrapped in prose or a fence,
padded with huge strings or deep nesting. For the structured ones, an independent statement of the
format rule (below) says whether the output must be valid.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from shop_r1.parsing import parse_completion
from shop_r1.rewards import RewardBreakdown, RewardConfig, score_completion
from shop_r1.schema import Action

GOLDS = [
    Action("click", name="add_to_cart.buy_now"),
    Action("click", name="search_results.item_2"),
    Action("type_and_submit", name="search_input", text="red running shoes for women"),
    Action("terminate"),
]
MAX_TOTAL = 0.5 + 0.3 + 0.2 + 0.1 + 1000.0  # a correct type_and_submit, the largest payoff

text_any = st.text(st.characters(codec=None, exclude_categories=()), max_size=200)  # includes lone surrogates
json_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), text_any
)
json_junk = st.recursive(
    json_scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)
ACTION_TYPES = st.sampled_from(["click", "type_and_submit", "terminate"])
ELEMENT_NAMES = st.sampled_from(["add_to_cart.buy_now", "search_results.item_3", "search_input", "", "  "])


def mostly(draw: st.DrawFn, likely: st.SearchStrategy[Any], otherwise: st.SearchStrategy[Any], odds: int = 8) -> Any:
    """`likely` about odds/10 of the time, else `otherwise`: keeps a good share of outputs valid."""
    return draw(likely) if draw(st.integers(0, 9)) < odds else draw(otherwise)


@st.composite
def near_valid_objects(draw: st.DrawFn) -> dict[str, Any]:
    action: dict[str, Any] = {}
    if draw(st.integers(0, 9)):
        action["type"] = mostly(draw, ACTION_TYPES, st.one_of(st.sampled_from(["Click", "scroll", ""]), json_junk))
    for key in ("name", "text"):
        if draw(st.booleans()):
            action[key] = mostly(draw, st.one_of(ELEMENT_NAMES, text_any), st.one_of(st.none(), json_junk))
    if draw(st.integers(0, 9)) == 0:
        action[draw(st.sampled_from(["target", "value", "x"]))] = draw(json_junk)
    obj: dict[str, Any] = {}
    if draw(st.integers(0, 9)):
        obj["rationale"] = mostly(draw, text_any, json_junk, odds=9)
    if draw(st.integers(0, 9)):
        obj["action"] = action if draw(st.integers(0, 9)) else draw(json_junk)
    if draw(st.integers(0, 9)) == 0:
        obj[draw(st.sampled_from(["confidence", "thought", "Rationale"]))] = draw(json_junk)
    return obj


def expected_valid(obj: dict[str, Any]) -> bool:
    """The format rule, restated independently of the parser."""
    if set(obj) != {"rationale", "action"} or not isinstance(obj["rationale"], str):
        return False
    action = obj["action"]
    if not isinstance(action, dict):
        return False
    allowed = {"click": {"type", "name"}, "type_and_submit": {"type", "name", "text"}, "terminate": {"type"}}
    kind = action.get("type")
    if not isinstance(kind, str) or kind not in allowed:
        return False
    present = {k for k, v in action.items() if v is not None}
    return present <= allowed[kind] and all(isinstance(action.get(k), str | None) for k in ("name", "text"))


@st.composite
def corrupted(draw: st.DrawFn, text: str) -> str:
    """The serialised output, possibly corrupted the ways models corrupt it."""
    how = draw(
        st.sampled_from(["none", "none", "truncate", "prose", "fence", "second_object", "huge", "deep", "swap"])
    )
    if how == "truncate":
        return text[: draw(st.integers(0, max(len(text) - 1, 0)))]
    if how == "prose":
        return draw(st.sampled_from(["Sure! ", "", "Answer:\n"])) + text + draw(st.sampled_from(["", " Done.", "\n}"]))
    if how == "fence":
        return "```json\n" + text + "\n```"
    if how == "second_object":
        return text + text
    if how == "huge":
        return text.replace('": "', '": "' + "x" * draw(st.integers(10_000, 200_000)), 1)
    if how == "deep":
        depth = draw(st.integers(500, 50_000))
        return text.replace("{", "[" * depth + "{", 1) + "]" * depth
    if how == "swap" and len(text) > 2:
        i = draw(st.integers(0, len(text) - 2))
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text


@st.composite
def structured_outputs(draw: st.DrawFn) -> tuple[str, bool | None]:
    obj = draw(near_valid_objects())
    text = json.dumps(obj, ensure_ascii=draw(st.booleans()))
    out = draw(corrupted(text))
    # The rule decides only for untouched serialisations (plus surrounding whitespace).
    return (out, expected_valid(obj)) if out == text else (out, None)


@st.composite
def valid_outputs(draw: st.DrawFn) -> tuple[str, bool | None]:
    """Well-formed by construction, with arbitrary strings (huge, non-ASCII, surrogates) in every string slot."""
    kind = draw(ACTION_TYPES)
    action: dict[str, Any] = {"type": kind}
    if kind != "terminate" and draw(st.integers(0, 9)):
        action["name"] = draw(st.one_of(ELEMENT_NAMES, text_any))
    if kind == "type_and_submit" and draw(st.integers(0, 9)):
        action["text"] = draw(
            st.one_of(st.sampled_from(["red running shoes", "red running shoes for women"]), text_any)
        )
    rationale = draw(st.one_of(text_any, st.integers(0, 100_000).map(lambda n: "I " * n)))
    pad = draw(st.sampled_from(["", " ", "\n", "\n\n  "]))
    return pad + json.dumps({"rationale": rationale, "action": action}, ensure_ascii=draw(st.booleans())) + pad, True


any_output = st.one_of(text_any.map(lambda t: (t, None)), structured_outputs(), valid_outputs())


def check(output: str, expected: bool | None, gold: Action, config: RewardConfig) -> None:
    parsed = parse_completion(output, config.parse_config)
    event("valid" if parsed is not None else "invalid")
    result = score_completion(output, gold, config)
    if expected is not None:
        assert (parsed is not None) is expected
    fields = (result.format, result.type, result.attribute, result.value, result.action, result.total)
    assert all(math.isfinite(v) for v in fields)
    if parsed is None:
        assert result == RewardBreakdown(valid=False)
        return
    assert result.valid
    assert 0.0 <= result.total <= MAX_TOTAL + 1e-9
    if config.binary_action:
        assert (result.type, result.attribute, result.value) == (0.0, 0.0, 0.0)
        assert result.action == (config.binary_reward if result.exact_match else 0.0)
    else:
        assert result.action == pytest.approx(result.type + result.attribute + result.value, abs=1e-9)
    assert result.total == pytest.approx(result.format + result.action, abs=1e-9)


CONFIGS = st.sampled_from([RewardConfig(), RewardConfig(allow_code_fence=True), RewardConfig(binary_action=True)])
SUPPRESS = [HealthCheck.too_slow, HealthCheck.data_too_large]


@settings(max_examples=300, deadline=None, suppress_health_check=SUPPRESS)
@given(any_output, st.sampled_from(GOLDS), CONFIGS)
def test_fuzz_never_raises_and_pays_nothing_when_invalid(
    case: tuple[str, bool | None], gold: Action, config: RewardConfig
) -> None:
    check(*case, gold, config)


@pytest.mark.slow
@settings(max_examples=10_000, deadline=None, suppress_health_check=SUPPRESS)
@given(any_output, st.sampled_from(GOLDS), CONFIGS)
def test_fuzz_10k_never_raises_and_pays_nothing_when_invalid(
    case: tuple[str, bool | None], gold: Action, config: RewardConfig
) -> None:
    check(*case, gold, config)
