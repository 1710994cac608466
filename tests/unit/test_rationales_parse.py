import pytest

from shop_r1.rationales.parse import InvalidReply, extract_json_object, parse_session_reply, parse_step_reply

VALID = [
    ('{"rationales": ["I search.", "I pick it."]}', ["I search.", "I pick it."]),
    ('```json\n{"rationales": ["I search.", "I pick it."]}\n```', ["I search.", "I pick it."]),
    ('```\n{"rationales": ["I search.", "I pick it."]}\n```', ["I search.", "I pick it."]),
    ('Here you go:\n{"rationales": ["I search.", "I pick it."]}\nHope this helps!', ["I search.", "I pick it."]),
    ('Sure {not json} here:\n```json\n{"rationales": [" I search. ", "I {pick} it."]}\n```',
     ["I search.", "I {pick} it."]),
    ('{"rationales": ["I search.", "I pick it."], "notes": {"x": 1}}', ["I search.", "I pick it."]),
]


@pytest.mark.parametrize(("text", "expected"), VALID,
                         ids=["bare", "json-fence", "plain-fence", "prose-around", "braces-in-prose", "extra-key"])
def test_valid_session_replies(text, expected):
    assert parse_session_reply(text, 2) == expected


INVALID = [
    ("I think they wanted socks.", "no JSON object"),
    ('{"rationales": ["I search.", "I pick it."]', "no JSON object"),
    ("[\"I search.\", \"I pick it.\"]", "no JSON object"),
    ('{"rationales": ["a"]} and {"rationales": ["b"]}', "2 JSON objects"),
    ('{"rationales": ["I search."]}', "expected 2 rationales, got 1"),
    ('{"rationales": ["I search.", "I pick it.", "I leave."]}', "expected 2 rationales, got 3"),
    ('{"rationales": ["I search.", "   "]}', "rationale 2 is empty"),
    ('{"rationales": ["", "I pick it."]}', "rationale 1 is empty"),
    ('{"rationales": ["I search.", 3]}', "rationale 2 must be a string"),
    ('{"rationales": "I search. I pick it."}', "'rationales' must be a list"),
    ('{"rationale": ["I search.", "I pick it."]}', "no 'rationales' key"),
]


@pytest.mark.parametrize(("text", "reason"), INVALID,
                         ids=["prose", "unterminated", "bare-list", "two-objects", "too-few", "too-many",
                              "blank", "empty", "not-string", "not-list", "wrong-key"])
def test_invalid_session_replies_say_why(text, reason):
    with pytest.raises(InvalidReply, match=reason.replace("(", r"\(").replace(")", r"\)")):
        parse_session_reply(text, 2)


@pytest.mark.parametrize(("text", "expected"), [
    ('{"rationale": "I want the cheaper one."}', "I want the cheaper one."),
    ('```json\n{"rationale": "  I want the cheaper one.\\n"}\n```', "I want the cheaper one."),
], ids=["bare", "fenced"])
def test_valid_step_replies(text, expected):
    assert parse_step_reply(text) == expected


@pytest.mark.parametrize(("text", "reason"), [
    ('{"rationale": ""}', "empty"),
    ('{"rationales": ["I want it."]}', "no 'rationale' key"),
    ('{"rationale": null}', "must be a string"),
    ("no idea", "no JSON object"),
], ids=["empty", "session-shape", "null", "prose"])
def test_invalid_step_replies(text, reason):
    with pytest.raises(InvalidReply, match=reason):
        parse_step_reply(text)


def test_nested_objects_are_part_of_the_one_object():
    assert extract_json_object('x {"a": {"b": {"c": 1}}} y') == {"a": {"b": {"c": 1}}}
