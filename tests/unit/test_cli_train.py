"""`shop-r1 sft|grpo`: recipes plus overrides reach the stage's main; configuration mistakes are one-line errors."""

from unittest import mock

import pytest
import typer
from typer.testing import CliRunner

from shop_r1.cli import train
from shop_r1.errors import ShopR1Error
from tests.training_support import CONFIGS

runner = CliRunner()


@pytest.fixture()
def app():
    app = typer.Typer()
    train.register(app)
    return app


@pytest.mark.parametrize("command", ["sft", "grpo"])
def test_help(app, command):
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "--config" in result.output and "--resume" in result.output


def test_grpo_forwards_overrides_and_resume(app):
    with mock.patch("shop_r1.training.grpo.main") as main:
        result = runner.invoke(app, ["grpo", "--config", str(CONFIGS / "debug" / "grpo.yaml"), "--resume",
                                     "--reward_mode", "binary", "--max_steps", "2", "--dataset_dir", "/d"])
    assert result.exit_code == 0, result.output
    main.assert_called_once()
    model, data, rewards, rollouts, training = main.call_args.args
    assert (rewards.reward_mode, training.max_steps, data.dataset_dir) == ("binary", 2, "/d")
    assert training.resume_from_checkpoint == "auto" and model.model_name_or_path == "tiny-random:llama"


def test_sft_forwards_the_recipe(app):
    with mock.patch("shop_r1.training.sft.main") as main:
        result = runner.invoke(app, ["sft", "--config", str(CONFIGS / "debug" / "sft.yaml")])
    assert result.exit_code == 0, result.output
    _, data, training = main.call_args.args
    assert data.sft_format == "session" and training.resume_from_checkpoint is None


def test_unknown_override_is_a_user_error(app):
    with mock.patch("shop_r1.training.sft.main") as main:
        result = runner.invoke(app, ["sft", "--config", str(CONFIGS / "debug" / "sft.yaml"), "--lr", "1"])
    assert isinstance(result.exception, ShopR1Error) and "--lr" in str(result.exception)
    main.assert_not_called()


def test_gpu_recipe_on_cpu_suggests_the_fix(app):
    with mock.patch("shop_r1.training.sft.main"), mock.patch("torch.cuda.is_available", return_value=False):
        result = runner.invoke(app, ["sft", "--config", str(CONFIGS / "paper" / "qwen2.5-3b" / "sft.yaml")])
    assert isinstance(result.exception, ShopR1Error) and "--bf16 false" in str(result.exception)
