"""Every recipe parses with its values applied, unknown keys are rejected, reward modes map to the paper's settings."""

import enum

import pytest
import yaml
from accelerate.commands.config.config_args import ClusterConfig

from shop_r1.training import grpo, sft
from shop_r1.training.configs import REWARD_MODES, GRPODataArguments, ModelArguments, RewardArguments
from tests.training_support import CONFIGS

TRAINING_RECIPES = sorted(p for p in CONFIGS.glob("**/*.yaml") if "accelerate" not in p.parts)
ACCELERATE_CONFIGS = sorted((CONFIGS / "accelerate").glob("*.yaml"))


def _stage(path):
    return {"sft.yaml": sft, "grpo.yaml": grpo}[path.name]


def _parse(path, *extra):
    recipe = yaml.safe_load(path.read_text())
    argv = ["--config", str(path), *extra]
    if recipe.get("bf16"):  # GPU recipes: parse them on this CPU machine too
        argv += ["--use_cpu", "true"]
    return recipe, _stage(path).parse_args(argv)


# Values the training arguments normalise on parsing.
NORMALISED = {("report_to", "none"): []}


def _value(parsed, key):
    for args in parsed:
        if hasattr(args, key):
            value = getattr(args, key)
            return value.value if isinstance(value, enum.Enum) else value
    raise AssertionError(f"no dataclass has {key!r}")


def test_there_are_recipes_for_every_tier():
    names = {str(p.relative_to(CONFIGS)) for p in TRAINING_RECIPES}
    assert {"debug/sft.yaml", "debug/grpo.yaml", "demo/sft.yaml", "demo/grpo.yaml",
            "paper/qwen2.5-3b/sft.yaml", "paper/qwen2.5-3b/grpo.yaml"} <= names
    assert {p.name for p in ACCELERATE_CONFIGS} == {"ddp.yaml", "zero2.yaml", "zero3.yaml", "fsdp2.yaml"}


@pytest.mark.parametrize("path", TRAINING_RECIPES, ids=[str(p.relative_to(CONFIGS)) for p in TRAINING_RECIPES])
def test_recipe_parses_and_every_key_takes_effect(path):
    recipe, parsed = _parse(path)
    for key, expected in recipe.items():
        actual = _value(parsed, key)
        expected = NORMALISED.get((key, expected), expected) if not isinstance(expected, list) else expected
        assert actual == expected or str(actual) == str(expected), key


@pytest.mark.parametrize("path", ACCELERATE_CONFIGS, ids=[p.name for p in ACCELERATE_CONFIGS])
def test_accelerate_config_has_only_known_keys(path):
    config = ClusterConfig.from_yaml_file(str(path))  # raises on unknown keys
    assert config.num_processes >= 1 and config.mixed_precision == "bf16"


def test_unknown_recipe_key_is_rejected(tmp_path):
    recipe = tmp_path / "typo.yaml"
    recipe.write_text((CONFIGS / "debug" / "grpo.yaml").read_text() + "learning_rat: 0.1\n")
    with pytest.raises(ValueError, match="learning_rat"):
        grpo.parse_args(["--config", str(recipe)])


def test_unknown_flag_is_rejected():
    with pytest.raises(ValueError, match="no_such_flag"):
        sft.parse_args(["--config", str(CONFIGS / "debug" / "sft.yaml"), "--no_such_flag", "1"])


def test_flags_override_the_recipe():
    model, data, rewards, rollouts, training = grpo.parse_args([
        "--config", str(CONFIGS / "debug" / "grpo.yaml"), "--reward_mode", "binary", "--max_steps", "7",
        "--dataset_dir", "/data/x", "--rollout_type_share_bound", "0.6"])
    assert (rewards.reward_mode, training.max_steps, data.dataset_dir) == ("binary", 7, "/data/x")
    assert rollouts.rollout_type_share_bound == 0.6 and model.model_name_or_path == "tiny-random:llama"


def test_paper_recipes_carry_the_paper_hyperparameters():
    _, (_, _, rewards, _, training) = _parse(CONFIGS / "paper" / "qwen2.5-3b" / "grpo.yaml")
    assert (training.max_steps, training.learning_rate, training.temperature, training.beta) == (500, 1e-7, 0.6, 0.001)
    paper_rewards = (rewards.reward_alpha, rewards.reward_dars_factor, rewards.reward_similarity_threshold)
    assert paper_rewards == (0.005, 1000, 0.75)
    assert training.use_vllm and training.bf16 and training.activation_checkpointing
    assert training.per_device_train_batch_size == 1
    _, (_, data, training) = _parse(CONFIGS / "paper" / "qwen2.5-3b" / "sft.yaml")
    assert (training.num_train_epochs, training.learning_rate, training.max_length) == (4, 2e-5, 32768)
    assert data.sft_format == "session" and not training.packing


