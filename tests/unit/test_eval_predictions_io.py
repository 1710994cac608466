"""Predictions rows and the append-only store: failure reasons, tail repair, reading back."""

from __future__ import annotations

import json

import pytest

from shop_r1.errors import ShopR1Error
from shop_r1.evaluation.predictions_io import AppendWriter, load_predictions, repair_tail
from shop_r1.evaluation.records import parse_failure_reason, prediction_row, prompt_sha256, record_from_row
from shop_r1.parsing import parse_completion

GOLD = {"type": "click", "name": "buy_now", "text": None}


def row(session: str = "s1", step: int = 0, completion: str = '{"rationale": "x", "action": {"type": "terminate"}}'):
    return {"session_id": session, "step_index": step, "completion": completion, "gold_action": GOLD}


def write_lines(path, rows, tail: str = ""):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + tail, encoding="utf-8")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "empty output"),
        ("```json\n{}\n```", "wrapped in a code fence"),
        ("Sure: {}", "no JSON object at the start"),
        ('{"rationale": "x", "action": {"type": "terminate"}} and more', "text after the JSON object"),
        ('{"rationale": "x"}', "wrong top-level keys: rationale"),
        ('{"rationale": 3, "action": {"type": "terminate"}}', "rationale is not a string"),
        ('{"rationale": "x", "action": {"type": "scroll"}}',
         "invalid action (unknown type, extra keys or non-string fields) or a repeated key"),
        ('{"rationale": "x", "action": {"type": "cl', "invalid JSON: Unterminated string starting at (char 38)"),
    ],
    ids=["empty", "fence", "prose-first", "trailing-text", "missing-action", "rationale-number", "bad-type",
         "truncated"],
)
def test_parse_failure_reason(text, expected):
    assert parse_completion(text) is None  # only ever asked about outputs the parser rejected
    assert parse_failure_reason(text) == expected


def test_prompt_hash_ignores_key_order_but_not_content():
    a = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    b = [{"content": "S", "role": "system"}, {"content": "U", "role": "user"}]
    assert prompt_sha256(a) == prompt_sha256(b)
    assert prompt_sha256(a) != prompt_sha256([a[0], {"role": "user", "content": "U2"}])


def test_prediction_row_records_parse_result_and_gold():
    dataset_row = {"session_id": "s1", "step_index": 2, "user_id": "u", "prompt": [{"role": "user", "content": "U"}],
                   "gold_action": GOLD, "gold_rationale": "Buy.", "gold_reason": "buy_now"}
    good = prediction_row(dataset_row, '{"rationale": "Buy.", "action": {"type": "click", "name": "buy_now"}}',
                          finish_reason="stop", completion_tokens=12, generation={"seed": 0})
    bad = prediction_row(dataset_row, "oops", finish_reason="length", completion_tokens=96, generation={"seed": 0})
    assert good["parsed"] == {"rationale": "Buy.", "action": {"type": "click", "name": "buy_now"}}
    assert good["parse_error"] is None
    assert (bad["parsed"], bad["parse_error"]) == (None, "no JSON object at the start")
    assert (good["session_id"], good["step_index"], good["gold_reason"]) == ("s1", 2, "buy_now")
    assert good["prompt_sha256"] == prompt_sha256(dataset_row["prompt"])


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"step_index": 0, "completion": "", "gold_action": GOLD}, "session_id"),
        ({"session_id": "s", "step_index": "0", "completion": "", "gold_action": GOLD}, "step_index"),
        ({"session_id": "s", "step_index": 0, "gold_action": GOLD}, "completion"),
        ({"session_id": "s", "step_index": 0, "completion": "", "gold_action": {"type": "fly"}}, "gold_action"),
    ],
    ids=["no-session", "step-as-string", "no-completion", "bad-gold"],
)
def test_record_from_row_rejects_malformed_rows(bad, message):
    with pytest.raises(ShopR1Error, match=message):
        record_from_row(bad, "f.jsonl:1")


def test_repair_tail_drops_a_half_written_last_line(tmp_path):
    path = tmp_path / "p.jsonl"
    write_lines(path, [row(step=0), row(step=1)], tail='{"session_id": "s1", "step_ind')
    assert "dropped a half-written last line" in repair_tail(path)
    assert [r.step_index for r in load_predictions(path)] == [0, 1]
    assert path.read_text().endswith("\n")


def test_repair_tail_keeps_a_complete_last_row_without_newline(tmp_path):
    path = tmp_path / "p.jsonl"
    write_lines(path, [row(step=0)], tail=json.dumps(row(step=1)))
    assert repair_tail(path) == "added the missing newline after the last row"
    assert [r.step_index for r in load_predictions(path)] == [0, 1]


def test_repair_tail_of_a_single_partial_line_empties_the_file(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"sess', encoding="utf-8")
    assert repair_tail(path) == "dropped a half-written last line (6 bytes) left by an interrupted run"
    assert path.read_bytes() == b""


@pytest.mark.parametrize("content", [None, "", json.dumps(row()) + "\n"], ids=["missing", "empty", "clean"])
def test_repair_tail_leaves_sound_files_alone(tmp_path, content):
    path = tmp_path / "p.jsonl"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    assert repair_tail(path) is None
    assert (path.read_text() if content is not None else None) == content


def test_load_predictions_ignores_a_partial_tail(tmp_path):
    path = tmp_path / "p.jsonl"
    write_lines(path, [row(step=0)], tail='{"session_id": "s1", "st')
    assert len(load_predictions(path)) == 1


def test_load_predictions_rejects_a_broken_line_in_the_middle(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(row(step=0)) + "\n{broken\n" + json.dumps(row(step=1)) + "\n", encoding="utf-8")
    with pytest.raises(ShopR1Error, match=r"p.jsonl:2: not valid JSON"):
        load_predictions(path)


def test_load_predictions_rejects_a_step_present_twice(tmp_path):
    path = tmp_path / "p.jsonl"
    write_lines(path, [row(step=0), row(step=1), row(step=0)])
    with pytest.raises(ShopR1Error, match=r"p.jsonl:3: step \('s1', 0\) already appears on line 1"):
        load_predictions(path)


def test_append_writer_appends_whole_lines(tmp_path):
    path = tmp_path / "sub" / "p.jsonl"
    with AppendWriter(path) as writer:
        writer.write([row(step=0), row(step=1)])
    with AppendWriter(path) as writer:
        writer.write([row(step=2)])
    assert [r.step_index for r in load_predictions(path)] == [0, 1, 2]
