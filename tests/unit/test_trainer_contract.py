"""Contract with the pinned TRL: the private GRPOTrainer hooks ShopR1GRPOTrainer overrides still look as assumed.

If one of these fails after a TRL upgrade, re-read `trl/trainer/grpo_trainer.py` and adapt `trainer.py`.
"""

import inspect
import json

import trl
from trl import GRPOTrainer

from shop_r1.training.trainer import RolloutLog, ShopR1GRPOTrainer


def _params(function):
    return list(inspect.signature(function).parameters)


def test_trl_is_the_pinned_minor_version():
    assert trl.__version__.startswith("1.16."), trl.__version__


def test_overridden_hook_signatures():
    assert _params(GRPOTrainer._generate) == ["self", "prompts"]
    assert _params(GRPOTrainer._calculate_rewards) == ["self", "inputs", "prompts", "completions",
                                                       "completion_ids_list"]
    assert _params(GRPOTrainer._generate_and_score_completions) == ["self", "inputs"]
    assert _params(GRPOTrainer._get_per_token_logps_and_entropies)[:5] == [
        "self", "model", "input_ids", "attention_mask", "logits_to_keep"]
    assert "batch_size" in _params(GRPOTrainer._get_per_token_logps_and_entropies)


def test_generate_returns_prompt_and_completion_ids_first():
    source = inspect.getsource(GRPOTrainer._generate)
    assert "return prompt_ids, completion_ids, tool_mask, completions, logprobs, extra_fields, images, tool_images" \
        in source


def test_old_logp_condition_and_pass_order_are_as_mirrored():
    source = inspect.getsource(GRPOTrainer._generate_and_score_completions)
    condition = ("if self.args.gradient_accumulation_steps % generate_every != 0 or (\n"
                 "                self.use_vllm and self.vllm_importance_sampling_correction\n            ):")
    assert condition in source  # mirrored by ShopR1GRPOTrainer._trl_computes_old_logps
    generate = source.index("self._generate(prompts)")
    old = source.index("old_per_token_logps, _, _ = self._get_per_token_logps_and_entropies(\n"
                       "                    self.model,")
    ref = source.index("ref_per_token_logps, _, _ = self._get_per_token_logps_and_entropies(")
    rewards = source.index("rewards_per_func = self._calculate_rewards(inputs, prompts, completions, "
                           "completion_ids_list)")
    advantages = source.index('"advantages": advantages,')
    assert generate < old < ref < rewards < advantages


def test_rewards_are_gathered_inside_calculate_rewards():
    # Rows must be extended before the parent call: it gathers the rewards across processes at its end.
    source = inspect.getsource(GRPOTrainer._calculate_rewards)
    assert "keys = [key for key in inputs[0]" in source and "rewards_per_func = gather(rewards_per_func)" in source


def test_trainer_overrides_only_the_documented_hooks():
    own = {name for name, value in vars(ShopR1GRPOTrainer).items()
           if callable(value) and name.startswith("_") and not name.startswith("__") and hasattr(GRPOTrainer, name)}
    assert own == {"_generate", "_get_per_token_logps_and_entropies", "_calculate_rewards",
                   "_generate_and_score_completions"}


def test_rollout_log_drops_steps_a_killed_run_wrote_after_its_checkpoint(tmp_path):
    path = tmp_path / "rollouts.jsonl"
    path.write_text("".join(json.dumps({"step": s, "completion": f"old{s}"}) + "\n" for s in (0, 1, 2, 3)))
    log = RolloutLog(path)
    log.write(2, [{"completion": "new2"}])
    log.write(3, [{"completion": "new3"}])
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(r["step"], r["completion"]) for r in rows] == [(0, "old0"), (1, "old1"), (2, "new2"), (3, "new3")]


def test_advantage_lines_that_floored_advantages_mirrors_are_unchanged():
    # `advantages.floored_advantages` repeats these lines with the std clamped; if one changes, follow it there.
    source = inspect.getsource(GRPOTrainer._generate_and_score_completions)
    for line in ("rewards = (rewards_per_func * self.reward_weights.to(device).unsqueeze(0)).nansum(dim=1)",
                 "std_rewards = nanstd(rewards.view(-1, num_generations), dim=1)",
                 "std_rewards = nanstd(rewards).expand_as(rewards)",
                 "advantages = rewards - mean_grouped_rewards",
                 "advantages = advantages / (std_rewards + 1e-4)",
                 "self.accelerator.process_index * len(prompts),"):
        assert line in source, line