def test_dataset_dir_is_required_with_a_hint():
    with pytest.raises(ValueError, match="shop-r1 data build"):
        GRPODataArguments()


@pytest.mark.parametrize(
    ("mode", "funcs", "switches"),
    [
        ("shop_r1", ["format", "action", "rationale"], {}),
        ("binary", ["action_binary"], {}),
        ("no_format", ["format", "action", "rationale"], {"use_format_reward": False}),
        ("no_self_certainty", ["format", "action"], {"use_self_certainty": False}),
        ("no_dars", ["format", "action", "rationale"], {"use_dars": False}),
        ("binary_action", ["format", "action", "rationale"], {"binary_action": True}),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_reward_modes(mode, funcs, switches):
    args = RewardArguments(reward_mode=mode)
    config = args.reward_config()
    assert args.reward_funcs == funcs and args.needs_self_certainty == ("rationale" in funcs)
    for name, value in switches.items():
        assert getattr(config, name) is value
    assert (config.alpha, config.dars_factor, config.similarity_threshold) == (0.005, 1000.0, 0.75)


def test_every_reward_mode_is_tested():
    assert set(REWARD_MODES) == {"shop_r1", "binary", "no_format", "no_self_certainty", "no_dars", "binary_action"}


def test_reward_knobs_reach_the_reward_config():
    config = RewardArguments(reward_alpha=0.01, reward_dars_factor=10, reward_similarity_threshold=0.5,
                             reward_self_certainty_form="kl_p_u").reward_config()
    assert (config.alpha, config.dars_factor, config.similarity_threshold, config.self_certainty_form) == (
        0.01, 10, 0.5, "kl_p_u")


@pytest.mark.parametrize(("kwargs", "match"), [({"reward_mode": "nope"}, "reward_mode"),
                                               ({"reward_std_floor": -1.0}, "reward_std_floor")],
                         ids=["mode", "floor"])
def test_bad_reward_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RewardArguments(**kwargs)


def test_lora_config_from_model_arguments():
    assert ModelArguments().peft_config() is None
    lora = ModelArguments(use_peft=True, lora_r=8, lora_target_modules="q_proj, v_proj").peft_config()
    assert lora.r == 8 and set(lora.target_modules) == {"q_proj", "v_proj"} and lora.task_type == "CAUSAL_LM"
    assert ModelArguments(use_peft=True).peft_config().target_modules == "all-linear"


# Keys that cap how much a run reads, trains or keeps; the small recipes must say so where they set one.
CAP_KEYS = ("max_train_samples", "max_eval_samples", "max_steps", "max_length", "max_prompt_tokens",
            "max_completion_length", "save_total_limit")
SMALL_RECIPES = sorted([*(CONFIGS / "demo").glob("*.yaml"), *(CONFIGS / "debug").glob("*.yaml")])


def _cap_comments(path):
    """{key: the `# Cap:` comment block just above it} for every cap key the recipe sets."""
    lines = path.read_text().splitlines()
    found = {}
    for index, line in enumerate(lines):
        key = line.split(":", 1)[0]
        if key not in CAP_KEYS:
            continue
        start = index
        while start > 0 and lines[start - 1].startswith("#"):
            start -= 1
        found[key] = " ".join(lines[start:index])
    return found


@pytest.mark.parametrize("path", SMALL_RECIPES, ids=[str(p.relative_to(CONFIGS)) for p in SMALL_RECIPES])
def test_small_recipes_say_what_they_cap(path):
    recipe = yaml.safe_load(path.read_text())
    comments = _cap_comments(path)
    assert set(comments) == {key for key in CAP_KEYS if key in recipe}
    assert "max_steps" in comments
    for key, comment in comments.items():
        assert comment.startswith("# Cap:"), (key, comment)
        # Each comment states the value it explains, so changing one without the other fails here.
        assert f" {recipe[key]} " in comment.replace(",", " ").replace(":", " "), (key, comment)


@pytest.mark.parametrize("path", SMALL_RECIPES, ids=[str(p.relative_to(CONFIGS)) for p in SMALL_RECIPES])
def test_small_recipes_read_what_their_comments_say(path):
    recipe = yaml.safe_load(path.read_text())
    per_step = recipe["per_device_train_batch_size"] * recipe["gradient_accumulation_steps"]
    if path.name == "grpo.yaml":
        assert per_step == recipe["num_generations"]  # "1 prompt per step", "4 completions per step"
        rows_read = recipe["max_steps"]
    else:
        rows_read = recipe["max_steps"] * per_step  # sessions
    if "max_train_samples" in recipe:  # "... are all the run reads anyway"
        assert rows_read <= recipe["max_train_samples"]
