"""Helpers for the training tests: tiny local models, small datasets, canned completions. No network."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import REPO_ROOT, make_session

CONFIGS = REPO_ROOT / "configs"

# Answers a model could give to the synthetic sessions' steps (gold: type_and_submit search_input "query 0",
# click search_results.item_<i>, terminate). Mixed right, partly right, wrong and malformed, so every reward
# component and every rollout type share takes a non-trivial value.
CANNED_COMPLETIONS = (
    '{"rationale": "I look for what I need first.", "action": {"type": "type_and_submit", '
    '"name": "search_input", "text": "query 0"}}',
    '{"rationale": "This one looks right to me.", "action": {"type": "click", "name": "search_results.item_1"}}',
    '{"rationale": "I have seen enough for today.", "action": {"type": "terminate"}}',
    "I think I will click the first result.",
)


def build_tiny_model(out_dir: Path, architecture: str = "llama") -> Path:
    from shop_r1.models.tiny import build_tiny_random_model

    return build_tiny_random_model(architecture, out_dir)


def build_synthetic_datasets(out_dir: Path, n_sessions: int = 10) -> Path:
    """Short 3-step sessions (type, click, terminate) with rationales, built as `shop-r1 data build` would."""
    from shop_r1.data.build import BuildConfig, build_datasets
    from shop_r1.models.tokenizers import load_tokenizer
    from shop_r1.prompts import PromptConfig, chat_token_counter

    sessions = [make_session(f"s{i}", f"u{i}", n_steps=3, html_size=4) for i in range(n_sessions)]
    config = BuildConfig(prompt=PromptConfig(context="full", max_context_tokens=1024), test_fraction=0.2, seed=0)
    build_datasets(sessions, out_dir, config, chat_token_counter(load_tokenizer()))
    return out_dir


def read_log_history(output_dir: Path) -> list[dict]:
    return json.loads((output_dir / "trainer_state.json").read_text())["log_history"]


def read_rollouts(output_dir: Path) -> list[dict]:
    path = output_dir / "rollouts.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
