"""The model behind the server: one loaded model, one lock, one batched generate call per request.

Concurrency model: `create_app` runs every engine call on a single worker thread, so requests are
served one at a time in arrival order while the event loop stays free (`/health` answers during a
long generation). The engine's own lock makes it safe for any other caller as well. Serialising is
deliberate: the model and the tokenizer (a fast tokenizer must not be used from two threads at once)
belong to one request at a time; a seeded request is reproducible because each of its samples draws
from its own seeded generator; and on CPU one generate call already uses every core.
A request's `n` samples are one generate call over `n` copies of its prompt.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from shop_r1.errors import ShopR1Error
from shop_r1.evaluation.generation import Generation, GenerationSettings, HFGenerator, chat_texts
from shop_r1.prompts import Message, Prompt, PromptConfig, PromptTooLongError, chat_token_counter
from shop_r1.serve.requests import SessionSoFar, predict_prompt

__all__ = ["Completions", "Engine", "MessagesRejectedError", "ModelEngine", "Sampling", "cut_at_stop"]

logger = logging.getLogger(__name__)


class MessagesRejectedError(ShopR1Error):
    """The model's chat template refused the messages (e.g. roles that do not alternate)."""


@dataclass(frozen=True)
class Sampling:
    """One request's sampling settings, already resolved against the server's defaults and caps."""

    n: int = 1
    temperature: float = 0.6  # 0 means greedy decoding
    top_p: float = 1.0
    max_new_tokens: int = 128
    seed: int = 0
    stop: tuple[str, ...] = ()

    def generation_settings(self) -> GenerationSettings:
        greedy = self.temperature == 0
        return GenerationSettings(max_new_tokens=self.max_new_tokens, temperature=1.0 if greedy else self.temperature,
                                  top_p=self.top_p, greedy=greedy, seed=self.seed)


@dataclass(frozen=True)
class Completions:
    """The prompt that was sent (with what the context budget removed) and its `n` completions."""

    prompt: Prompt
    prompt_tokens: int
    generations: list[Generation]


class Engine(Protocol):
    """What the HTTP app needs from a model. Calls may block; the app runs them on its worker thread."""

    def predict(self, session: SessionSoFar, sampling: Sampling) -> Completions: ...

    def chat(self, messages: list[Message], sampling: Sampling) -> Completions: ...


def cut_at_stop(text: str, stops: Sequence[str]) -> str | None:
    """`text` up to the earliest stop string, or `None` when none occurs.

    >>> cut_at_stop('{"a": 1}\\nmore', ["\\n", "}"])
    '{"a": 1'
    >>> cut_at_stop("abc", ["x"]) is None
    True
    """
    found = [index for index in (text.find(stop) for stop in stops if stop) if index >= 0]
    return text[:min(found)] if found else None


class ModelEngine:
    """A transformers model and tokenizer served through `HFGenerator` (left padding, KV cache).

    Args:
        model: a causal LM in eval mode.
        tokenizer: its tokenizer, with a chat template.
        prompt_config (`PromptConfig`, *optional*): how `/v1/predict` builds prompts; it must match the
            `data build` options the model was trained with (defaults: the same defaults).
    """

    def __init__(self, model: Any, tokenizer: Any, *, prompt_config: PromptConfig = PromptConfig()) -> None:
        self.prompt_config = prompt_config
        self._tokenizer = tokenizer
        self._generator = HFGenerator(model, tokenizer, GenerationSettings())
        self._count_for_budget = chat_token_counter(tokenizer)
        self._lock = threading.Lock()

    @classmethod
    def load(cls, spec: str, *, device: str = "auto", dtype: str = "auto",
             prompt_config: PromptConfig = PromptConfig()) -> ModelEngine:
        from shop_r1.models.inference import load_for_inference

        model, tokenizer = load_for_inference(spec, device=device, dtype=dtype)
        return cls(model, tokenizer, prompt_config=prompt_config)

    @property
    def max_position_embeddings(self) -> int | None:
        return getattr(getattr(self._generator.model, "config", None), "max_position_embeddings", None)

    def predict(self, session: SessionSoFar, sampling: Sampling) -> Completions:
        with self._lock:
            return self._complete(predict_prompt(session, self.prompt_config, self._count_for_budget), sampling)

    def chat(self, messages: list[Message], sampling: Sampling) -> Completions:
        import jinja2

        with self._lock:
            prompt = Prompt(list(messages))
            try:
                tokens = self._prompt_tokens(prompt)
            except jinja2.TemplateError as err:  # the template's own raise_exception(...) text: safe to show
                raise MessagesRejectedError(f"the model's chat template refused the messages: {err}") from None
            budget = self.prompt_config.max_context_tokens
            if budget is not None and tokens > budget:
                raise PromptTooLongError(f"the messages take {tokens} tokens, more than the server's context "
                                         f"budget of {budget} (--max-context-tokens)")
            return self._complete(prompt, sampling, tokens)

    def _prompt_tokens(self, prompt: Prompt) -> int:
        # Exactly what generate sees: the chat template with the generation prompt, whatever the last role.
        text = chat_texts(self._tokenizer, [prompt.messages])[0]
        return len(self._tokenizer(text, add_special_tokens=False)["input_ids"])

    def _complete(self, prompt: Prompt, sampling: Sampling, prompt_tokens: int | None = None) -> Completions:
        # A shallow copy shares the model and tokenizer; only the settings differ per request.
        generator = copy.copy(self._generator)
        generator.settings = sampling.generation_settings()
        keys = [("serve", index) for index in range(sampling.n)]
        generations = generator.generate([prompt.messages] * sampling.n, keys)
        if sampling.stop:
            generations = [self._apply_stop(g, sampling.stop) for g in generations]
        tokens = self._prompt_tokens(prompt) if prompt_tokens is None else prompt_tokens
        return Completions(prompt=prompt, prompt_tokens=tokens, generations=generations)

    def _apply_stop(self, generation: Generation, stops: Sequence[str]) -> Generation:
        kept = cut_at_stop(generation.text, stops)
        if kept is None:
            return generation
        # Usage then counts the tokens of the text returned, not the ones generated past the stop string.
        tokens = len(self._tokenizer(kept, add_special_tokens=False)["input_ids"])
        return Generation(kept, tokens, "stop")
