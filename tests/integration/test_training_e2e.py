"""End to end on tiny local models (no network): SFT then GRPO through the CLI, 2-process DDP, kill and resume,
the embedded model."""

import os
import signal
import subprocess
import sys
import time
from unittest import mock

import pytest
import torch
import typer
from safetensors.torch import load_file
from transformers import set_seed
from trl import GRPOTrainer
from typer.testing import CliRunner

from shop_r1.cli import train
from tests.conftest import REPO_ROOT
from tests.training_support import (
    CANNED_COMPLETIONS,
    CONFIGS,
    build_synthetic_datasets,
    build_tiny_model,
    read_log_history,
    read_rollouts,
)

pytestmark = pytest.mark.slow
runner = CliRunner()


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    return build_synthetic_datasets(tmp_path_factory.mktemp("datasets"))


def _weights(path):
    return load_file(str(path / "model.safetensors"))


def _changed(before, after):
    return [name for name in before if not torch.equal(before[name], after[name])]


def _canned_generation(self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
    """Stands in for sampling: each prompt's group gets a mix of right, partly right, wrong and malformed answers."""
    tokenizer = self.processing_class
    texts = [CANNED_COMPLETIONS[i % len(CANNED_COMPLETIONS)] for i in range(len(prompt_ids))]
    return [tokenizer(t, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id] for t in texts], None


def _cli(*argv):
    cli = typer.Typer()
    train.register(cli)
    result = runner.invoke(cli, [str(a) for a in argv])
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    return result


def test_sft_then_grpo_through_the_cli(tmp_path, tiny_model, datasets, monkeypatch):
    sft_dir, grpo_dir = tmp_path / "sft", tmp_path / "grpo"
    _cli("sft", "--config", CONFIGS / "debug" / "sft.yaml", "--model_name_or_path", tiny_model,
         "--dataset_dir", datasets, "--output_dir", sft_dir, "--max_steps", 3, "--save_strategy", "no")
    sft_log = [e for e in read_log_history(sft_dir) if "loss" in e]
    assert len(sft_log) == 3 and all(e["loss"] > 0 for e in sft_log)
    assert _changed(_weights(tiny_model), _weights(sft_dir))

    # Real sampling from a 2-layer random model is junk (every reward 0); canned answers exercise the rewards,
    # the self-certainty pass (no sampler logits to capture, so the policy forward computes it) and the update.
    monkeypatch.setattr(GRPOTrainer, "_generate_single_turn", _canned_generation)
    _cli("grpo", "--config", CONFIGS / "debug" / "grpo.yaml", "--model_name_or_path", sft_dir,
         "--dataset_dir", datasets, "--output_dir", grpo_dir, "--max_steps", 2, "--save_strategy", "no",
         "--max_train_samples", 8, "--learning_rate", 1e-3)
    steps = [e for e in read_log_history(grpo_dir) if "rewards/format_reward/mean" in e]
    assert len(steps) == 2
    for entry in steps:
        assert "loss" in entry and entry["kl"] >= 0 and entry["completions/mean_length"] > 10
        # 3 of 4 canned answers are well formed: format pays 0.5 x 3/4.
        assert entry["rewards/format_reward/mean"] == pytest.approx(0.375)
        assert entry["parse_failure_rate"] == pytest.approx(0.25)
        shares = [entry[f"rollout_type_share/{t}"] for t in ("click", "type_and_submit", "terminate")]
        assert shares == pytest.approx([0.25, 0.25, 0.25])
        assert entry["rollout_type_share/max"] == pytest.approx(0.25) and entry["reward_hacking/flagged"] == 0.0
        assert 0.0 < entry["rewards/action_reward/mean"] <= 1001.0
        assert 0.0 < entry["rewards/self_certainty/mean"] < 50.0
        # alpha x s over the 3 valid answers, 0 for the malformed one; tiny next to the discrete rewards
        assert 0.0 < entry["rewards/rationale_reward/mean"] < 0.005 * 50
        assert 0.0 <= entry["frac_reward_std_floored"] <= 1.0
    assert _changed(_weights(sft_dir), _weights(grpo_dir))
    rollouts = read_rollouts(grpo_dir)
    assert len(rollouts) == 2 * 4 and {r["step"] for r in rollouts} == {0, 1}
    valid = [r for r in rollouts if r["completion"].startswith("{")]
    assert all(r["self_certainty"] > 0 and r["rewards"]["format_reward"] == 0.5 for r in valid)


def test_one_prompt_pass_per_group_trains_the_same_model(tmp_path, tiny_model, datasets, monkeypatch):
    # The same canned rollouts, trained with TRL's whole-row pass and with each group's prompt run once.
    from shop_r1.training import trainer as trainer_module

    monkeypatch.setattr(GRPOTrainer, "_generate_single_turn", _canned_generation)
    runs = {}
    for shared in ("false", "true"):
        out = tmp_path / f"shared-{shared}"
        original = trainer_module.shared_prompt_log_probs
        trl_pass = GRPOTrainer._get_per_token_logps_and_entropies
        with (mock.patch.object(trainer_module, "shared_prompt_log_probs", wraps=original) as calls,
              mock.patch.object(GRPOTrainer, "_get_per_token_logps_and_entropies", autospec=True,
                                side_effect=trl_pass) as trl_calls):
            _cli("grpo", "--config", CONFIGS / "debug" / "grpo.yaml", "--model_name_or_path", tiny_model,
                 "--dataset_dir", datasets, "--output_dir", out, "--max_steps", 2, "--save_strategy", "no",
                 "--max_train_samples", 8, "--learning_rate", 1e-3, "--shared_prefill", shared)
        steps = [e for e in read_log_history(out) if "grad_norm" in e]
        runs[shared] = steps, _weights(out), (calls.call_count, trl_calls.call_count)
    (plain_log, plain_weights, plain_calls), (shared_log, shared_weights, shared_calls) = runs["false"], runs["true"]
    # Per step, TRL's pass runs for the self-certainty pass (canned rollouts leave no sampler logits to capture);
    # the reference model's pass (beta > 0) and the training pass are TRL's too, unless one shared pass over
    # the step's group of 4 replaced each.
    assert plain_calls == (0, 6) and shared_calls == (4, 2)
    assert len(plain_log) == len(shared_log) == 2
    for plain, shared in zip(plain_log, shared_log, strict=True):
        assert shared["grad_norm"] == pytest.approx(plain["grad_norm"], rel=1e-4) and plain["grad_norm"] > 0
        assert shared["loss"] == pytest.approx(plain["loss"], abs=1e-6)
    assert _changed(_weights(tiny_model), shared_weights)
    for name, weight in plain_weights.items():
        torch.testing.assert_close(shared_weights[name], weight, rtol=1e-4, atol=1e-6, msg=name)


def _grpo_command(tiny_model, datasets, output_dir, *extra):
    return [sys.executable, "-m", "shop_r1.training.grpo", "--config", str(CONFIGS / "debug" / "grpo.yaml"),
            "--model_name_or_path", str(tiny_model), "--dataset_dir", str(datasets), "--output_dir", str(output_dir),
            *map(str, extra)]


def _env():
    env = dict(os.environ)
    # The caller's path first (it may point at another checkout of the package), then this checkout.
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join([*paths, str(REPO_ROOT / "src"), str(REPO_ROOT)])
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def test_two_process_cpu_run_completes_a_grpo_step(tmp_path, tiny_model, datasets):
    output_dir = tmp_path / "ddp"
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
               *_grpo_command(tiny_model, datasets, output_dir, "--max_steps", 1, "--per_device_train_batch_size",
                              2, "--num_generations", 4, "--save_strategy", "no")[1:]]
    done = subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=300, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    history = read_log_history(output_dir)
    assert history[-1]["step"] == 1 and "rewards/format_reward/mean" in history[0]
    rollouts = read_rollouts(output_dir)
    assert len(rollouts) == 4 and len({r["session_id"] for r in rollouts}) == 1  # one group, split over 2 ranks


