"""parse_completion: which model outputs are well formed (the format reward's test, shared with evaluation)."""

from __future__ import annotations

import json

import pytest

from shop_r1.parsing import ParseConfig, ParsedOutput, PredictedAction, parse_completion
from shop_r1.schema import Action, ActionType

FENCED = ParseConfig(allow_code_fence=True)


def out(rationale: str, kind: str, name: str | None = None, text: str | None = None) -> ParsedOutput:
    return ParsedOutput(rationale, PredictedAction(ActionType(kind), name, text))


CLICK = '{"rationale": "Reviews first.", "action": {"type": "click", "name": "refinements.customer_reviews"}}'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (CLICK, out("Reviews first.", "click", "refinements.customer_reviews")),
        (
            '{"rationale": "Search.", "action": {"type": "type_and_submit", "name": "search_input", "text": "red"}}',
            out("Search.", "type_and_submit", "search_input", "red"),
        ),
        ('{"rationale": "Done.", "action": {"type": "terminate"}}', out("Done.", "terminate")),
        ("\n  " + CLICK + "\n\n", parse_completion(CLICK)),
        ('{"action": {"type": "terminate"}, "rationale": "x"}', out("x", "terminate")),
        ('{"rationale": "", "action": {"type": "terminate"}}', out("", "terminate")),
        ('{"rationale": "x", "action": {"type": "click"}}', out("x", "click")),
        ('{"rationale": "x", "action": {"type": "click", "name": ""}}', out("x", "click", "")),
        ('{"rationale": "x", "action": {"type": "click", "name": null}}', out("x", "click")),
        (
            '{"rationale": "x", "action": {"type": "terminate", "name": null, "text": null}}',
            out("x", "terminate"),
        ),
        (
            '{"rationale": "I said \\"hi\\" \\ud83d\\ude00", "action": {"type": "terminate"}}',
            ParsedOutput('I said "hi" 😀', PredictedAction(ActionType.TERMINATE)),
        ),
        (
            '{"rationale": "x", "action": {"type": "type_and_submit", "name": "search_input"}}',
            out("x", "type_and_submit", "search_input"),
        ),
    ],
    ids=[
        "click",
        "type_and_submit",
        "terminate",
        "surrounding_whitespace",
        "action_before_rationale",
        "empty_rationale",
        "click_missing_name",
        "click_empty_name",
        "click_null_name_is_absent",
        "terminate_null_fields_are_absent",
        "escapes_and_surrogate_pair",
        "type_and_submit_missing_text",
    ],
)
def test_valid_outputs_parse(text: str, expected: ParsedOutput) -> None:
    assert parse_completion(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "null",
        "[]",
        '"just a string"',
        "42",
        CLICK[:-1],
        CLICK[:40],
        CLICK + " " + CLICK,
        CLICK + "\nI hope this helps!",
        "Sure! " + CLICK,
        "```json\n" + CLICK + "\n```",
        '{"rationale": "x"}',
        '{"action": {"type": "terminate"}}',
        '{"rationale": "x", "action": {"type": "terminate"}, "confidence": 0.9}',
        '{"rationale": "x", "action": {"type": "terminate"}, "rationale": "y"}',
        '{"rationale": 7, "action": {"type": "terminate"}}',
        '{"rationale": null, "action": {"type": "terminate"}}',
        '{"rationale": ["x"], "action": {"type": "terminate"}}',
        '{"rationale": "x", "action": "terminate"}',
        '{"rationale": "x", "action": [{"type": "terminate"}]}',
        '{"rationale": "x", "action": {}}',
        '{"rationale": "x", "action": {"type": "scroll"}}',
        '{"rationale": "x", "action": {"type": "Click", "name": "a"}}',
        '{"rationale": "x", "action": {"type": 1}}',
        '{"rationale": "x", "action": {"type": "click", "name": 12}}',
        '{"rationale": "x", "action": {"type": "click", "name": ["a"]}}',
        '{"rationale": "x", "action": {"type": "type_and_submit", "name": "q", "text": 3.5}}',
        '{"rationale": "x", "action": {"type": "type_and_submit", "name": "q", "text": {"v": "a"}}}',
        '{"rationale": "x", "action": {"type": "click", "name": "a", "text": "b"}}',
        '{"rationale": "x", "action": {"type": "terminate", "name": "close"}}',
        '{"rationale": "x", "action": {"type": "click", "name": "a", "target": "b"}}',
        '{"rationale": "x", "action": {"type": "click", "name": "a", "name": "b"}}',
        "{'rationale': 'x', 'action': {'type': 'terminate'}}",
        '{"rationale": "x", "action": {"type": "terminate"},}',
        '{"rationale": NaN, "action": {"type": "terminate"}}',
        "[" * 100_000 + "]" * 100_000,
        '{"a":' * 50_000 + "1" + "}" * 50_000,
    ],
    ids=[
        "empty",
        "blank",
        "json_null",
        "json_list",
        "json_string",
        "json_number",
        "truncated_last_brace",
        "truncated_mid_string",
        "two_objects",
        "trailing_prose",
        "leading_prose",
        "fence_in_strict_mode",
        "missing_action",
        "missing_rationale",
        "extra_top_level_key",
        "duplicate_top_level_key",
        "rationale_number",
        "rationale_null",
        "rationale_list",
        "action_string",
        "action_list",
        "action_without_type",
        "unknown_type",
        "type_wrong_case",
        "type_number",
        "name_number",
        "name_list",
        "text_number",
        "text_object",
        "click_with_text",
        "terminate_with_name",
        "extra_action_key",
        "duplicate_action_key",
        "python_quotes",
        "trailing_comma",
        "nan_literal",
        "deeply_nested_list",
        "deeply_nested_objects",
    ],
)
def test_invalid_outputs_give_none(text: str) -> None:
    assert parse_completion(text) is None


