"""The demo end to end through the CLI at the tiny size with a tiny random model (minutes, not the 15 of `small`)."""

import json

import pytest
from typer.testing import CliRunner

from shop_r1.cli import app
from shop_r1.demo import SETTINGS

pytestmark = pytest.mark.slow


def test_demo_runs_every_stage_and_writes_the_comparison(tmp_path):
    out = tmp_path / "demo"
    args = ["demo", "--size", "tiny", "--model", "tiny-random:llama", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    comparison = json.loads((out / "comparison.json").read_text())
    assert list(comparison) == [*SETTINGS, "paired"]
    evaluated = [json.loads(line) for line in (out / "heldout_test" / "steps.jsonl").read_text().splitlines()]
    for setting in SETTINGS:
        row = comparison[setting]
        assert row["n"] == len(evaluated) == 6
        for metric in ("exact", "type_acc", "type_f1"):
            assert 0.0 <= row[metric] <= 1.0
        assert set(row["per_type"]) <= {"click", "type_and_submit", "terminate"}
        assert sum(row["answered"].values()) == row["n"]  # every step answered with a type or invalid
    # Every setting was scored on the same held-out steps, none of them from a training user.
    train_users = {json.loads(line)["user_id"] for line in (out / "data" / "datasets" / "rl_train.jsonl").open()}
    assert not train_users & {row["user_id"] for row in evaluated}
    for folder in (f"{setting}_eval" for setting in SETTINGS):
        predicted = [json.loads(line) for line in (out / folder / "predictions.jsonl").read_text().splitlines()]
        assert sorted((p["session_id"], p["step_index"]) for p in predicted) == sorted(
            (r["session_id"], r["step_index"]) for r in evaluated)
    # The two RL settings start from the same SFT checkpoint with the same step budget; continued SFT
    # trains as many sequences (1 GRPO step x 4 completions = 2 SFT steps of 2 rows).
    for folder, steps in (("sft_rl_binary", 1), ("shop_r1", 1), ("sft_continued", 2)):
        state = json.loads((out / folder / "trainer_state.json").read_text())
        assert state["global_step"] == steps
    # The frequency table answered every step without a parse failure.
    markov = [json.loads(line) for line in (out / "markov_eval" / "predictions.jsonl").read_text().splitlines()]
    assert all(row["parse_error"] is None for row in markov)
    # Paired intervals of Shop-R1 against every other setting, each [low, high] around its point difference.
    summary = json.loads((out / "summary.json").read_text())
    assert set(comparison["paired"]) == {f"shop_r1_minus_{s}" for s in SETTINGS if s != "shop_r1"}
    for key, intervals in comparison["paired"].items():
        for metric, (low, high) in intervals.items():
            point = summary["paired_difference"][key][metric]
            assert low <= point <= high, (key, metric)
        other = key.removeprefix("shop_r1_minus_")
        assert summary["paired_difference"][key]["exact"] == pytest.approx(
            comparison["shop_r1"]["exact"] - comparison[other]["exact"])
    assert "significant" in summary["significance"] and "significant" in result.output
    assert "on action-type macro-F1" in summary["significance_type_f1"] and "macro-F1" in result.output
    shop_r1_logs = json.loads((out / "shop_r1" / "trainer_state.json").read_text())["log_history"][0]
    assert "rewards/format_reward/mean" in shop_r1_logs
    assert (out / "report" / "report.md").is_file()
    assert "Shop-R1 relative to SFT" in result.output

    rerun = CliRunner().invoke(app, args)  # every stage is reused
    assert rerun.exit_code == 0 and rerun.output.count("already done, reused") == 12

    # Scoring on the validation users reuses every trained model and writes its own files.
    validation = CliRunner().invoke(app, [*args, "--split", "validation"])
    assert validation.exit_code == 0, validation.output
    assert validation.output.count("already done, reused") == 5  # data and the four trainings
    scored = json.loads((out / "comparison_validation.json").read_text())
    val_users = {json.loads(line)["user_id"] for line in (out / "heldout_validation" / "steps.jsonl").open()}
    assert scored["sft"]["n"] == 6 and not val_users & {row["user_id"] for row in evaluated}

    # More held-out shoppers score more steps and retrain nothing.
    more = CliRunner().invoke(app, [*args, "--set", "eval_users=4", "--set", "eval_steps=30"])
    assert more.exit_code == 0, more.output
    assert more.output.count("already done, reused") == 5  # data and the four trainings
    assert json.loads((out / "comparison.json").read_text())["sft"]["n"] > 6