def _ids_by_step(rollouts):
    by_step = {}
    for row in rollouts:
        by_step.setdefault(row["step"], []).append((row["session_id"], row["step_index"]))
    return by_step


def test_resume_after_a_kill_continues_from_the_checkpoint(tmp_path, tiny_model, datasets):
    args = ("--max_steps", 4, "--save_steps", 2, "--save_total_limit", 3, "--per_device_train_batch_size", 4)
    reference = tmp_path / "reference"
    subprocess.run(_grpo_command(tiny_model, datasets, reference, *args), env=_env(), check=True,
                   capture_output=True, timeout=300, cwd=REPO_ROOT)

    killed = tmp_path / "killed"
    process = subprocess.Popen(_grpo_command(tiny_model, datasets, killed, *args), env=_env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO_ROOT)
    checkpoint = killed / "checkpoint-2" / "trainer_state.json"
    deadline = time.monotonic() + 240
    while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # trainer_state.json is the checkpoint's last file; step 3 is still far from done
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert checkpoint.exists() and not (killed / "checkpoint-4").exists(), "the run ended before it could be killed"

    resumed = subprocess.run(_grpo_command(tiny_model, datasets, killed, *args, "--resume_from_checkpoint", "auto"),
                             env=_env(), capture_output=True, text=True, timeout=300, cwd=REPO_ROOT)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming from" in resumed.stdout + resumed.stderr
    assert read_log_history(killed)[-1]["step"] == 4
    # Same prompts at every step as the uninterrupted run: nothing redone, nothing skipped.
    assert _ids_by_step(read_rollouts(killed)) == _ids_by_step(read_rollouts(reference))
    assert sorted(_ids_by_step(read_rollouts(killed))) == [0, 1, 2, 3]