@pytest.mark.parametrize(
    "value",
    [None, 42, b'{"rationale": "x", "action": {"type": "terminate"}}', [{"content": CLICK}]],
    ids=["none", "int", "bytes", "message_list"],
)
def test_non_string_input_is_invalid(value: object) -> None:
    assert parse_completion(value) is None


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("```json\n" + CLICK + "\n```", True),
        ("```\n" + CLICK + "\n```", True),
        ("  ```JSON\n" + CLICK + "```\n", True),
        (CLICK, True),
        ("Here you go:\n```json\n" + CLICK + "\n```", False),
        ("```json\n" + CLICK + "\n```\nDone.", False),
        ("```json\n" + CLICK + "\n", False),
        ("```python\n" + CLICK + "\n```", False),
        ("```json\n" + CLICK + "\n```\n```json\n" + CLICK + "\n```", False),
    ],
    ids=[
        "json_fence",
        "bare_fence",
        "upper_case_tag_no_newline_before_close",
        "unfenced_still_valid",
        "prose_before_fence",
        "prose_after_fence",
        "unclosed_fence",
        "other_language_tag",
        "two_fences",
    ],
)
def test_lenient_mode_accepts_one_json_fence(text: str, valid: bool) -> None:
    assert (parse_completion(text, FENCED) is not None) is valid


def test_predicted_action_round_trips_through_dict() -> None:
    parsed = parse_completion(
        '{"rationale": "x", "action": {"type": "type_and_submit", "name": "search_input", "text": "red shoes"}}'
    )
    assert parsed is not None
    assert parsed.to_dict() == {
        "rationale": "x",
        "action": {"type": "type_and_submit", "name": "search_input", "text": "red shoes"},
    }
    assert json.loads(json.dumps(parsed.to_dict())) == parsed.to_dict()


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (PredictedAction(ActionType.CLICK, "buy_now"), Action("click", name="buy_now")),
        (PredictedAction(ActionType.CLICK, ""), None),
        (PredictedAction(ActionType.TYPE_AND_SUBMIT, "q", None), None),
        (PredictedAction(ActionType.TYPE_AND_SUBMIT, "q", "shoes"), Action("type_and_submit", name="q", text="shoes")),
        (PredictedAction(ActionType.TERMINATE), Action("terminate")),
    ],
    ids=["click", "click_empty_name", "submit_missing_text", "submit", "terminate"],
)
def test_to_action_is_strict(action: PredictedAction, expected: Action | None) -> None:
    assert action.to_action() == expected
