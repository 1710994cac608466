"""The predict loop: one row per step, batches sorted by length, resumable after a crash or a truncated file."""

from __future__ import annotations

import json

import pytest

from shop_r1.errors import ShopR1Error
from shop_r1.evaluation.predict import load_rl_rows, predict
from shop_r1.evaluation.predictions_io import load_predictions
from tests.unit.eval_helpers import ScriptedGenerator, SimulatedCrash, read_rows, rl_row, rl_rows

SETTINGS = {"model": "scripted", "backend": "scripted", "max_new_tokens": 8, "greedy": True, "seed": 0}


def keys_of(path):
    return [(r["session_id"], r["step_index"]) for r in read_rows(path)]


def all_keys(rows):
    return sorted((r["session_id"], r["step_index"]) for r in rows)


def test_fresh_run_writes_every_step_once(tmp_path):
    rows, out = rl_rows(), tmp_path / "p.jsonl"
    summary = predict(rows, ScriptedGenerator(rows), out, generation=SETTINGS, batch_size=4)
    assert (summary.total, summary.already_done, summary.written, summary.parse_failures) == (9, 0, 9, 0)
    assert sorted(keys_of(out)) == all_keys(rows)
    first = read_rows(out)[0]
    assert first["parsed"] is not None and first["generation"] == SETTINGS
    assert first["gold_action"] == next(r for r in rows if r["session_id"] == first["session_id"]
                                        and r["step_index"] == first["step_index"])["gold_action"]


def test_batches_hold_prompts_of_similar_length_longest_first(tmp_path):
    rows = rl_rows()
    generator = ScriptedGenerator(rows)
    predict(rows, generator, tmp_path / "p.jsonl", generation=SETTINGS, batch_size=3)
    length = {(r["session_id"], r["step_index"]): len(r["prompt"][1]["content"]) for r in rows}
    lengths = [length[key] for key in generator.seen]
    assert lengths == sorted(lengths, reverse=True)
    assert [len(batch) for batch in generator.calls] == [3, 3, 3]


def test_resume_after_a_crash_predicts_only_the_missing_steps(tmp_path):
    rows, out = rl_rows(), tmp_path / "p.jsonl"
    with pytest.raises(SimulatedCrash):
        predict(rows, ScriptedGenerator(rows, crash_after=2), out, generation=SETTINGS, batch_size=2)
    assert len(read_rows(out)) == 4  # two whole batches reached the disk before the crash
    done_before = set(keys_of(out))
    rerun = ScriptedGenerator(rows)
    summary = predict(rows, rerun, out, generation=SETTINGS, batch_size=2)
    assert (summary.already_done, summary.written) == (4, 5)
    assert not done_before & set(rerun.seen)
    assert sorted(keys_of(out)) == all_keys(rows)  # no duplicates, none missing


def test_resume_after_a_half_written_last_line(tmp_path):
    rows, out = rl_rows(), tmp_path / "p.jsonl"
    predict(rows, ScriptedGenerator(rows), out, generation=SETTINGS, batch_size=4)
    text = out.read_text(encoding="utf-8")
    last = text.rstrip("\n").rsplit("\n", 1)[1]
    out.write_text(text[: len(text) - len(last) // 2 - 1], encoding="utf-8")  # the crash cut the last row in half
    lost = json.loads(last)
    rerun = ScriptedGenerator(rows)
    summary = predict(rows, rerun, out, generation=SETTINGS, batch_size=4)
    assert summary.repair is not None and "half-written" in summary.repair
    assert rerun.seen == [(lost["session_id"], lost["step_index"])]
    assert sorted(keys_of(out)) == all_keys(rows)
    assert len(load_predictions(out)) == 9


def test_rerun_of_a_complete_file_generates_nothing(tmp_path):
    rows, out = rl_rows(), tmp_path / "p.jsonl"
    predict(rows, ScriptedGenerator(rows), out, generation=SETTINGS)
    before = out.read_bytes()
    rerun = ScriptedGenerator(rows)
    summary = predict(rows, rerun, out, generation=SETTINGS)
    assert (summary.written, summary.already_done, rerun.calls) == (0, 9, [])
    assert out.read_bytes() == before


def test_unparseable_outputs_are_written_with_their_error(tmp_path):
    rows, out = rl_rows(1, 2), tmp_path / "p.jsonl"
    summary = predict(rows, ScriptedGenerator(rows, answers={("s0", 1): "I would click."}), out, generation=SETTINGS)
    assert summary.parse_failures == 1
    bad = next(r for r in read_rows(out) if r["step_index"] == 1)
    assert (bad["parsed"], bad["parse_error"], bad["completion"]) == (None, "no JSON object at the start",
                                                                       "I would click.")


def test_resume_with_other_generation_settings_is_refused(tmp_path):
    rows, out = rl_rows(), tmp_path / "p.jsonl"
    with pytest.raises(SimulatedCrash):
        predict(rows, ScriptedGenerator(rows, crash_after=1), out, generation=SETTINGS, batch_size=2)
    with pytest.raises(ShopR1Error, match="generation settings"):
        predict(rows, ScriptedGenerator(rows), out, generation={**SETTINGS, "seed": 1})


def test_resume_on_a_rebuilt_dataset_is_refused(tmp_path):
    rows, out = rl_rows(), tmp_path / "p.jsonl"
    predict(rows, ScriptedGenerator(rows), out, generation=SETTINGS)
    changed = [dict(r) for r in rows]
    changed[0] = {**changed[0], "prompt": [{"role": "user", "content": "another page"}]}
    with pytest.raises(ShopR1Error, match="prompt of step"):
        predict(changed, ScriptedGenerator(changed), out, generation=SETTINGS)


def test_resume_on_another_dataset_is_refused(tmp_path):
    rows, out = rl_rows(), tmp_path / "p.jsonl"
    predict(rows, ScriptedGenerator(rows), out, generation=SETTINGS)
    others = [rl_row("other", 0, {"type": "terminate"})]
    with pytest.raises(ShopR1Error, match="not in the dataset"):
        predict(others, ScriptedGenerator(others), out, generation=SETTINGS)


def test_a_generator_returning_too_few_completions_is_a_bug(tmp_path):
    rows = rl_rows(1, 2)

    class Short(ScriptedGenerator):
        def generate(self, prompts, keys):
            return super().generate(prompts, keys)[:-1]

    with pytest.raises(RuntimeError, match="1 completions for 2 prompts"):
        predict(rows, Short(rows), tmp_path / "p.jsonl", generation=SETTINGS, batch_size=2)


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def test_load_rl_rows_reads_and_limits(tmp_path):
    path = tmp_path / "rl_test.jsonl"
    _write_jsonl(path, rl_rows())
    assert len(load_rl_rows(path)) == 9
    assert [r["step_index"] for r in load_rl_rows(path, limit=2)] == [0, 1]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([rl_row("s", 0, {"type": "terminate"}), rl_row("s", 0, {"type": "terminate"})], "appears twice"),
        ([{"prompt": [], "session_id": "s", "step_index": 0}], "missing gold_action"),
        ([], "no rows"),
    ],
    ids=["duplicate-step", "missing-field", "empty"],
)
def test_load_rl_rows_rejects_bad_datasets(tmp_path, rows, message):
    path = tmp_path / "rl_test.jsonl"
    _write_jsonl(path, rows)
    with pytest.raises(ShopR1Error, match=message):
        load_rl_rows(path)
