"""Per-row seeded sampling: the Gumbel-max draws follow softmax(logits / T), honour top-p, and are the row's own."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from shop_r1.evaluation.row_sampling import RowSeededSampler  # noqa: E402

LOGITS = [2.0, 1.0, 0.0, -1.0, -3.0]


def _draws(seeds, temperature, top_p=1.0, steps=1):
    sampler = RowSeededSampler(seeds, temperature, top_p)
    scores = torch.tensor([LOGITS] * len(seeds))
    ids = torch.zeros((len(seeds), 1), dtype=torch.long)
    return torch.stack([sampler(ids, scores).argmax(dim=-1) for _ in range(steps)], dim=1)  # (B, steps)


@pytest.mark.parametrize("temperature", [0.6, 1.0, 2.0])
def test_draw_frequencies_match_the_tempered_softmax(temperature):
    draws = _draws(range(20_000), temperature).flatten()
    observed = torch.bincount(draws, minlength=len(LOGITS)).float() / len(draws)
    expected = torch.softmax(torch.tensor(LOGITS) / temperature, dim=-1)
    # 20,000 draws: the standard error of a share is at most 0.0036.
    assert torch.allclose(observed, expected, atol=0.015), (observed, expected)


def test_top_p_never_draws_outside_the_nucleus():
    # softmax(LOGITS) = 0.63, 0.23, 0.09, ...: top-p 0.8 keeps the first two tokens only.
    draws = _draws(range(5_000), 1.0, top_p=0.8).flatten()
    assert set(draws.tolist()) == {0, 1}


def test_each_row_draws_from_its_own_seed():
    together = _draws([7, 8, 9], 1.0, steps=40)
    alone = torch.cat([_draws([seed], 1.0, steps=40) for seed in (7, 8, 9)])
    assert torch.equal(together, alone)
    assert not torch.equal(together[0], together[1])  # different seeds, different draws


def test_bad_settings_and_a_batch_of_the_wrong_size_are_refused():
    with pytest.raises(ValueError, match="temperature"):
        RowSeededSampler([1], 0.0)
    with pytest.raises(ValueError, match="top_p"):
        RowSeededSampler([1], 1.0, top_p=0.0)
    with pytest.raises(ValueError, match="2 rows but 1 seeds"):
        RowSeededSampler([1], 1.0)(torch.zeros((2, 1), dtype=torch.long), torch.zeros((2, 5)))
