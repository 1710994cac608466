"""The reward-hacking monitor flags a rollout type mix dominated by one action type."""

import json
import logging
from types import SimpleNamespace

from transformers import TrainerState

from shop_r1.training.monitor import EVENTS_FILE, FLAG_KEY, MAX_KEY, RolloutTypeMonitor


def _log(monitor, tmp_path, step, shares):
    state = TrainerState()
    state.global_step = step
    logs = {f"rollout_type_share/{kind}": share for kind, share in shares.items()} | {"loss": 0.1}
    state.log_history.append({**logs, "step": step})
    monitor.on_log(SimpleNamespace(output_dir=str(tmp_path)), state, None, logs=logs)
    return state.log_history[-1]


def test_collapse_to_terminate_is_flagged_warned_and_recorded(tmp_path, caplog):
    monitor = RolloutTypeMonitor(bound=0.8)
    with caplog.at_level(logging.WARNING, logger="shop_r1.training.monitor"):
        entry = _log(monitor, tmp_path, 7, {"click": 0.05, "type_and_submit": 0.0, "terminate": 0.95})
    assert entry[MAX_KEY] == 0.95 and entry[FLAG_KEY] == 1.0
    assert "terminate" in caplog.text and "step 7" in caplog.text
    events = [json.loads(line) for line in (tmp_path / EVENTS_FILE).read_text().splitlines()]
    assert events == [{"step": 7, "type": "terminate", "share": 0.95, "bound": 0.8}] == monitor.events


def test_balanced_mix_is_recorded_but_not_flagged(tmp_path):
    monitor = RolloutTypeMonitor(bound=0.8)
    entry = _log(monitor, tmp_path, 1, {"click": 0.4, "type_and_submit": 0.3, "terminate": 0.3})
    assert entry[MAX_KEY] == 0.4 and entry[FLAG_KEY] == 0.0
    assert not (tmp_path / EVENTS_FILE).exists() and monitor.events == []


def test_logs_without_type_shares_are_ignored(tmp_path):
    monitor = RolloutTypeMonitor(bound=0.5)
    entry = _log(monitor, tmp_path, 1, {})
    assert MAX_KEY not in entry
