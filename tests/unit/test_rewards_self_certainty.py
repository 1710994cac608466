"""self_certainty: the rationale reward's signal, against a direct float64 reference."""

from __future__ import annotations

import math

import pytest
import torch

from shop_r1.rewards import self_certainty
from shop_r1.rewards.self_certainty_math import per_token_self_certainty

FORMS = ["kl_u_p", "kl_p_u", "paper_eq3"]


def reference(logits: torch.Tensor, mask: torch.Tensor, form: str, temperature: float = 1.0) -> torch.Tensor:
    """Straight from the definitions, in float64, from the softmax."""
    z = logits.double() / temperature
    p = torch.softmax(z, dim=-1)
    vocab = z.shape[-1]
    if form == "kl_u_p":  # KL(U || p) = sum_i (1/V) log((1/V) / p_i)
        per_token = ((1.0 / vocab) * (math.log(1.0 / vocab) - torch.log(p))).sum(-1)
    else:  # KL(p || U) = sum_i p_i log(p_i / (1/V))
        per_token = (p * (torch.log(p) - math.log(1.0 / vocab))).sum(-1)
        if form == "paper_eq3":
            per_token = per_token / vocab
    weights = mask.double()
    counts = weights.sum(-1)
    return torch.where(counts > 0, (per_token * weights).sum(-1) / counts.clamp(min=1), 0.0)


def random_case(seed: int, batch: int = 3, length: int = 11, vocab: int = 97) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch, length, vocab, generator=generator) * 3
    mask = torch.rand(batch, length, generator=generator) < 0.6
    mask[0, 0] = True  # at least one rationale token somewhere
    return logits, mask


@pytest.mark.parametrize("form", FORMS)
def test_uniform_distribution_scores_zero(form: str) -> None:
    logits = torch.full((2, 5, 1000), 3.7)
    assert self_certainty(logits, torch.ones(2, 5, dtype=torch.bool), form=form).abs().max() < 1e-5


@pytest.mark.parametrize("form", FORMS)
def test_sharper_distributions_score_higher(form: str) -> None:
    base = torch.randn(1, 4, 64, generator=torch.Generator().manual_seed(0))
    mask = torch.ones(1, 4, dtype=torch.bool)
    scores = [self_certainty(base * scale, mask, form=form).item() for scale in (0.0, 0.5, 1.0, 2.0, 4.0)]
    assert scores[0] == pytest.approx(0.0, abs=1e-6)
    assert all(a < b for a, b in zip(scores, scores[1:], strict=False))


@pytest.mark.parametrize("temperature", [1.0, 0.6, 1.3], ids=["t1", "t0_6", "t1_3"])
@pytest.mark.parametrize("form", FORMS)
def test_equals_float64_reference(form: str, temperature: float) -> None:
    logits, mask = random_case(seed=1)
    expected = reference(logits, mask, form, temperature)
    got = self_certainty(logits, mask, form=form, temperature=temperature)
    assert got.dtype == torch.float32
    assert torch.allclose(got.double(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("form", FORMS)
def test_bf16_logits_accumulate_in_fp32(form: str) -> None:
    logits, mask = random_case(seed=2, vocab=4096)
    low = logits.to(torch.bfloat16)
    expected = reference(low.float(), mask, form)  # same (rounded) logits, exact math
    got = self_certainty(low, mask, form=form)
    assert got.dtype == torch.float32
    assert torch.allclose(got.double(), expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("form", FORMS)
def test_large_common_offset_is_stable(form: str) -> None:
    logits, mask = random_case(seed=3)
    shifted = self_certainty(logits + 1e4, mask, form=form)
    assert torch.allclose(shifted, self_certainty(logits, mask, form=form), rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("form", FORMS)
def test_mask_excludes_action_tokens(form: str) -> None:
    logits, _ = random_case(seed=4, batch=2, length=8)
    mask = torch.zeros(2, 8, dtype=torch.bool)
    mask[:, 1:5] = True  # rationale tokens; the rest stand for the key, quotes and the action
    before = self_certainty(logits, mask, form=form)
    changed = logits.clone()
    changed[:, 5:] = torch.randn(2, 3, logits.shape[-1]) * 50  # very sharp action-token distributions
    changed[:, 0] = float("nan")  # garbage outside the mask must not leak in
    assert torch.equal(self_certainty(changed, mask, form=form), before)
    assert torch.allclose(before.double(), reference(logits[:, 1:5], mask[:, 1:5], form), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("chunk_size", [1, 3, 7, 128], ids=["c1", "c3", "c7", "c128"])
@pytest.mark.parametrize("form", FORMS)
def test_chunked_equals_unchunked(form: str, chunk_size: int) -> None:
    logits, mask = random_case(seed=5, length=23)
    whole = (per_token_self_certainty(logits, form) * mask).sum(-1) / mask.sum(-1)
    assert torch.allclose(self_certainty(logits, mask, form=form, chunk_size=chunk_size), whole, rtol=1e-6, atol=1e-7)


def test_sequence_without_rationale_tokens_scores_zero() -> None:
    logits, mask = random_case(seed=6)
    mask[1] = False
    result = self_certainty(logits, mask)
    assert result[1].item() == 0.0
    assert result[0].item() > 0.0


def test_no_gradient_and_input_untouched() -> None:
    logits, mask = random_case(seed=7)
    logits.requires_grad_(True)
    snapshot = logits.detach().clone()
    result = self_certainty(logits, mask, temperature=0.7)
    assert not result.requires_grad
    assert torch.equal(logits.detach(), snapshot)


def test_zero_probability_tokens() -> None:
    logits = torch.zeros(1, 1, 4)
    logits[..., 2:] = float("-inf")  # two tokens impossible: p = (1/2, 1/2, 0, 0)
    mask = torch.ones(1, 1, dtype=torch.bool)
    assert self_certainty(logits, mask, form="kl_p_u").item() == pytest.approx(math.log(4) - math.log(2))
    assert self_certainty(logits, mask, form="kl_u_p").item() == math.inf  # KL(U||p) is infinite here


@pytest.mark.parametrize(
    ("logits", "mask", "kwargs"),
    [
        (torch.zeros(2, 3), torch.ones(2, dtype=torch.bool), {}),
        (torch.zeros(2, 3, 4), torch.ones(2, 4, dtype=torch.bool), {}),
        (torch.zeros(2, 3, 4), torch.zeros(2, 3, dtype=torch.bool), {"form": "entropy"}),
        (torch.zeros(2, 3, 4), torch.ones(2, 3, dtype=torch.bool), {"temperature": 0.0}),
        (torch.zeros(2, 3, 4), torch.ones(2, 3, dtype=torch.bool), {"chunk_size": 0}),
    ],
    ids=["logits_2d", "mask_shape", "unknown_form", "zero_temperature", "zero_chunk"],
)
def test_rejects_bad_arguments(logits: torch.Tensor, mask: torch.Tensor, kwargs: dict) -> None:
    with pytest.raises(ValueError):
        self_certainty(logits, mask, **kwargs)
