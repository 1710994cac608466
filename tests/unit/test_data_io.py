import json
import os
import stat

import pytest

from shop_r1.data import (
    RecordProblem,
    SessionFileError,
    atomic_write,
    read_sessions,
    sessions_to_dataset,
    write_sessions,
)
from tests.conftest import make_session


def _sessions():
    return [
        make_session("s1", "u1", persona={"description": "Wants socks", "budget": 20}),
        make_session("s2", None, n_steps=2, persona="A plain-text persona"),
        make_session("s3", "u2", n_steps=4),
    ]


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"], ids=["jsonl", "parquet"])
def test_round_trip(tmp_path, suffix):
    sessions = _sessions()
    path = tmp_path / f"sessions{suffix}"
    assert write_sessions(path, sessions) == 3
    assert read_sessions(path) == sessions


def test_jsonl_layout_is_flat_and_one_session_per_line(tmp_path):
    path = tmp_path / "s.jsonl"
    write_sessions(path, _sessions())
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3
    first = json.loads(lines[0])
    assert list(first) == ["session_id", "user_id", "persona", "steps"]
    assert list(first["steps"][0]) == ["url", "html", "action", "rationale", "meta"]
    assert first["steps"][0]["action"] == {"type": "type_and_submit", "name": "search_input", "text": "query 0"}


def test_dataset_export_keeps_every_step():
    dataset = sessions_to_dataset(_sessions())
    assert dataset.num_rows == 3
    assert [len(steps) for steps in dataset["steps"]] == [3, 2, 4]
    assert dataset[0]["steps"][2]["action"]["type"] == "terminate"


def _write_lines(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _bad_file(tmp_path):
    good = make_session("ok1").to_json()
    bad_action = json.dumps({"session_id": "bad-1", "steps": [{"action": {"type": "click"}}]})
    _write_lines(tmp_path / "s.jsonl", [good, "{not json", "", bad_action, make_session("ok2").to_json()])
    return tmp_path / "s.jsonl"


def test_error_names_file_line_session_and_field(tmp_path):
    path = _bad_file(tmp_path)
    with pytest.raises(SessionFileError) as info:
        read_sessions(path)
    assert info.value.problem.line == 2
    assert str(info.value).startswith(f"{path}:2: not valid JSON")


def test_invalid_action_message(tmp_path):
    path = tmp_path / "s.jsonl"
    _write_lines(
        path,
        [
            json.dumps(
                {"session_id": "bad-1", "steps": [{"action": {"type": "terminate"}}, {"action": {"type": "click"}}]}
            )
        ],
    )
    with pytest.raises(SessionFileError) as info:
        read_sessions(path)
    assert str(info.value) == (
        f"{path}:1 (session bad-1): steps[1].action.name: required and non-empty for click "
        "(use --skip-invalid to skip such records)"
    )


def test_skip_invalid_keeps_going_and_reports(tmp_path):
    problems: list[RecordProblem] = []
    sessions = read_sessions(_bad_file(tmp_path), skip_invalid=True, problems=problems)
    assert [s.session_id for s in sessions] == ["ok1", "ok2"]
    assert [(p.line, p.session_id, p.field) for p in problems] == [(2, None, ""), (4, "bad-1", "steps[0].action.name")]


def test_duplicate_session_ids_are_rejected(tmp_path):
    path = tmp_path / "s.jsonl"
    _write_lines(path, [make_session("same").to_json(), make_session("same").to_json()])
    with pytest.raises(SessionFileError, match=r":2 \(session same\): session_id: duplicate session id"):
        read_sessions(path)


def test_interrupted_write_leaves_the_old_file_intact(tmp_path):
    path = tmp_path / "s.jsonl"
    write_sessions(path, _sessions())
    before = path.read_bytes()

    def dying():
        yield make_session("new1")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_sessions(path, dying())
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["s.jsonl"]  # no temporary file left behind


def test_atomic_write_creates_readable_file_and_parents(tmp_path):
    target = tmp_path / "a" / "b" / "out.txt"
    with atomic_write(target) as handle:
        handle.write("done")
    assert target.read_text() == "done"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask  # as open() would create it, not 0600
