"""Both self-certainty capture points agree with a direct computation on full logits, token by token."""

import pytest
import torch
from transformers import AutoModelForCausalLM

from shop_r1.rewards import per_token_self_certainty
from shop_r1.training.certainty import ForwardCapture, GenerationCapture, masked_means
from tests.training_support import build_tiny_model

TEMPERATURE = 0.6


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = build_tiny_model(tmp_path_factory.mktemp("tiny"))
    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()


@pytest.fixture(scope="module")
def rollout(model):
    """Two left-padded prompts of different lengths and 12 sampled tokens each (no EOS stop)."""
    torch.manual_seed(0)
    pad = model.config.pad_token_id
    prompts = [torch.randint(10, 1000, (7,)), torch.randint(10, 1000, (4,))]
    width = max(len(p) for p in prompts)
    input_ids = torch.stack([torch.cat([torch.full((width - len(p),), pad), p]) for p in prompts])
    attention_mask = (torch.arange(width) >= torch.tensor([[width - len(p)] for p in prompts])).long()
    capture = GenerationCapture(model.get_output_embeddings(), form="kl_u_p", temperature=TEMPERATURE)
    with capture, torch.no_grad():
        out = model.generate(input_ids=input_ids, attention_mask=attention_mask, do_sample=True,
                             temperature=TEMPERATURE, max_new_tokens=12, min_new_tokens=12, top_k=0, top_p=1.0)
    full_mask = torch.cat([attention_mask, torch.ones(2, 12, dtype=torch.long)], dim=1)
    return {"sequences": out, "attention_mask": full_mask, "capture": capture, "completion_length": 12}


def _direct(model, rollout, form="kl_u_p"):
    with torch.no_grad():
        logits = model(input_ids=rollout["sequences"], attention_mask=rollout["attention_mask"]).logits
    c = rollout["completion_length"]
    return per_token_self_certainty(logits[:, -c - 1 : -1], form=form, temperature=TEMPERATURE)  # (B, C)


def test_generation_capture_equals_full_logits(model, rollout):
    per_token = rollout["capture"].per_token([12, 12])
    torch.testing.assert_close(torch.tensor(per_token), _direct(model, rollout), atol=2e-4, rtol=1e-4)


def test_generation_capture_reports_rows_by_their_own_length(rollout):
    per_token = rollout["capture"].per_token([3, 12])
    assert [len(row) for row in per_token] == [3, 12]
    assert rollout["capture"].per_token([13, 1]) is None  # more tokens than decoding steps: not this generation


@pytest.mark.parametrize("chunk_size", [1, 5, 256], ids=["chunk1", "chunk5", "chunk256"])
def test_forward_capture_equals_full_logits_at_masked_positions(model, rollout, chunk_size):
    masks = [[t % 3 != 0 for t in range(12)], [t in (4, 5, 11) for t in range(12)]]
    capture = ForwardCapture(model, masks, 12, form="kl_u_p", temperature=TEMPERATURE, chunk_size=chunk_size)
    with capture, torch.no_grad():
        for row in range(2):  # two micro-batches of one row, as the trainer's fixed-size chunks would
            model(input_ids=rollout["sequences"][row : row + 1],
                  attention_mask=rollout["attention_mask"][row : row + 1])
    direct = _direct(model, rollout)
    expected = [direct[row][torch.tensor(masks[row])].mean().item() for row in range(2)]
    assert capture.means() == pytest.approx(expected, abs=2e-4)


@pytest.mark.parametrize("form", ["kl_p_u", "paper_eq3"], ids=["kl_p_u", "paper_eq3"])
def test_forward_capture_forms(model, rollout, form):
    masks = [[True] * 12, [True] * 12]
    capture = ForwardCapture(model, masks, 12, form=form, temperature=TEMPERATURE)
    with capture, torch.no_grad():
        model(input_ids=rollout["sequences"], attention_mask=rollout["attention_mask"])
    assert capture.means() == pytest.approx(_direct(model, rollout, form).mean(dim=1).tolist(), rel=1e-3, abs=1e-6)


def test_forward_capture_without_rationale_tokens_and_incomplete_passes(model, rollout):
    capture = ForwardCapture(model, [[False] * 12, [False] * 12], 12, form="kl_u_p", temperature=1.0)
    with capture, torch.no_grad():
        model(input_ids=rollout["sequences"], attention_mask=rollout["attention_mask"])
    assert capture.means() == [None, None]
    partial = ForwardCapture(model, [[True] * 12] * 3, 12, form="kl_u_p", temperature=1.0)
    with partial, torch.no_grad():
        model(input_ids=rollout["sequences"], attention_mask=rollout["attention_mask"])
    with pytest.raises(RuntimeError, match="covered 2 rows, expected 3"):
        partial.means()


def test_hooks_are_removed_on_exit(model, rollout):
    capture = GenerationCapture(model.get_output_embeddings(), form="kl_u_p", temperature=1.0)
    with capture:
        pass
    with torch.no_grad():
        model(input_ids=rollout["sequences"][:1])
    assert capture.steps == []


def test_masked_means():
    assert masked_means([[1.0, 2.0, 4.0], [5.0], []], [[False, True, True], [False], []]) == [3.0, None, None]