def test_embedded_model_is_dequantised_once_and_cached():
    from shop_r1.models.checkpoints import MARKER, resolve_model_dir
    from shop_r1.models.embedded import cache_dir
    from shop_r1.models.load import load_model, load_model_tokenizer

    model = load_model("embedded:smollm2-135m")
    directory = resolve_model_dir("embedded:smollm2-135m")
    assert directory == str(cache_dir() / "models" / "smollm2-135m" / "model")
    assert (cache_dir() / "models" / "smollm2-135m" / "model" / MARKER).is_file()
    assert type(model).__name__ == "LlamaForCausalLM" and model.config.vocab_size == 49152
    assert model.dtype == torch.float32 and getattr(model.config, "quantization_config", None) is None
    tokenizer = load_model_tokenizer("embedded:smollm2-135m")
    started = time.perf_counter()
    load_model("embedded:smollm2-135m")
    assert time.perf_counter() - started < 10  # from the safetensors cache, not the GGUF
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "Hi"}], add_generation_prompt=True,
                                           return_tensors="pt", return_dict=True)
    out = model.generate(**prompt, max_new_tokens=5, do_sample=False)
    assert out.shape[1] > prompt["input_ids"].shape[1]


def _trainer(tiny_model, datasets, tmp_path, **overrides):
    from trl import GRPOConfig

    from shop_r1.training.configs import GRPODataArguments, ModelArguments, RewardArguments, RolloutArguments
    from shop_r1.training.grpo import build_trainer

    source = overrides.pop("source")
    args = GRPOConfig(output_dir=str(tmp_path / source), per_device_train_batch_size=4, num_generations=4,
                      max_completion_length=12, temperature=0.6, beta=0.001, bf16=False, use_cpu=True,
                      activation_checkpointing=False, report_to="none", seed=0, **overrides)
    trainer = build_trainer(ModelArguments(model_name_or_path=str(tiny_model)),
                            GRPODataArguments(dataset_dir=str(datasets), max_train_samples=4), RewardArguments(),
                            RolloutArguments(self_certainty_source=source, save_rollouts=False), args)
    trainer.model.train()
    return trainer


@pytest.mark.parametrize("shared_pass", [False, True], ids=["own-policy-pass", "shared-old-logp-pass"])
def test_sampler_logits_and_policy_pass_give_the_same_self_certainty(tmp_path, tiny_model, datasets, monkeypatch,
                                                                      shared_pass):
    # Junk completions have no rationale: score every generated token instead, to compare the two sources.
    from shop_r1.training.trainer import ShopR1GRPOTrainer

    monkeypatch.setattr(ShopR1GRPOTrainer, "_rationale_masks", lambda self, ids: [[True] * len(i) for i in ids])
    extra = {"num_iterations": 2} if shared_pass else {}  # TRL then runs its own old-log-prob pass
    values = {}
    for source in ("generation", "forward"):
        trainer = _trainer(tiny_model, datasets, tmp_path, source=source, **extra)
        assert trainer._trl_computes_old_logps() == shared_pass
        own_pass = mock.patch.object(trainer, "_policy_pass_self_certainty",
                                     wraps=trainer._policy_pass_self_certainty)
        batch = next(iter(trainer.get_train_dataloader()))
        set_seed(1)
        with own_pass as spy:
            output = trainer._generate_and_score_completions(batch)
        assert spy.call_count == (1 if source == "forward" and not shared_pass else 0)
        values[source] = [row["self_certainty"] for row in batch]
        assert ("old_per_token_logps" in output) == shared_pass
        assert trainer._metrics["train"]["rewards/self_certainty/mean"] or trainer._pending_metrics
    assert values["generation"] == pytest.approx(values["forward"], abs=1e-3)
    assert all(v > 0 for v in values["generation"])


def test_lora_stages_save_merged_checkpoints(tmp_path, tiny_model, datasets, monkeypatch):
    sft_dir, grpo_dir = tmp_path / "sft-lora", tmp_path / "grpo-lora"
    lora = ("--use_peft", "true", "--lora_r", 4, "--save_strategy", "no")
    _cli("sft", "--config", CONFIGS / "debug" / "sft.yaml", "--model_name_or_path", tiny_model,
         "--dataset_dir", datasets, "--output_dir", sft_dir, "--max_steps", 2, *lora)
    assert not (sft_dir / "adapter_config.json").exists()  # an ordinary checkpoint the next stage can load
    base, sft_weights = _weights(tiny_model), _weights(sft_dir)
    assert set(sft_weights) == set(base) and any("q_proj" in name for name in _changed(base, sft_weights))

    monkeypatch.setattr(GRPOTrainer, "_generate_single_turn", _canned_generation)
    _cli("grpo", "--config", CONFIGS / "debug" / "grpo.yaml", "--model_name_or_path", sft_dir,
         "--dataset_dir", datasets, "--output_dir", grpo_dir, "--max_steps", 1, "--learning_rate", 1e-2,
         "--max_train_samples", 4, *lora)
    entry = next(e for e in read_log_history(grpo_dir) if "rewards/self_certainty/mean" in e)
    assert entry["rewards/self_certainty/mean"] > 0 and entry["kl"] >= 0  # reference = the adapter switched off
    assert set(_weights(grpo_dir)) == set(base) and _changed(sft_weights, _weights(grpo_dir))
