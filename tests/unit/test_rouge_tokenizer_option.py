"""The ROUGE tokenizer is one named option from the reward config to the CLI: Chinese text matches itself with
`unicode` and has no tokens with `rouge_score`; English scores the same under both."""

from __future__ import annotations

import json
import typing

import pytest
import typer
from typer.testing import CliRunner

from shop_r1.cli.evaluate import evaluate
from shop_r1.cli.reward import reward
from shop_r1.evaluation.predict import predict as run_predict
from shop_r1.evaluation.runs import MetricsConfig
from shop_r1.rewards import RewardConfig, score_completion
from shop_r1.rewards.rouge import TOKENIZERS, RougeTokenizer, rouge_l
from shop_r1.training.configs import RewardArguments
from tests.unit.eval_helpers import ScriptedGenerator, rl_row

runner = CliRunner()
CHINESE = "平安扣"  # a search text of the OPeRA logs' kind, and a rationale in the same script
CHINESE_RATIONALE = "我想买一个平安扣"


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    app.command("reward")(reward)
    app.command("evaluate")(evaluate)
    return app


def _search(text: str) -> str:
    return json.dumps({"rationale": "r", "action": {"type": "type_and_submit", "name": "search_input",
                                                    "text": text}}, ensure_ascii=False)


def test_one_source_for_the_choices():
    assert TOKENIZERS == typing.get_args(RougeTokenizer) == ("unicode", "rouge_score")
    assert (rouge_l(CHINESE, CHINESE, "unicode"), rouge_l(CHINESE, CHINESE, "rouge_score")) == (1.0, 0.0)
    with pytest.raises(ValueError, match="rouge_tokenizer must be one of"):
        RewardConfig(rouge_tokenizer="words")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="reward_rouge_tokenizer must be one of unicode, rouge_score"):
        RewardArguments(reward_rouge_tokenizer="words")
    with pytest.raises(ValueError, match="rouge_tokenizer must be one of unicode, rouge_score"):
        MetricsConfig(rouge_tokenizer="words")  # type: ignore[arg-type]


@pytest.mark.parametrize(("tokenizer", "value", "exact"), [("unicode", 1000.1, True), ("rouge_score", 0.1, False)])
def test_shop_r1_reward_scores_chinese_text_by_tokenizer(app, tokenizer, value, exact):
    gold = json.dumps({"type": "type_and_submit", "name": "search_input", "text": CHINESE}, ensure_ascii=False)
    result = runner.invoke(app, ["reward", "-c", _search(CHINESE), "-g", gold, "--rouge-tokenizer", tokenizer])
    assert result.exit_code == 0, result.output
    breakdown = json.loads(result.output)
    # value = 0.1 x ROUGE-L(name) (ASCII: 1 either way) + 1000 x ROUGE-L(text) (1 or 0), which must exceed 0.75
    assert breakdown["value"] == pytest.approx(value)
    assert breakdown["exact_match"] is exact


def test_shop_r1_reward_english_is_the_same_under_both(app):
    gold = '{"type": "type_and_submit", "name": "search_input", "text": "red shoes for running"}'
    outputs = []
    for tokenizer in TOKENIZERS:
        result = runner.invoke(app, ["reward", "-c", _search("red running shoes"), "-g", gold, "--threshold", "0.5",
                                     "--rouge-tokenizer", tokenizer])
        assert result.exit_code == 0, result.output
        outputs.append(json.loads(result.output))
    assert outputs[0] == outputs[1]
    # ROUGE-L 4/7 (LCS 2 of 3 and 4 tokens) clears 0.5: 0.1 + 1000 x 4/7
    assert outputs[0]["value"] == pytest.approx(0.1 + 1000 * 4 / 7)


def test_shop_r1_reward_refuses_an_unknown_tokenizer(app):
    result = runner.invoke(app, ["reward", "-c", _search("x"), "-g", '{"type": "terminate"}',
                                 "--rouge-tokenizer", "words"], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "Invalid value for '--rouge-tokenizer': must be one of unicode, rouge_score, got 'words'" in result.output


def test_grpo_reward_arguments_reach_the_reward_config():
    assert RewardArguments().reward_config().rouge_tokenizer == "unicode"
    config = RewardArguments(reward_rouge_tokenizer="rouge_score").reward_config()
    gold = {"type": "type_and_submit", "name": "search_input", "text": CHINESE}
    assert score_completion(_search(CHINESE), gold, config).value == pytest.approx(0.1)
    assert score_completion(_search(CHINESE), gold, RewardConfig()).value == pytest.approx(1000.1)


@pytest.fixture(scope="module")
def predictions(tmp_path_factory):
    """Two steps answered with their gold: a Chinese search and an English one, each with its rationale."""
    rows = [rl_row("s1", 0, {"type": "type_and_submit", "name": "search_input", "text": CHINESE},
                   rationale=CHINESE_RATIONALE),
            rl_row("s2", 0, {"type": "type_and_submit", "name": "search_input", "text": "red shoes"},
                   rationale="I want red shoes.")]
    path = tmp_path_factory.mktemp("runs") / "predictions.jsonl"
    run_predict(rows, ScriptedGenerator(rows), path, generation={"model": "x", "backend": "scripted", "greedy": True})
    return path


@pytest.mark.parametrize(("tokenizer", "score"), [("unicode", 1.0), ("rouge_score", 0.0)])
def test_shop_r1_evaluate_scores_chinese_text_by_tokenizer(app, predictions, tmp_path, tokenizer, score):
    out = tmp_path / tokenizer
    result = runner.invoke(app, ["evaluate", str(predictions), "--names", "run", "--out", str(out), "--bootstrap",
                                 "0", "--no-plots", "--rouge-tokenizer", tokenizer])
    assert result.exit_code == 0, result.output
    data = json.loads((out / "metrics.json").read_text())
    assert data["config"]["rouge_tokenizer"] == tokenizer
    metrics = data["runs"]["run"]["metrics"]
    # The English step scores 1 on both; the Chinese one scores `score`.
    assert metrics["exact_action_acc"]["value"] == pytest.approx((1 + score) / 2)
    assert metrics["rationale_rouge_l"]["value"] == pytest.approx((1 + score) / 2)
    # The strict match compares strings, whatever the tokens.
    assert metrics["exact_action_acc_strict"]["value"] == 1.0
    assert f"({tokenizer} tokens)" in (out / "report.md").read_text()
