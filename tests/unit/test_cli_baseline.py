"""`shop-r1 baseline`: the frequency table over a real build, through the CLI."""

import json

from typer.testing import CliRunner

from shop_r1.cli import app
from shop_r1.data.build import BuildConfig, build_datasets
from shop_r1.data.io import write_sessions
from shop_r1.evaluation.markov_baseline import MarkovBaseline
from shop_r1.evaluation.predictions_io import load_predictions
from shop_r1.prompts import PromptConfig
from shop_r1.world.synth import synthesize_sessions


def _build(tmp_path, users=20):
    sessions = list(synthesize_sessions(users, 2, 0))
    write_sessions(tmp_path / "sessions.jsonl", sessions)
    config = BuildConfig(prompt=PromptConfig(max_context_tokens=None), validation_fraction=0.2, seed=1)
    build_datasets(sessions, tmp_path / "datasets", config)
    return sessions


def test_baseline_fits_on_the_train_users_and_answers_every_held_out_row(tmp_path):
    sessions = _build(tmp_path)
    manifest = json.loads((tmp_path / "datasets" / "manifest.json").read_text())
    held_out = set(manifest["test_users"]) | set(manifest["validation_users"])
    for split in ("test", "validation"):
        out = tmp_path / f"{split}.jsonl"
        result = CliRunner().invoke(app, ["baseline", str(tmp_path / "sessions.jsonl"), str(tmp_path / "datasets"),
                                          "--out", str(out), "--split", split])
        assert result.exit_code == 0, result.output
        rows = [json.loads(line) for line in (tmp_path / "datasets" / f"rl_{split}.jsonl").open()]
        predicted = load_predictions(out)
        assert [(p.session_id, p.step_index) for p in predicted] == [(r["session_id"], r["step_index"]) for r in rows]
    # The CLI's answers are those of a table fitted on the training users alone.
    table = MarkovBaseline.fit([s for s in sessions if s.user_id not in held_out])
    by_id = {s.session_id: s for s in sessions}
    for record in load_predictions(tmp_path / "test.jsonl"):
        session = by_id[record.session_id]
        expected = table.predict(session.steps[:record.step_index], session.steps[record.step_index].url)
        assert json.loads(record.completion)["action"] == expected.to_dict()


def test_baseline_refuses_a_sessions_file_the_build_did_not_come_from(tmp_path):
    _build(tmp_path)
    write_sessions(tmp_path / "other.jsonl", list(synthesize_sessions(30, 2, 0)))  # more users: another split
    result = CliRunner().invoke(app, ["baseline", str(tmp_path / "other.jsonl"), str(tmp_path / "datasets"),
                                      "--out", str(tmp_path / "p.jsonl")])
    assert result.exit_code == 1 and "do not split into the build's test users" in str(result.exception)
    assert not (tmp_path / "p.jsonl").exists()
