"""`shop-r1 predict` / `shop-r1 evaluate` through typer: help, a tiny local model end to end, run comparison."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from shop_r1.cli.evaluate import evaluate, predict
from shop_r1.errors import ShopR1Error
from shop_r1.evaluation.predict import predict as run_predict
from tests.unit.eval_helpers import ScriptedGenerator, build_tiny_model, read_rows, rl_rows

runner = CliRunner()


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    app.command("predict")(predict)
    app.command("evaluate")(evaluate)
    return app


@pytest.fixture(scope="module")
def rl_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "rl_test.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rl_rows(3, 2)), encoding="utf-8")
    return path


@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_help(app, command):
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


@pytest.fixture
def restore_torch_threads():
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)  # --num-threads sets it for the whole (test) process


def test_predict_end_to_end_with_a_tiny_local_model(app, rl_file, tmp_path, smollm2_tokenizer, restore_torch_threads):
    model_dir = build_tiny_model(tmp_path / "tiny", smollm2_tokenizer, architecture="qwen2")
    out = tmp_path / "predictions.jsonl"
    args = ["predict", "--model", str(model_dir), "--data", str(rl_file), "--out", str(out), "--limit", "4",
            "--max-new-tokens", "6", "--batch-size", "3", "--num-threads", "1", "--backend", "hf"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = read_rows(out)
    assert sorted((r["session_id"], r["step_index"]) for r in rows) == [("s0", 0), ("s0", 1), ("s1", 0), ("s1", 1)]
    for row in rows:
        assert isinstance(row["completion"], str) and row["completion_tokens"] <= 6
        assert row["generation"] == {"model": str(model_dir), "backend": "hf", "max_new_tokens": 6,
                                     "temperature": 0.6, "top_p": 1.0, "greedy": False, "seed": 0}
        assert (row["parsed"] is None) == (row["parse_error"] is not None)
    assert "wrote 4 predictions" in result.output

    again = runner.invoke(app, args)  # resumed: everything is there, the model is not even loaded
    assert again.exit_code == 0 and "nothing to do" in again.output
    assert len(read_rows(out)) == 4

    report = tmp_path / "report"
    scored = runner.invoke(app, ["evaluate", str(out), "--out", str(report), "--bootstrap", "50"])
    assert scored.exit_code == 0, scored.output
    metrics = json.loads((report / "metrics.json").read_text())
    assert metrics["runs"]["predictions"]["n_steps"] == 4


def test_predict_refuses_a_model_it_cannot_load(app, rl_file, tmp_path):
    result = runner.invoke(app, ["predict", "--model", str(tmp_path), "--data", str(rl_file),
                                 "--out", str(tmp_path / "p.jsonl"), "--backend", "hf"])
    assert isinstance(result.exception, ShopR1Error)
    assert "has no config.json" in str(result.exception)


@pytest.fixture(scope="module")
def two_prediction_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    rows = rl_rows(4, 3)
    settings = {"model": "x", "backend": "scripted", "greedy": True}
    terminate = {key: json.dumps({"rationale": "Bye.", "action": {"type": "terminate"}})
                 for key in ((r["session_id"], r["step_index"]) for r in rows)}
    paths = []
    for name, answers in (("sft", terminate), ("grpo", {})):
        path = root / name / "predictions.jsonl"
        run_predict(rows, ScriptedGenerator(rows, answers=answers), path, generation=settings)
        paths.append(path)
    return paths


def test_evaluate_compares_runs_side_by_side(app, two_prediction_files, tmp_path):
    out = tmp_path / "cmp"
    result = runner.invoke(app, ["evaluate", *map(str, two_prediction_files), "--names", "sft,shop_r1",
                                 "--out", str(out), "--bootstrap", "100"])
    assert result.exit_code == 0, result.output
    data = json.loads((out / "metrics.json").read_text())
    assert data["runs"]["sft"]["metrics"]["exact_action_acc"]["value"] == pytest.approx(4 / 12)
    assert data["runs"]["shop_r1"]["metrics"]["exact_action_acc"]["value"] == 1.0
    assert data["comparisons"]["shop_r1"]["difference"]["exact_action_acc"]["value"] == pytest.approx(8 / 12)
    assert {"headline.png", "per_type.png", "confusion_sft.png", "confusion_shop_r1.png"} <= {
        p.name for p in out.iterdir()}
    assert "shop_r1 - sft" in result.output


def test_evaluate_names_runs_after_their_folders_when_files_share_a_name(app, two_prediction_files):
    result = runner.invoke(app, ["evaluate", *map(str, two_prediction_files), "--bootstrap", "0"])
    assert result.exit_code == 0, result.output
    assert "sft/predictions" in result.output and "grpo/predictions" in result.output


def test_evaluate_wants_one_name_per_file(app, two_prediction_files):
    result = runner.invoke(app, ["evaluate", *map(str, two_prediction_files), "--names", "only_one"])
    assert result.exit_code == 2
    assert "one non-empty name per predictions file" in result.output
