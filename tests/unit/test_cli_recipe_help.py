"""`shop-r1 sft|grpo --help` lists every recipe key of the stage, grouped, with its default and one help line."""

import dataclasses
import re

import pytest
import typer
import yaml
from typer.testing import CliRunner

from shop_r1.cli import train
from shop_r1.cli.recipe_help import TRAINER_KEYS, help_line, recipe_keys, yaml_default
from shop_r1.training import grpo, sft
from shop_r1.training.configs import ModelArguments, RewardArguments
from tests.training_support import CONFIGS

STAGES = {"sft": sft, "grpo": grpo}
GROUPS = {
    "sft": ["Model (ModelArguments)", "Data (SFTDataArguments)", "Trainer (SFTConfig)"],
    "grpo": ["Model (ModelArguments)", "Data (GRPODataArguments)", "Rewards (RewardArguments)",
             "Rollouts (RolloutArguments)", "Trainer (ShopR1GRPOConfig)"],
}


def help_text(stage: str, markup_mode: str | None = "rich") -> str:
    app = typer.Typer(rich_markup_mode=markup_mode)
    train.register(app)
    # Wide enough that no row wraps: each key's default then sits on the key's own line.
    result = CliRunner().invoke(app, [stage, "--help"], env={"COLUMNS": "400", "TERMINAL_WIDTH": "400"})
    assert result.exit_code == 0, result.output
    return result.output


def key_line(text: str, name: str) -> str:
    lines = [line for line in text.splitlines() if re.match(rf"[│ ]*--{name} ", line)]
    assert len(lines) == 1, (name, lines)
    return lines[0]


@pytest.fixture(scope="module", params=["sft", "grpo"])
def stage_help(request):
    return request.param, help_text(request.param)


def test_groups_in_order(stage_help):
    stage, text = stage_help
    positions = [text.index(f"Recipe keys: {title}") for title in GROUPS[stage]]
    assert positions == sorted(positions)
    assert ("Rewards (RewardArguments)" in text) == (stage == "grpo")


def test_every_field_of_our_dataclasses_with_its_default(stage_help):
    stage, text = stage_help
    *ours, _trainer = STAGES[stage].make_parser().dataclass_types
    names = [item.name for cls in ours for item in dataclasses.fields(cls)]
    assert len(names) == (14 if stage == "sft" else 25)
    for cls in ours:
        for item in dataclasses.fields(cls):
            assert f"[default: {yaml_default(item.default)}]" in key_line(text, item.name), item.name


@pytest.mark.parametrize(("stage", "name", "default"), [
    ("sft", "model_name_or_path", "embedded:smollm2-135m"), ("sft", "use_peft", "false"),
    ("sft", "lora_dropout", "0.05"), ("sft", "max_train_samples", "null"), ("sft", "sft_format", "session"),
    ("sft", "learning_rate", "2e-05"), ("sft", "max_length", "1024"),
    ("grpo", "reward_alpha", "0.005"), ("grpo", "reward_dars_factor", "1000.0"), ("grpo", "save_rollouts", "true"),
    ("grpo", "self_certainty_chunk_size", "256"),
    # ShopR1GRPOConfig's paper defaults, not TRL's 0.0 and 1.0
    ("grpo", "beta", "0.001"), ("grpo", "temperature", "0.6"),
])
def test_known_defaults(stage, name, default):
    assert re.search(rf"\[default: {re.escape(default)}\]\s*│$", key_line(help_text(stage), name))


def test_help_line_and_choices_come_from_the_field():
    line = key_line(help_text("grpo"), "reward_mode")
    assert "shop_r1 (format + hierarchical action with DARS + self-certainty);" in line
    assert "[choices: shop_r1, binary, no_format, no_self_certainty, no_dars, binary_action]" in line
    assert "INT " in key_line(help_text("grpo"), "lora_r") and "FLOAT " in key_line(help_text("grpo"), "beta")


@pytest.mark.parametrize("stage", ["sft", "grpo"])
def test_trainer_keys_are_the_recipes_keys(stage):
    *ours, trainer = STAGES[stage].make_parser().dataclass_types
    own = {item.name for cls in ours for item in dataclasses.fields(cls)}
    used = set()
    for recipe in CONFIGS.glob(f"*/**/{stage}.yaml"):
        used |= set(yaml.safe_load(recipe.read_text())) - own
    assert set(TRAINER_KEYS[stage]) == used
    text = help_text(stage)
    for name in TRAINER_KEYS[stage]:
        key_line(text, name)
    others = sum(item.init for item in dataclasses.fields(trainer)) - len(TRAINER_KEYS[stage])
    assert others > 100
    assert (f"Every other {trainer.__name__} field ({others} more, from TRL and transformers' TrainingArguments) "
            f"is accepted too") in text
    assert f"`python -m shop_r1.training.{stage} --help` lists them all" in text
    assert "--ddp_timeout " not in text  # an unused TrainingArguments field is not listed


def test_plain_help_without_rich_markup():
    text = help_text("grpo", markup_mode=None)
    assert "Recipe keys: Rewards (RewardArguments):" in text
    flat = " ".join(text.split())  # click wraps the rows at 80 columns
    assert "--reward_alpha FLOAT Weight of the self-certainty reward (paper 0.005). [default: 0.005]" in flat
    assert "Every other ShopR1GRPOConfig field" in text


def test_recipe_keys_of_a_dataclass():
    keys = {key.name: key for key in recipe_keys(RewardArguments)}
    assert list(keys) == ["reward_mode", "reward_alpha", "reward_dars_factor", "reward_similarity_threshold",
                          "reward_self_certainty_form", "reward_std_floor", "reward_rouge_tokenizer"]
    assert (keys["reward_std_floor"].kind, keys["reward_std_floor"].default) == ("FLOAT", "0.1")
    model = recipe_keys(ModelArguments, ["lora_r"])
    assert [(key.name, key.kind, key.default, key.help) for key in model] == [("lora_r", "INT", "16", "LoRA rank.")]


def test_help_line_keeps_whole_sentences():
    text = "First part. Second part is here. Third `x` part."
    assert help_line(text, limit=11) == "First part."
    assert help_line(text, limit=32) == "First part. Second part is here."
    assert help_line(text) == text
    assert help_line("Ends at 0.5 e.g. not here. Next") == "Ends at 0.5 e.g. not here. Next"
