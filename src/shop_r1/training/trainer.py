"""`ShopR1GRPOTrainer`: TRL's GRPOTrainer plus what reward functions cannot see, the policy's logits.

Shop-R1's rationale reward is alpha x the self-certainty s(r) of the generated rationale (section 3,
Eq. 3): a statistic of the policy's full next-token distribution at each rationale token. The changes
w.r.t. `trl.GRPOTrainer` (pinned to trl 1.16; `tests/unit/test_trainer_contract.py` checks the hooks):

1. `_generate`: with transformers generation, prefill each distinct prompt once for its G rollouts
   (`shared_prefill.shared_prompt_prefill`); around generation, capture each sampled token's self-certainty
   from the sampler's own logits (`certainty.GenerationCapture`, no extra forward). When generation runs
   outside this process (vLLM, continuous batching), arm `certainty.ForwardCapture` for TRL's
   old-log-prob pass instead, or run one no-grad policy pass (in TRL's fixed micro-batches) when TRL will not.
2. `_get_per_token_logps_and_entropies`: if armed, that old-log-prob pass also yields the rationale
   positions' hidden states, projected through the LM head in fixed-size chunks.
3. `_calculate_rewards`: add each row's s(r) as a `self_certainty` column before TRL calls the reward
   functions (the registered `rationale_reward` reads it), and log it raw as `rewards/self_certainty/mean`.
   Rows must be added *before* the parent call: it gathers the rewards across processes at its end.
4. `_get_per_token_logps_and_entropies`, the log-prob passes (training, old log-probs, reference model): each
   micro-batch runs each distinct prompt once and only the rows' completions on top of its cache, with
   gradients in training (`shared_prompt_pass`; the same log-probs and gradients within float tolerance).
5. `_generate_and_score_completions`: recompute the advantages with a floor on the reward std
   (`advantages.floored_advantages`, why: see there). With `reward_std_floor=0` TRL's are kept.

Rollouts can also be appended to `<output_dir>/rollouts.jsonl` (step, ids, completion, rewards) for
inspection; after a resume, lines from steps the checkpoint does not contain are dropped first.
"""

from __future__ import annotations

import json
import logging
import math
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from trl import GRPOTrainer

from shop_r1.shared_prefill import shared_prompt_prefill
from shop_r1.training.advantages import floored_advantages
from shop_r1.training.certainty import ForwardCapture, GenerationCapture, masked_means
from shop_r1.training.shared_prompt_pass import shared_prompt_log_probs

logger = logging.getLogger(__name__)

SELF_CERTAINTY_COLUMN = "self_certainty"
SELF_CERTAINTY_METRIC = "rewards/self_certainty/mean"
# Dataset columns copied into rollouts.jsonl when present.
ROLLOUT_ID_COLUMNS = ("session_id", "step_index")


@dataclass(frozen=True)
class SelfCertaintySettings:
    """How the trainer computes s(r). `source`: "auto", "generation" or "forward" (see `RolloutArguments`)."""

    form: str = "kl_u_p"
    source: str = "auto"
    chunk_size: int = 256


