"""Engines and models for the serve tests: a scripted engine for HTTP handling, a random-token model."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Sequence

from shop_r1.evaluation.generation import Generation
from shop_r1.prompts import Message, Prompt, PromptConfig, PromptTooLongError
from shop_r1.serve.engine import Completions, Sampling
from shop_r1.serve.requests import SessionSoFar, predict_prompt

TERMINATE = '{"rationale": "I have seen enough.", "action": {"type": "terminate"}}'
CLICK = '{"rationale": "That one looks right.", "action": {"type": "click", "name": "search_results.item_2"}}'


class ScriptedEngine:
    """An `Engine` that answers with scripted texts, cycled over the `n` samples of each call.

    It has no lock of its own on purpose: `max_active` then shows whether the app ever ran two calls at once.
    `error` is raised from every call (to exercise the error handlers); `delay` holds each call open.
    """

    def __init__(self, texts: Sequence[str] = (TERMINATE,), *, delay: float = 0.0, error: Exception | None = None,
                 prompt_config: PromptConfig = PromptConfig(max_context_tokens=None)) -> None:
        self.texts = list(texts)
        self.delay = delay
        self.error = error
        self.prompt_config = prompt_config
        self.calls: list[dict] = []
        self.active = 0
        self.max_active = 0
        self._count_lock = threading.Lock()

    def _answer(self, kind: str, prompt: Prompt, sampling: Sampling, payload: object) -> Completions:
        with self._count_lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            self.calls.append({"kind": kind, "payload": payload, "sampling": sampling, "prompt": prompt,
                               "thread": threading.current_thread().name})
            if self.delay:
                time.sleep(self.delay)
            if self.error is not None:
                raise self.error
            texts = list(itertools.islice(itertools.cycle(self.texts), sampling.n))
            generations = [Generation(text, len(text.split()), "stop") for text in texts]
            return Completions(prompt=prompt, prompt_tokens=11, generations=generations)
        finally:
            with self._count_lock:
                self.active -= 1

    def predict(self, session: SessionSoFar, sampling: Sampling) -> Completions:
        return self._answer("predict", predict_prompt(session, self.prompt_config), sampling, session)

    def chat(self, messages: list[Message], sampling: Sampling) -> Completions:
        if self.prompt_config.max_context_tokens is not None:
            raise PromptTooLongError("the messages take too many tokens")
        return self._answer("chat", Prompt(list(messages)), sampling, messages)


class RandomTokenModel:
    """`generate` scores a flat distribution over plain word pieces and picks tokens through the call's
    logits processors, as greedy decoding does: with the per-row seeded sampler (`row_sampling`) the tokens
    are random and follow the seeds; without it (greedy) every row repeats the first word piece.

    Records every call's kwargs; `stop_after` puts the first stop id at that position of every row.
    """

    def __init__(self, vocab_size: int, stop_id: int, stop_after: int | None = None) -> None:
        self.vocab_size = vocab_size
        self.stop_id = stop_id
        self.stop_after = stop_after
        self.device = None
        self.generation_config = None
        self.calls: list[dict] = []

    def generate(self, input_ids, attention_mask, max_new_tokens, **kwargs):
        import torch

        self.calls.append({"input_ids": input_ids, "attention_mask": attention_mask,
                           "max_new_tokens": max_new_tokens, **kwargs})
        # Ids from a range of plain word pieces, so decoded text round-trips; below the special tokens.
        flat = torch.full((input_ids.shape[0], self.vocab_size), float("-inf"))
        flat[:, 1000:5000] = 0.0
        steps = []
        for _ in range(max_new_tokens):
            scores = flat.clone()
            for processor in kwargs.get("logits_processor") or []:
                scores = processor(input_ids, scores)
            steps.append(scores.argmax(dim=-1))
        new = torch.stack(steps, dim=1)  # (B, new)
        if self.stop_after is not None and self.stop_after < max_new_tokens:
            new[:, self.stop_after] = self.stop_id
        return torch.cat([input_ids, new], dim=1)
