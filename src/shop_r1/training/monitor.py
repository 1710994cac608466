"""Reward-hacking monitor: warn when one action type takes over the rollouts.

The paper's 0.5B Shop-R1 model collapsed to `terminate` (97% of its exact hits): predicting the
cheapest action is a reward hack that DARS is meant to prevent. The reward functions log the
predicted type mix of each batch as `rollout_type_share/<type>`; this callback reads those logs,
adds `rollout_type_share/max` and `reward_hacking/flagged` (0 or 1) to the same `trainer_state.json`
entry, warns when the largest share exceeds the bound, and appends each such event to
`<output_dir>/reward_hacking.jsonl`.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

logger = logging.getLogger(__name__)

SHARE_PREFIX = "rollout_type_share/"
MAX_KEY = SHARE_PREFIX + "max"
FLAG_KEY = "reward_hacking/flagged"
EVENTS_FILE = "reward_hacking.jsonl"


class RolloutTypeMonitor(TrainerCallback):
    """Flags logging steps whose rollouts are dominated (share > `bound`) by one action type."""

    def __init__(self, bound: float) -> None:
        self.bound = bound
        self.events: list[dict[str, Any]] = []

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **kwargs: Any) -> None:
        shares = {key.removeprefix(SHARE_PREFIX): value for key, value in (logs or {}).items()
                  if key.startswith(SHARE_PREFIX) and key != MAX_KEY and value is not None}
        if not shares:
            return
        kind, share = max(shares.items(), key=lambda item: item[1])
        flagged = share > self.bound
        # Trainer.log appended this entry just before calling us; annotate it so the record lands in trainer_state.
        if state.log_history and state.log_history[-1].get("step") == state.global_step:
            state.log_history[-1][MAX_KEY] = share
            state.log_history[-1][FLAG_KEY] = float(flagged)
        if not flagged:
            return
        event = {"step": state.global_step, "type": kind, "share": share, "bound": self.bound}
        self.events.append(event)
        if state.is_world_process_zero:
            logger.warning("possible reward hacking at step %d: %.0f%% of the rollouts predict %s (bound %.0f%%)",
                           state.global_step, 100 * share, kind, 100 * self.bound)
            path = Path(args.output_dir) / EVENTS_FILE
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a") as handle:
                handle.write(json.dumps(event) + "\n")
