"""The policy's log-prob pass over a group of rollouts, with each distinct prompt run through the model once.

GRPO scores G completions of the same prompt (paper section 3.3), and TRL 1.16 runs the policy over each
of the G rows whole: prompt and completion, forward and backward. Here a prompt is ~1,000 tokens of page
and a completion at most 64, so about 95% of that pass is the same prompt, G times. Instead, the model
runs once over each distinct prompt (all but its last token) and keeps its key/value cache, with
gradients; each row then runs only its last prompt token and its completion on top of a copy of its
prompt's cache. Backpropagation sums the G rows' gradients into the one prompt computation, which is
the gradient of the G separate passes, since the rows share those activations exactly.

Nothing else changes: positions count every column, pads included, as in TRL's own pass (the model
derives them from the cache length); the mask is the full one; the LM head is TRL's fused one with the
same labels. The log-probs and entropies agree with TRL's pass within float tolerance
(`tests/unit/test_shared_prompt_pass.py`); `benchmarks/train_step.py --shapes group` times both.
"""

from __future__ import annotations

from typing import Any

import torch

from shop_r1.shared_prefill import distinct_prompt_cache

__all__ = ["shared_prompt_log_probs"]


def shared_prompt_log_probs(
    model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor, logits_to_keep: int,
    compute_entropy: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None] | None:
    """Per-token log-probs (B, logits_to_keep) of the completions, and their entropies when asked.

    `input_ids` and `attention_mask` (B, T) are TRL's: left-padded prompts, then right-padded completions
    of width `logits_to_keep`. `model` must carry TRL's fused LM head (`fused_lm_head=True`). Returns
    `None` when no two rows share a prompt, or the model is not a plain `PreTrainedModel` with a separate
    backbone (a PEFT wrapper, say), so that the caller runs the ordinary pass.
    """
    prompt_width = input_ids.size(1) - logits_to_keep
    if prompt_width < 2 or getattr(model, "is_activation_checkpointing", False):
        return None  # (a recomputed checkpointed layer would extend the cache a second time)
    # Positions are the model's own, every column counted, as in TRL's pass, which passes none.
    cache = distinct_prompt_cache(model, input_ids[:, :prompt_width], attention_mask[:, :prompt_width],
                                  positions_from_mask=False)
    if cache is None:
        return None
    tail = input_ids[:, prompt_width - 1:]  # the last prompt token, then the completion: (B, 1 + C)
    labels = tail.masked_fill(attention_mask[:, prompt_width - 1:] == 0, -100)
    labels[:, 0] = -100  # the last prompt token is no completion token (its label is dropped by the shift anyway)
    outputs = model(input_ids=tail, attention_mask=attention_mask, cache=cache, labels=labels, fused_lm_head=True)
    log_probs = outputs.log_probs[:, -logits_to_keep:]
    entropy = outputs.entropy[:, -logits_to_keep:] if compute_entropy else None
    return log_probs, entropy
