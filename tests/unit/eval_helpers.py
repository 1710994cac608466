"""Shared pieces of the evaluation tests: RL dataset rows, a scripted generator, a tiny random model."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from shop_r1.evaluation.generation import Generation


def rl_row(session: str, step: int, gold: dict, *, words: int = 5, rationale: str | None = "Because.",
           reason: str | None = None) -> dict:
    """An RL dataset row like `data build` writes; `words` sets the prompt length (batching sorts by it)."""
    return {
        "prompt": [{"role": "system", "content": "You shop."},
                   {"role": "user", "content": f"{session} step {step}: " + " ".join(["word"] * words)}],
        "gold_action": {"type": gold["type"], "name": gold.get("name"), "text": gold.get("text")},
        "gold_rationale": rationale,
        "gold_reason": reason,
        "session_id": session,
        "user_id": "u-" + session,
        "step_index": step,
        "truncated": False,
    }


def rl_rows(n_sessions: int = 3, steps: int = 3) -> list[dict]:
    golds = [{"type": "type_and_submit", "name": "search_input", "text": "red shoes"},
             {"type": "click", "name": "search_results.item_1"}, {"type": "terminate"}]
    return [rl_row(f"s{s}", t, golds[t % 3], words=3 + 7 * ((s * steps + t) % 5))
            for s in range(n_sessions) for t in range(steps)]


def oracle_completion(row: dict) -> str:
    action = {k: v for k, v in row["gold_action"].items() if v is not None}
    return json.dumps({"rationale": row["gold_rationale"] or "", "action": action})


class SimulatedCrash(RuntimeError):
    pass


class ScriptedGenerator:
    """Answers each step with a fixed completion (default: the gold action); can crash after N batches."""

    backend = "scripted"

    def __init__(self, rows: Sequence[dict], answers: dict | None = None, crash_after: int | None = None) -> None:
        self.by_key = {(r["session_id"], r["step_index"]): r for r in rows}
        self.answers = answers or {}
        self.crash_after = crash_after
        self.calls: list[list[tuple[str, int]]] = []

    def generate(self, prompts, keys):
        if self.crash_after is not None and len(self.calls) >= self.crash_after:
            raise SimulatedCrash("killed")
        self.calls.append(list(keys))
        return [Generation(self.answers.get(key, oracle_completion(self.by_key[key])), 7, "stop") for key in keys]

    @property
    def seen(self) -> list[tuple[str, int]]:
        return [key for batch in self.calls for key in batch]


def read_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def build_tiny_model(directory: Path, tokenizer, architecture: str = "llama", seed: int = 0) -> Path:
    """A 2-layer, hidden-64 random causal LM with the given tokenizer, saved with `save_pretrained`."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    config_class, model_class = (LlamaConfig, LlamaForCausalLM) if architecture == "llama" else (
        Qwen2Config, Qwen2ForCausalLM)
    config = config_class(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048, tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model_class(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
