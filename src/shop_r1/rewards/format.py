"""The format reward of Shop-R1 (arXiv 2507.17842, section 3): paid for a completion that parses as the
required JSON; without it nothing else is paid, which `score` and the TRL adapters enforce.

>>> from shop_r1.parsing import parse_completion
>>> format_reward(parse_completion('{"rationale": "Done.", "action": {"type": "terminate"}}'))
0.5
>>> format_reward(parse_completion("not json"))
0.0
"""

from __future__ import annotations

from shop_r1.parsing import ParsedOutput
from shop_r1.rewards.config import RewardConfig

__all__ = ["format_reward"]

_DEFAULT = RewardConfig()


def format_reward(parsed: ParsedOutput | None, config: RewardConfig = _DEFAULT) -> float:
    """`RewardConfig.format_reward` (0.5) for a parsed completion, else 0; 0 as well under Table 4's
    "no format reward" ablation (`use_format_reward=False`)."""
    return config.effective_format_reward if parsed is not None else 0.0