class RolloutLog:
    """Append-only JSONL of rollouts, rank 0 only. On its first write it drops lines of steps >= the current one
    (written by a run that was killed after its last checkpoint), so a resumed run's log has each step once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._trimmed = False

    def write(self, step: int, rows: list[dict[str, Any]]) -> None:
        if not self._trimmed:
            self._trimmed = True
            if self.path.is_file():
                kept = [line for line in self.path.read_text().splitlines()
                        if line.strip() and json.loads(line)["step"] < step]
                self.path.write_text("".join(line + "\n" for line in kept))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as handle:
            for row in rows:
                handle.write(json.dumps({"step": step, **row}, ensure_ascii=False) + "\n")


class ShopR1GRPOTrainer(GRPOTrainer):
    """GRPOTrainer with the Shop-R1 self-certainty rationale reward and the reward-std floor.

    Args:
        self_certainty (`SelfCertaintySettings` or `None`): compute s(r) for the `rationale_reward`; `None` when
            no reward function reads it (binary and no-self-certainty modes skip the work entirely).
        reward_std_floor (`float`, defaults to `0.1`): see `advantages.floored_advantages`; 0 keeps TRL's advantages.
        rollout_log (`str` or `None`): path of a rollouts JSONL file, or `None` for none.
        shared_prefill (`bool`, defaults to `True`): one prompt prefill per group of rollouts (transformers
            generation only; vLLM has its own prefix cache), and one prompt pass per group in the log-prob
            passes: training, old log-probs and the reference model.
        **kwargs: everything `trl.GRPOTrainer` takes.
    """

    def __init__(
        self,
        *args: Any,
        self_certainty: SelfCertaintySettings | None = None,
        reward_std_floor: float = 0.1,
        rollout_log: str | None = None,
        shared_prefill: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if self_certainty is not None and (self.tools or self.environment_factories is not None):
            raise ValueError("self-certainty rewards do not support tool calls or environments (multi-turn rollouts)")
        self.self_certainty = self_certainty
        self.reward_std_floor = reward_std_floor
        self.shared_prefill = shared_prefill
        self._rollout_log = RolloutLog(Path(rollout_log)) if rollout_log else None
        self._certainty_source = self._resolve_certainty_source() if self_certainty is not None else None
        self._pending_self_certainty: list[float | None] | None = None
        self._armed_forward: list[list[bool]] | None = None  # rationale masks awaiting the next policy pass
        self._last_rewards_per_func: torch.Tensor | None = None

    # -- where s(r) comes from --------------------------------------------------------------------------------

    def _generates_elsewhere(self) -> bool:
        return bool(self.use_vllm or self.use_transformers_continuous_batching or self.rollout_func is not None)

    def _resolve_certainty_source(self) -> str:
        requested = self.self_certainty.source
        if requested == "generation" and self._generates_elsewhere():
            raise ValueError("self_certainty_source=generation needs generation with transformers.generate in this "
                             "process; with vLLM, continuous batching or a rollout_func use auto or forward")
        if requested == "auto":
            return "forward" if self._generates_elsewhere() else "generation"
        return requested

    def _trl_computes_old_logps(self) -> bool:
        """Whether TRL 1.16's `_generate_and_score_completions` runs its no-grad old-log-prob pass this step
        (its own condition, mirrored; the contract test checks the source still says so)."""
        generate_every = self.args.steps_per_generation * self.num_iterations
        return bool(self.args.gradient_accumulation_steps % generate_every != 0
                    or (self.use_vllm and self.vllm_importance_sampling_correction))

    def _causal_lm(self) -> torch.nn.Module:
        model = self.accelerator.unwrap_model(self.model)
        return model.get_base_model() if hasattr(model, "get_base_model") else model

    def _rationale_masks(self, completion_ids: list[list[int]]) -> list[list[bool]]:
        from shop_r1.rewards import rationale_token_mask

        return [rationale_token_mask(ids, self._tokenizer) for ids in completion_ids]

    def _generate(self, prompts: list) -> tuple:
        prefill = nullcontext()
        if self.shared_prefill and not self._generates_elsewhere():
            prefill = shared_prompt_prefill(self.accelerator.unwrap_model(self.model))
        with prefill:
            return self._generate_with_certainty(prompts)

    def _generate_with_certainty(self, prompts: list) -> tuple:
        if self.self_certainty is None:
            return super()._generate(prompts)
        capture = None
        if self._certainty_source == "generation":
            capture = GenerationCapture(self._causal_lm().get_output_embeddings(),
                                        form=self.self_certainty.form, temperature=self.temperature)
        with capture if capture is not None else nullcontext():
            result = super()._generate(prompts)
        prompt_ids, completion_ids = result[0], result[1]
        masks = self._rationale_masks(completion_ids)
        per_token = capture.per_token([len(ids) for ids in completion_ids]) if capture is not None else None
        if per_token is not None:
            self._pending_self_certainty = masked_means(per_token, masks)
        elif self._trl_computes_old_logps():
            self._armed_forward = masks  # consumed by TRL's old-log-prob pass, which comes next
        else:
            self._pending_self_certainty = self._policy_pass_self_certainty(prompt_ids, completion_ids, masks)
        return result

    def _policy_pass_self_certainty(
        self, prompt_ids: list[list[int]], completion_ids: list[list[int]], masks: list[list[bool]]
    ) -> list[float | None]:
        """One no-grad policy forward over prompt + completion, padded exactly as TRL pads them, in TRL's
        micro-batches (the same number of forwards on every rank)."""
        from trl.models.utils import disable_gradient_checkpointing
        from trl.trainer.utils import pad

        device = self.accelerator.device
        pad_id = self._tokenizer.pad_token_id

        def padded(rows: list[list[int]], side: str, value: int) -> torch.Tensor:
            return pad([torch.tensor(r, dtype=torch.long) for r in rows], padding_value=value, padding_side=side,
                       pad_to_multiple_of=self.pad_to_multiple_of).to(device)

        prompt = padded(prompt_ids, "left", pad_id)
        prompt_mask = padded([[1] * len(r) for r in prompt_ids], "left", 0)
        completion = padded(completion_ids, "right", pad_id)
        completion_mask = padded([[1] * len(r) for r in completion_ids], "right", 0)
        mode = "train" if self.model.training else "eval"
        batch_size = self.args.per_device_train_batch_size if mode == "train" else self.args.per_device_eval_batch_size
        self._armed_forward = masks
        with torch.no_grad(), disable_gradient_checkpointing(self.model, self.args.gradient_checkpointing_kwargs):
            self._get_per_token_logps_and_entropies(
                self.model, torch.cat([prompt, completion], dim=1), torch.cat([prompt_mask, completion_mask], dim=1),
                completion.size(1), batch_size=batch_size,
            )
        pending, self._pending_self_certainty = self._pending_self_certainty, None
        return pending

    def _get_per_token_logps_and_entropies(self, model, input_ids, attention_mask, logits_to_keep, *args, **kwargs):
        masks = self._armed_forward
        # Only the policy's no-grad pass right after generation qualifies: TRL's ref pass (another model, or this
        # one with its adapter disabled) comes after it, and the training pass runs with gradients.
        if masks is None or model is not self.model or torch.is_grad_enabled():
            # With gradients only the unwrapped policy qualifies: a DDP wrapper must run its own forward, which is
            # what all-reduces the gradients, so multi-process training passes keep TRL's. Without gradients
            # (old log-probs, the reference model) any model does.
            if self.shared_prefill and masks is None and (model is self.model or not torch.is_grad_enabled()):
                shared = self._shared_prompt_pass(model, input_ids, attention_mask, logits_to_keep, *args, **kwargs)
                if shared is not None:
                    return shared
            return super()._get_per_token_logps_and_entropies(
                model, input_ids, attention_mask, logits_to_keep, *args, **kwargs)
        self._armed_forward = None
        capture = ForwardCapture(self._causal_lm(), masks, logits_to_keep, form=self.self_certainty.form,
                                 temperature=self.temperature, chunk_size=self.self_certainty.chunk_size)
        with capture:
            result = super()._get_per_token_logps_and_entropies(
                model, input_ids, attention_mask, logits_to_keep, *args, **kwargs)
        self._pending_self_certainty = capture.means()
        return result

    def _shared_prompt_pass(self, model, input_ids, attention_mask, logits_to_keep, batch_size=None,
                            compute_entropy=False, compute_aux_loss=False, **multimodal):
        """TRL's pass in its micro-batches, each running its distinct prompts once (`shared_prompt_pass`); a
        micro-batch whose rows share no prompt takes TRL's path. `None` (all TRL's) for MoE aux losses or images."""
        if compute_aux_loss or any(value is not None for value in multimodal.values()):
            return None
        unwrapped = self.accelerator.unwrap_model(model)
        batch_size = batch_size or input_ids.size(0)
        logps, entropies = [], []
        for start in range(0, input_ids.size(0), batch_size):
            ids, mask = input_ids[start:start + batch_size], attention_mask[start:start + batch_size]
            with self.accelerator.autocast():
                result = shared_prompt_log_probs(unwrapped, ids, mask, logits_to_keep, compute_entropy=compute_entropy)
            if result is None:
                result = super()._get_per_token_logps_and_entropies(model, ids, mask, logits_to_keep,
                                                                     compute_entropy=compute_entropy)[:2]
            logps.append(result[0])
            entropies.append(result[1])
        return torch.cat(logps), torch.cat(entropies) if compute_entropy else None, None

    # -- rewards and advantages -------------------------------------------------------------------------------

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        # Where self-certainty enters the rewards: as an extra dataset column, because TRL passes every column
        # of `inputs` to the reward functions as keyword arguments (`keys = [key for key in inputs[0] ...]`).
        if self.self_certainty is not None:
            values, self._pending_self_certainty = self._pending_self_certainty, None
            if values is None or len(values) != len(inputs):
                raise RuntimeError("self-certainty was not computed for this batch (generation and the policy pass "
                                   "were both skipped?)")
            for row, value in zip(inputs, values, strict=True):
                row[SELF_CERTAINTY_COLUMN] = value
            finite = [v for v in values if v is not None and math.isfinite(v)]
            if finite:  # ranks without a value are left out of the cross-rank mean by TRL's metric flush
                self._log_metric(SELF_CERTAINTY_METRIC, math.fsum(finite) / len(finite))
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._last_rewards_per_func = rewards_per_func
        if self._rollout_log is not None:
            self._log_rollouts(inputs, completions, rewards_per_func)
        return rewards_per_func

    def _log_rollouts(self, inputs: list[dict], completions: list, rewards_per_func: torch.Tensor) -> None:
        from accelerate.utils import gather_object

        local = []
        for index, (row, completion) in enumerate(zip(inputs, completions, strict=True)):
            text = completion[-1]["content"] if isinstance(completion, list) else completion
            entry = {key: row[key] for key in ROLLOUT_ID_COLUMNS if key in row}
            entry["completion"] = text
            if SELF_CERTAINTY_COLUMN in row:
                entry[SELF_CERTAINTY_COLUMN] = row[SELF_CERTAINTY_COLUMN]
            entry["local_index"] = index
            local.append(entry)
        rows = gather_object(local)
        if not self.accelerator.is_main_process:
            return
        rewards = rewards_per_func.tolist()
        for entry, values in zip(rows, rewards, strict=True):
            entry["rewards"] = {name: (None if math.isnan(v) else v)
                                for name, v in zip(self.reward_func_names, values, strict=True)}
        mode = "train" if self.model.training else "eval"
        if mode == "train":
            self._rollout_log.write(self.state.global_step, rows)

    def _generate_and_score_completions(self, inputs):
        # Where the floor enters the advantages: TRL's are replaced by `floored_advantages`, which repeats TRL's
        # normalisation with the std clamped; this rank's slice is cut as TRL's `process_slice` is
        # (`process_index * len(prompts)` onwards, one local batch long).
        output = super()._generate_and_score_completions(inputs)
        rewards_per_func, self._last_rewards_per_func = self._last_rewards_per_func, None
        if (self.reward_std_floor <= 0 or rewards_per_func is None
                or self.multi_objective_aggregation != "sum_then_normalize"):
            return output
        mode = "train" if self.model.training else "eval"
        group = self.num_generations if mode == "train" else self.num_generations_eval
        advantages, floored = floored_advantages(rewards_per_func, self.reward_weights, group,
                                                 scale_rewards=self.scale_rewards, std_floor=self.reward_std_floor)
        local = len(output["advantages"])
        start = self.accelerator.process_index * local
        output["advantages"] = advantages[start : start + local].to(output["advantages"].device)
        self._metrics[mode]["frac_reward_std_floored"].append(floored.float().mean().item())
        return output
