"""GRPO advantages with a floor on the reward std (the guard against amplified self-certainty noise).

TRL 1.16 computes `A = (r - mean_group) / (std + 1e-4)` (`scale_rewards="group"`, the paper's verl
default too). Shop-R1's reward is discrete (format, type, presence, gated DARS terms) plus
`alpha * s(r)` with alpha = 0.005. When a group's discrete rewards tie (all rollouts of a prompt are the
same wrong type, a common case early in RL), the std left is ~alpha * std(s) ~ 1e-3, and dividing by it
turns self-certainty noise into advantages as large as a real success would earn. Dividing by
`max(std, floor) + 1e-4` instead keeps such groups' advantages at their true, small scale; every group
whose std reaches the floor gets exactly TRL's value. The default floor, 0.1, is the smallest step of
the discrete reward table (presence of a type_and_submit name or text).
"""

from __future__ import annotations

import torch


def floored_advantages(
    rewards_per_func: torch.Tensor,
    weights: torch.Tensor,
    num_generations: int,
    *,
    scale_rewards: str = "group",
    std_floor: float = 0.1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Advantages of all completions (the gathered batch, groups contiguous) and a per-completion flag for
    "the std was floored".

    Args:
        rewards_per_func (`torch.Tensor` of shape `(N, F)`): one column per reward function, NaN = not scored.
        weights (`torch.Tensor` of shape `(F,)`): the reward weights.
        num_generations (`int`): group size G; N is a multiple of it.
        scale_rewards (`str`, *optional*, defaults to `"group"`): `"group"`, `"batch"` or `"none"`, as in TRL.
        std_floor (`float`, *optional*, defaults to `0.1`): the smallest divisor (before TRL's `+ 1e-4`).

    The first group ties up to self-certainty noise (std 7e-4, floored to 0.1, so its advantages stay
    small); the second has a real reward gap (std 0.28) and gets exactly TRL's advantages:

    >>> rewards = torch.tensor([[0.5000], [0.5010], [0.5], [0.9]])
    >>> adv, floored = floored_advantages(rewards, torch.ones(1), 2)
    >>> [round(a, 4) for a in adv.tolist()], floored.tolist()
    ([-0.005, 0.005, -0.7069, 0.7069], [True, True, False, False])
    """
    from trl.trainer.utils import nanstd

    # Mirrors the `sum_then_normalize` branch of TRL 1.16's `GRPOTrainer._generate_and_score_completions`
    # line for line (weighted nansum, group nanmean, group/batch nanstd, `/ (std_rewards + 1e-4)`); the only
    # change is the clamp below. `tests/unit/test_trainer_contract.py` checks those TRL lines are unchanged.
    weights = weights.to(rewards_per_func.device)
    unscorable = torch.isnan(rewards_per_func).all(dim=1)
    rewards = (rewards_per_func * weights.unsqueeze(0)).nansum(dim=1)
    rewards[unscorable] = torch.nan
    grouped = rewards.view(-1, num_generations)
    mean = torch.nanmean(grouped, dim=1).repeat_interleave(num_generations)
    if scale_rewards == "none":
        return torch.nan_to_num(rewards - mean, nan=0.0), torch.zeros_like(rewards, dtype=torch.bool)
    if scale_rewards == "group":
        std = (nanstd(grouped, dim=1).repeat_interleave(num_generations) if num_generations > 1
               else torch.zeros_like(rewards))
    elif scale_rewards == "batch":
        std = nanstd(rewards).expand_as(rewards) if rewards.numel() > 1 else torch.zeros_like(rewards)
    else:
        raise ValueError(f"scale_rewards must be 'group', 'batch' or 'none', got {scale_rewards!r}")
    std = torch.nan_to_num(std, nan=0.0)
    advantages = (rewards - mean) / (std.clamp(min=std_floor) + 1e-4)
    return torch.nan_to_num(advantages, nan=0.0), std < std_floor
