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
    assert list(comparison) == list(SETTINGS)
    evaluated = [json.loads(line) for line in (out / "data" / "eval.jsonl").read_text().splitlines()]
    for setting in SETTINGS:
        row = comparison[setting]
        assert row["n"] == len(evaluated) == 6
        for metric in ("exact", "type_acc", "type_f1"):
            assert 0.0 <= row[metric] <= 1.0
        assert set(row["per_type"]) <= {"click", "type_and_submit", "terminate"}
    # Every setting was scored on the same held-out steps, none of them from a training user.
    train_users = {json.loads(line)["user_id"] for line in (out / "data" / "datasets" / "rl_train.jsonl").open()}
    assert not train_users & {row["user_id"] for row in evaluated}
    for folder in ("zero_shot", "sft_eval", "sft_rl_binary_eval", "shop_r1_eval"):
        predicted = [json.loads(line) for line in (out / folder / "predictions.jsonl").read_text().splitlines()]
        assert sorted((p["session_id"], p["step_index"]) for p in predicted) == sorted(
            (r["session_id"], r["step_index"]) for r in evaluated)
    # The two RL settings start from the same SFT checkpoint with the same step budget.
    for folder in ("sft_rl_binary", "shop_r1"):
        state = json.loads((out / folder / "trainer_state.json").read_text())
        assert state["global_step"] == 1
    shop_r1_logs = json.loads((out / "shop_r1" / "trainer_state.json").read_text())["log_history"][0]
    assert "rewards/format_reward/mean" in shop_r1_logs
    assert (out / "report" / "report.md").is_file()
    assert "Shop-R1 relative to SFT" in result.output

    rerun = CliRunner().invoke(app, args)  # every stage is reused
    assert rerun.exit_code == 0 and rerun.output.count("already done, reused") == 8
