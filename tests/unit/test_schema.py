import json

import pytest

from shop_r1.schema import Action, ActionType, SchemaError, Session, Step


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"type": "click", "name": "search_results.item_2"}, Action("click", name="search_results.item_2")),
        (
            {"type": "type_and_submit", "name": "search_input", "text": "wool socks"},
            Action("type_and_submit", name="search_input", text="wool socks"),
        ),
        ({"type": "terminate"}, Action("terminate")),
        ({"type": "terminate", "name": None, "text": None}, Action("terminate")),
        (
            {"type": "type_and_submit", "name": "q", "text": "  two  spaces "},
            Action("type_and_submit", "q", "  two  spaces "),
        ),
    ],
    ids=["click", "type_and_submit", "terminate", "nulls-count-as-absent", "text-kept-as-typed"],
)
def test_valid_actions(data, expected):
    action = Action.from_dict(data)
    assert action == expected
    assert isinstance(action.type, ActionType)


@pytest.mark.parametrize(
    ("data", "field", "reason_part"),
    [
        ({"type": "scroll"}, "type", "must be one of click, type_and_submit, terminate"),
        ({"name": "x"}, "type", "required"),
        ({"type": "click"}, "name", "required and non-empty for click"),
        ({"type": "click", "name": ""}, "name", "required and non-empty for click"),
        ({"type": "click", "name": "a", "text": "b"}, "text", "must be absent for click"),
        ({"type": "type_and_submit", "name": "q"}, "text", "required and non-empty for type_and_submit"),
        ({"type": "type_and_submit", "text": "socks"}, "name", "required and non-empty"),
        ({"type": "terminate", "name": "x"}, "name", "must be absent for terminate"),
        ({"type": "terminate", "text": "x"}, "text", "must be absent for terminate"),
        ({"type": "click", "name": 3}, "name", "must be a string, got int"),
        ({"type": "click", "name": "a", "extra": 1}, "extra", "unknown field"),
    ],
    ids=[
        "unknown-type",
        "missing-type",
        "click-no-name",
        "click-empty-name",
        "click-with-text",
        "tas-no-text",
        "tas-no-name",
        "terminate-with-name",
        "terminate-with-text",
        "name-not-string",
        "unknown-key",
    ],
)
def test_invalid_actions_name_field_and_reason(data, field, reason_part):
    with pytest.raises(SchemaError) as info:
        Action.from_dict(data)
    assert info.value.field == field
    assert reason_part in info.value.reason


def test_nested_error_names_the_full_path():
    record = {
        "session_id": "s1",
        "steps": [
            {"action": {"type": "click", "name": "a"}},
            {"action": {"type": "type_and_submit", "name": "search_input"}},
        ],
    }
    with pytest.raises(SchemaError) as info:
        Session.from_dict(record)
    assert info.value.field == "steps[1].action.text"
    assert str(info.value) == "steps[1].action.text: required and non-empty for type_and_submit"


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"steps": [{"action": {"type": "terminate"}}]}, "session_id"),
        ({"session_id": "", "steps": [{"action": {"type": "terminate"}}]}, "session_id"),
        ({"session_id": "s", "steps": []}, "steps"),
        ({"session_id": "s", "steps": "x"}, "steps"),
        ({"session_id": "s", "steps": [{"html": "<p/>"}]}, "steps[0].action"),
        ({"session_id": "s", "steps": [{"action": {"type": "terminate"}, "html": 5}]}, "steps[0].html"),
        ({"session_id": "s", "steps": [{"action": {"type": "terminate"}, "meta": []}]}, "steps[0].meta"),
        ({"session_id": "s", "persona": 5, "steps": [{"action": {"type": "terminate"}}]}, "persona"),
        ({"session_id": "s", "user": "u", "steps": [{"action": {"type": "terminate"}}]}, "user"),
    ],
    ids=[
        "no-id",
        "empty-id",
        "no-steps",
        "steps-not-list",
        "step-without-action",
        "html-not-string",
        "meta-not-object",
        "persona-number",
        "typo-key",
    ],
)
def test_invalid_sessions(record, field):
    with pytest.raises(SchemaError) as info:
        Session.from_dict(record)
    assert info.value.field == field


def test_json_round_trip_is_exact():
    line = json.dumps(
        {
            "session_id": "s1",
            "user_id": "u1",
            "persona": {"description": "Needs socks", "patience": 0.4},
            "steps": [
                {
                    "url": "https://shop.example/",
                    "html": '<body><input name="search_input"/></body>',
                    "action": {"type": "type_and_submit", "name": "search_input", "text": "wool socks ünï"},
                    "rationale": "I want warm socks. 🧦",
                    "meta": {"reason": "search", "slots": {"q": "wool"}},
                },
                {"url": None, "html": "", "action": {"type": "terminate"}, "rationale": None, "meta": {}},
            ],
        },
        ensure_ascii=False,
    )
    session = Session.from_json(line)
    assert session.to_json() == line
    assert Session.from_json(session.to_json()) == session


def test_omitted_optional_fields_get_defaults():
    session = Session.from_dict({"session_id": "s", "steps": [{"action": {"type": "terminate"}}]})
    assert session.user_id is None and session.persona is None
    assert session.steps[0] == Step(action=Action("terminate"), html="", url=None, rationale=None, meta={})
