"""`shared_prompt_log_probs`: one pass per distinct prompt gives TRL's log-probs, entropies and gradients."""

import pytest
import torch
import trl.trainer.utils as trl_utils

from shop_r1.training.compact_head import labelled_positions_only
from shop_r1.training.shared_prompt_pass import shared_prompt_log_probs
from tests.training_support import build_tiny_model

PROMPT, COMPLETION = 30, 8


@pytest.fixture(scope="module", params=["llama", "qwen2"])
def fused_model(request, tmp_path_factory):
    from transformers import AutoModelForCausalLM

    directory = build_tiny_model(tmp_path_factory.mktemp("tiny"), architecture=request.param)
    model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32)
    trl_utils.add_fused_lm_head(model, outputs=("log_probs", "entropy"))
    return model


def _group_batch(vocab: int, groups: int = 2, size: int = 3):
    """TRL's layout: `groups` prompts (the second left-padded by 9), each repeated `size` times, then
    completions of different lengths, right-padded."""
    generator = torch.Generator().manual_seed(1)
    prompts = torch.randint(3, vocab, (groups, PROMPT), generator=generator)
    prompt_mask = torch.ones_like(prompts)
    prompt_mask[1:, :9] = 0
    prompts = prompts.masked_fill(prompt_mask == 0, 0)
    ids = prompts.repeat_interleave(size, dim=0)
    mask = prompt_mask.repeat_interleave(size, dim=0)
    completions = torch.randint(3, vocab, (groups * size, COMPLETION), generator=generator)
    completion_mask = torch.ones_like(completions)
    for row in range(groups * size):
        completion_mask[row, COMPLETION - row % 4:] = 0  # lengths 8, 7, 6, 5, 8, 7
    completions = completions.masked_fill(completion_mask == 0, 0)
    order = torch.randperm(groups * size, generator=generator)  # TRL shuffles the rows before the training pass
    return torch.cat([ids, completions], dim=1)[order], torch.cat([mask, completion_mask], dim=1)[order]


def _trl_pass(model, input_ids, attention_mask):
    """What `GRPOTrainer._get_per_token_logps_and_entropies` runs for one micro-batch."""
    labels = input_ids.masked_fill(attention_mask == 0, -100)
    labels[:, :-COMPLETION] = -100
    out = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels, fused_lm_head=True)
    return out.log_probs[:, -COMPLETION:], out.entropy[:, -COMPLETION:]


def _loss_and_grads(model, log_probs, completion_mask):
    model.zero_grad()
    (-(log_probs * completion_mask).sum()).backward()
    return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("compact", [False, True], ids=["stock-head", "compact-head"])
def test_same_log_probs_entropies_and_gradients_as_trls_pass(fused_model, compact):
    input_ids, attention_mask = _group_batch(fused_model.config.vocab_size)
    completion_mask = attention_mask[:, -COMPLETION:]
    with labelled_positions_only() if compact else torch.enable_grad():
        stock_logps, stock_entropy = _trl_pass(fused_model, input_ids, attention_mask)
        stock_grads = _loss_and_grads(fused_model, stock_logps, completion_mask)
        shared = shared_prompt_log_probs(fused_model, input_ids, attention_mask, COMPLETION, compute_entropy=True)
        assert shared is not None
        shared_logps, shared_entropy = shared
        shared_grads = _loss_and_grads(fused_model, shared_logps, completion_mask)
    real = completion_mask.bool()
    torch.testing.assert_close(shared_logps[real], stock_logps[real], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(shared_entropy[real], stock_entropy[real], rtol=1e-5, atol=1e-5)
    assert (shared_logps[~real] == 0).all()  # padding carries nothing, as in TRL's pass
    assert stock_grads.keys() == shared_grads.keys() and len(stock_grads) > 5
    for name, grad in stock_grads.items():
        torch.testing.assert_close(shared_grads[name], grad, rtol=1e-4, atol=1e-6, msg=name)


def test_rows_that_share_no_prompt_are_left_to_the_ordinary_pass(fused_model):
    input_ids, attention_mask = _group_batch(fused_model.config.vocab_size, groups=2, size=1)
    assert shared_prompt_log_probs(fused_model, input_ids, attention_mask, COMPLETION) is None
