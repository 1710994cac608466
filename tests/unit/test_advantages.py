"""The reward-std floor: TRL's advantages wherever the std is real, no amplified noise where discrete rewards tie."""

import pytest
import torch

from shop_r1.training.advantages import floored_advantages

ONE = torch.ones(1)


def test_matches_trl_formula_when_every_group_has_real_spread():
    torch.manual_seed(0)
    rewards = torch.rand(16, 3) * torch.tensor([0.5, 1000.0, 0.05])
    weights = torch.tensor([1.0, 1.0, 1.0])
    floored, flags = floored_advantages(rewards, weights, 4, std_floor=0.1)
    total = rewards.sum(1).view(-1, 4)
    expected = (total - total.mean(1, keepdim=True)) / (total.std(1, keepdim=True) + 1e-4)
    torch.testing.assert_close(floored, expected.flatten())
    assert not flags.any()


def test_tied_discrete_rewards_keep_self_certainty_differences_small():
    # One group: same discrete reward 0.5, self-certainty 0.005 x s with s in [2, 3].
    rewards = torch.tensor([[0.5 + 0.005 * s] for s in (2.0, 2.4, 2.7, 3.0)])
    unguarded, _ = floored_advantages(rewards, ONE, 4, std_floor=0.0)
    guarded, flags = floored_advantages(rewards, ONE, 4, std_floor=0.1)
    assert unguarded.abs().max() > 1.0  # the pitfall: noise at full advantage scale
    assert guarded.abs().max() < 0.05 and flags.all()
    assert torch.equal(torch.sign(guarded), torch.sign(unguarded))  # still a tie-breaker in the same direction


def test_a_real_success_outweighs_any_self_certainty_difference():
    rewards = torch.tensor([[0.5 + 0.005 * 3.0], [0.5 + 0.005 * 2.0], [1000.8], [0.5]])
    advantages, _ = floored_advantages(rewards, ONE, 4)
    assert advantages.argmax().item() == 2 and advantages[2] > 1.0


def test_unscorable_rows_get_zero_advantage_and_are_left_out_of_the_baseline():
    rewards = torch.tensor([[1.0], [0.0], [float("nan")], [1.0]])
    advantages, _ = floored_advantages(rewards, ONE, 4)
    assert advantages[2] == 0.0
    assert advantages[0] == pytest.approx(advantages[3]) and advantages[0] > 0 > advantages[1]


def test_batch_and_none_scaling():
    rewards = torch.tensor([[0.5], [0.5], [0.9], [0.1]])
    none, _ = floored_advantages(rewards, ONE, 2, scale_rewards="none")
    torch.testing.assert_close(none, torch.tensor([0.0, 0.0, 0.4, -0.4]))
    batch, _ = floored_advantages(rewards, ONE, 2, scale_rewards="batch")
    torch.testing.assert_close(batch, none / (rewards.flatten().std() + 1e-4))
    with pytest.raises(ValueError, match="scale_rewards"):
        floored_advantages(rewards, ONE, 2, scale_rewards="global")


def test_weights_apply_before_grouping():
    rewards = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    advantages, _ = floored_advantages(rewards, torch.tensor([2.0, 1.0]), 2, std_floor=0.0)
    assert advantages[0] > 0 > advantages[1]
