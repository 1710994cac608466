import json
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shop_r1.data import SessionFileError
from shop_r1.data.opera import import_opera, read_personas, user_id_of
from shop_r1.schema import Action


def test_real_fixture_counts_match_its_readme(opera_actions_path):
    sessions, report = import_opera(opera_actions_path)
    assert report.rows == 992
    assert len(sessions) == 90
    assert sum(len(s.steps) for s in sessions) == 992
    assert len({s.user_id for s in sessions}) == 15
    types = Counter(step.action.type.value for s in sessions for step in s.steps)
    assert types == {"click": 845, "type_and_submit": 107, "terminate": 40}
    assert sorted(len(s.steps) for s in sessions)[0] == 3
    assert max(len(s.steps) for s in sessions) == 54
    assert len({step.action.name for s in sessions for step in s.steps if step.action.name}) == 368
    # Every session ends in terminate (40) or a purchase click (50); terminate never occurs elsewhere.
    assert sum(s.steps[-1].action.type == "terminate" for s in sessions) == 40
    assert all(step.action.type != "terminate" for s in sessions for step in s.steps[:-1])
    assert report.skipped_types == {}
    assert report.ordered_by == "step_idx"


def test_real_fixture_keeps_text_and_rationales_exactly(opera_actions_path):
    rows = [json.loads(line) for line in opera_actions_path.read_text(encoding="utf-8").splitlines()]
    first_input = next(r for r in rows if r["action_type"] == "input")
    sessions, _ = import_opera(opera_actions_path)
    by_id = {s.session_id: s for s in sessions}
    step = by_id[first_input["session_id"]].steps[first_input["step_idx"]]
    assert step.action == Action("type_and_submit", name=first_input["semantic_id"], text=first_input["input_text"])
    assert step.rationale == first_input["rationale"]
    assert step.meta == {"step_idx": first_input["step_idx"]}  # no click_type for an input row


def _opera_rows():
    # Rows deliberately out of order, with a non-Shop-R1 action and OPeRA's session-id layout.
    sid = "user-a_2025-04-02T21:40:04Z_2025-04-02T21:44:25Z"
    return [
        {
            "session_id": sid,
            "action_id": "a3",
            "timestamp": "2025-04-02T21:41:00Z",
            "action_type": "click",
            "semantic_id": "search_results.item_1",
            "simplified_html": "<body>results</body>",
            "url": "https://shop.example/s?q=tea",
            "rationale": "Looks good",
            "input_text": None,
            "click_type": "product_link",
        },
        {
            "session_id": sid,
            "action_id": "a1",
            "timestamp": "2025-04-02T21:40:10Z",
            "action_type": "input",
            "semantic_id": "nav_bar.search_input",
            "simplified_html": "<body>home</body>",
            "url": "https://shop.example/",
            "rationale": "I need tea",
            "input_text": "assam tea",
            "click_type": None,
        },
        {
            "session_id": sid,
            "action_id": "a2",
            "timestamp": "2025-04-02T21:40:30Z",
            "action_type": "scroll",
            "semantic_id": None,
            "simplified_html": "<body>results</body>",
            "url": None,
            "rationale": None,
            "input_text": None,
            "click_type": None,
        },
        {
            "session_id": sid,
            "action_id": "a4",
            "timestamp": "2025-04-02T21:44:00Z",
            "action_type": "terminate",
            "semantic_id": None,
            "simplified_html": "<body>item</body>",
            "url": None,
            "rationale": "Too pricey",
            "input_text": None,
            "click_type": None,
        },
    ]


def _write_parquet(path, rows):
    pq.write_table(pa.Table.from_pylist(rows), path)


def test_parquet_in_opera_layout_orders_by_timestamp_and_counts_skips(tmp_path):
    source = tmp_path / "actions.parquet"
    _write_parquet(source, _opera_rows())
    users = tmp_path / "users.parquet"
    _write_parquet(users, [{"user_id": "user-a", "survey": json.dumps({"age": "25-34", "shops_for": "family"})}])
    sessions, report = import_opera(source, personas=read_personas(users))
    assert report.ordered_by == "timestamp"
    assert report.skipped_types == {"scroll": 1}
    (session,) = sessions
    assert session.user_id == "user-a"
    assert session.persona == {"age": "25-34", "shops_for": "family"}
    assert [step.action for step in session.steps] == [
        Action("type_and_submit", name="nav_bar.search_input", text="assam tea"),
        Action("click", name="search_results.item_1"),
        Action("terminate"),
    ]
    assert [step.html for step in session.steps] == ["<body>home</body>", "<body>results</body>", "<body>item</body>"]
    assert session.steps[1].url == "https://shop.example/s?q=tea"
    assert session.steps[1].meta == {
        "action_id": "a3",
        "timestamp": "2025-04-02T21:41:00Z",
        "click_type": "product_link",
    }


def test_falls_back_to_action_id_then_step_idx(tmp_path):
    rows = [dict(r, timestamp=None) for r in _opera_rows()]
    source = tmp_path / "a.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    sessions, report = import_opera(source)
    assert report.ordered_by == "action_id"
    assert [s.action.type.value for s in sessions[0].steps] == ["type_and_submit", "click", "terminate"]


def test_invalid_row_names_line_session_and_opera_column(tmp_path):
    rows = _opera_rows()
    rows[0]["semantic_id"] = None  # a click without an element
    source = tmp_path / "a.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    with pytest.raises(SessionFileError) as info:
        import_opera(source)
    assert (info.value.problem.line, info.value.problem.field) == (1, "semantic_id")
    assert info.value.problem.session_id == rows[0]["session_id"]
    sessions, report = import_opera(source, skip_invalid=True)
    assert len(sessions[0].steps) == 2 and len(report.invalid) == 1


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({"user_id": "u9", "session_id": "x_1_2"}, "u9"),
        ({"session_id": "abc_2025-01-01_2025-01-02"}, "abc"),
        ({"session_id": "no-underscore"}, None),
    ],
    ids=["explicit", "from-session-prefix", "unknown"],
)
def test_user_id_of(row, expected):
    assert user_id_of(row) == expected
