"""`python -m shop_r1.training.sft|grpo`: a recipe mistake is the CLI's one `error:` line and exit 1, no traceback."""

import os
import subprocess
import sys
from unittest import mock

import pytest

from shop_r1.cli import main as cli_main
from shop_r1.training import grpo, sft
from shop_r1.training.common import parse_stage_args, run_from_command_line
from tests.conftest import REPO_ROOT
from tests.training_support import CONFIGS

BROKEN_YAML = "max_steps: 2\nlearning_rate: [1.0e-5\nseed: 0\n"


def _module_run(stage: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src")}
    env.pop("SHOP_R1_DEBUG", None)
    return subprocess.run([sys.executable, "-m", f"shop_r1.training.{stage}", *args], capture_output=True,
                          text=True, env=env, cwd=REPO_ROOT, timeout=300)


def _cli_error(capsys, *args: str) -> str:
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        cli_main(list(args))
    assert stop.value.code == 1
    return " ".join(capsys.readouterr().err.split())  # rich wraps long lines; the words are what is compared


@pytest.mark.parametrize("stage", ["sft", "grpo"])
def test_broken_yaml_is_the_cli_line_under_python_m(stage, tmp_path, capsys):
    recipe = tmp_path / "broken.yaml"
    recipe.write_text(BROKEN_YAML)
    result = _module_run(stage, "--config", str(recipe))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    # PyYAML finds the unclosed list at line 3, column 5; the CLI prints the same words.
    assert result.stderr == f"error: {recipe}:3:5: not valid YAML (expected ',' or ']', but got ':')\n"
    assert _cli_error(capsys, stage, "--config", str(recipe)) == result.stderr.strip()


@pytest.mark.parametrize(("stage", "module"), [("sft", sft), ("grpo", grpo)])
def test_wrong_type_and_unknown_key_are_one_line(stage, module, tmp_path, capsys):
    recipe = tmp_path / "typed.yaml"
    recipe.write_text((CONFIGS / "debug" / f"{stage}.yaml").read_text() + "max_steps: [1, 2]\n")
    with mock.patch.object(module, "main") as main, pytest.raises(SystemExit) as stop:
        run_from_command_line(module, ["--config", str(recipe)])
    assert stop.value.code == 1 and not main.called
    assert capsys.readouterr().err == f"error: {recipe}: `max_steps` must be an integer, got list [1, 2]\n"

    with mock.patch.object(module, "main") as main, pytest.raises(SystemExit) as stop:
        run_from_command_line(module, ["--config", str(CONFIGS / "debug" / f"{stage}.yaml"), "--lr", "1"])
    err = capsys.readouterr().err
    assert stop.value.code == 1 and not main.called
    assert err.startswith(f"error: {CONFIGS / 'debug' / f'{stage}.yaml'}: ") and "--lr" in err
    assert err.count("\n") == 1


def test_missing_recipe_and_missing_config_value(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        run_from_command_line(sft, ["--config", str(tmp_path / "absent.yaml")])
    assert stop.value.code == 1
    assert capsys.readouterr().err == f"error: [Errno 2] No such file or directory: '{tmp_path / 'absent.yaml'}'\n"
    with pytest.raises(SystemExit):
        run_from_command_line(sft, ["--max_steps", "2", "--config"])
    assert capsys.readouterr().err == "error: --config needs a recipe path, e.g. --config configs/debug/sft.yaml\n"


def test_debug_variable_shows_the_traceback(tmp_path, monkeypatch):
    recipe = tmp_path / "broken.yaml"
    recipe.write_text(BROKEN_YAML)
    monkeypatch.setenv("SHOP_R1_DEBUG", "1")
    with pytest.raises(Exception, match="not valid YAML"):
        run_from_command_line(grpo, ["--config", str(recipe)])


def test_a_good_recipe_reaches_main_with_the_parsed_arguments():
    argv = ["--config", str(CONFIGS / "debug" / "grpo.yaml"), "--max_steps", "7"]
    with mock.patch.object(grpo, "main") as main:
        run_from_command_line(grpo, argv)
    model, data, rewards, rollouts, training = main.call_args.args
    assert (model.model_name_or_path, data.max_train_samples, rewards.reward_mode, training.max_steps) == (
        "tiny-random:llama", 16, "shop_r1", 7)
    assert [type(args).__name__ for args in parse_stage_args(grpo, argv)] == [
        "ModelArguments", "GRPODataArguments", "RewardArguments", "RolloutArguments", "ShopR1GRPOConfig"]


def test_module_help_lists_every_trainer_field():
    result = _module_run("sft", "--help")
    assert result.returncode == 0, result.stderr
    # A TrainingArguments field no recipe sets: the place `shop-r1 sft --help` points to for the rest.
    assert "--ddp_timeout" in result.stdout and "--max_train_samples" in result.stdout
