"""`labelled_positions_only`: TRL's fused LM head scores only labelled positions on the CPU, with the same result."""

import inspect

import pytest
import torch
import trl.trainer.utils as trl_utils

from shop_r1.training.compact_head import labelled_positions_only
from tests.training_support import build_tiny_model


def test_trl_decides_the_path_with_the_patched_name():
    # If this fails after a TRL upgrade, re-read `add_fused_lm_head` and adapt `compact_head.py`.
    source = inspect.getsource(trl_utils.add_fused_lm_head)
    assert "compact = _use_triton(hidden_states.device)" in source
    assert "hidden_states[mask] if compact else" in source


@pytest.fixture(scope="module")
def fused_model(tmp_path_factory):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(build_tiny_model(tmp_path_factory.mktemp("tiny")),
                                                 dtype=torch.float32)
    trl_utils.add_fused_lm_head(model, outputs=("log_probs", "entropy", "is_top1"))
    return model


def _batch(vocab: int):
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(0, vocab, (3, 40), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, :7] = 0  # a left-padded row, as TRL pads prompts
    labels = input_ids.masked_fill(attention_mask == 0, -100)
    labels[:, :-6] = -100  # only the last six tokens carry loss, like a completion
    labels[2, -6:] = -100  # and one row carries none at all
    return input_ids, attention_mask, labels


def _run(model, batch):
    input_ids, attention_mask, labels = batch
    model.zero_grad()
    out = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels, fused_lm_head=True)
    out.loss.backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    return out, grads


def test_same_log_probs_entropy_and_gradients(fused_model):
    batch = _batch(fused_model.config.vocab_size)
    stock, stock_grads = _run(fused_model, batch)
    with labelled_positions_only():
        compact, compact_grads = _run(fused_model, batch)
    assert stock.label_mask.sum().item() == 6 * 2
    torch.testing.assert_close(compact.log_probs, stock.log_probs, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(compact.entropy, stock.entropy, rtol=1e-5, atol=1e-6)
    assert torch.equal(compact.is_top1, stock.is_top1)
    torch.testing.assert_close(compact.loss, stock.loss, rtol=1e-6, atol=1e-7)
    assert stock_grads.keys() == compact_grads.keys() and stock_grads
    for name, grad in stock_grads.items():
        torch.testing.assert_close(compact_grads[name], grad, rtol=1e-4, atol=1e-6, msg=name)
    assert (stock.log_probs[2] == 0).all() and (stock.log_probs[:, :-6] == 0).all()


def test_only_labelled_positions_reach_the_vocabulary_projection(fused_model, monkeypatch):
    rows_projected: list[int] = []
    real_apply = trl_utils._ChunkedLogProbFunction.apply

    def spy(hidden, *args):
        rows_projected.append(hidden.shape[0])
        return real_apply(hidden, *args)

    monkeypatch.setattr(trl_utils._ChunkedLogProbFunction, "apply", spy)
    batch = _batch(fused_model.config.vocab_size)
    with torch.no_grad():
        fused_model(input_ids=batch[0], attention_mask=batch[1], labels=batch[2], fused_lm_head=True)
        with labelled_positions_only():
            fused_model(input_ids=batch[0], attention_mask=batch[1], labels=batch[2], fused_lm_head=True)
    assert rows_projected == [3 * 39, 12]  # every shifted position, then only the twelve labelled ones


def test_the_decision_is_restored_even_after_an_error():
    original = trl_utils._use_triton
    with pytest.raises(RuntimeError), labelled_positions_only():
        assert trl_utils._use_triton(torch.device("cpu")) is True
        raise RuntimeError("training failed")
    assert trl_utils._use_triton is original
    assert original(torch.device("cpu")) is False
