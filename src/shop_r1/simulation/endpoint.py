"""An OpenAI-compatible chat endpoint as a `Generator`: one tick's prompts go out as concurrent requests.

Built on `shop_r1.rationales.client.ChatClient` (HTTP retries with backoff, `Retry-After`, a fatal stop
on 401/403/404). The client's retries cover transport problems only; whether a reply is a usable action
is the simulation's business (it resamples and counts). A call that fails for good becomes a
`Generation` with `finish_reason="request_failed: <kind>"`, which the driver counts as a failed sample.

With a `seed`, every request carries its own `seed` field, derived from the run seed and the step's key
(visit, step, attempt) as the local backends derive theirs. A server that honours it (vLLM, `shop-r1
serve`) then draws a visit's step the same way whatever else is in flight, so the two arms of an A/B
test stay paired visit by visit, and a rerun with the same seed repeats the run.

The client is async; the simulation loop is not. The generator keeps one event loop of its own and
runs each tick's requests on it, so connections are reused across ticks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from shop_r1.evaluation.generation import Generation, request_seed
from shop_r1.rationales.client import CallFailed, ChatClient, RetryPolicy
from shop_r1.rationales.client import GenerationSettings as RequestSettings

__all__ = ["EndpointGenerator"]


class EndpointGenerator:
    """`generate(prompts, keys)` against `base_url`; use as a context manager (it owns an event loop)."""

    backend = "endpoint"

    def __init__(self, base_url: str, model: str, *, api_key: str | None = None, concurrency: int = 8,
                 temperature: float = 0.6, max_tokens: int | None = 128, timeout: float = 120.0,
                 retry: RetryPolicy = RetryPolicy(), seed: int | None = None) -> None:
        self._loop = asyncio.new_event_loop()
        self.seed = seed
        sampling = RequestSettings(temperature=temperature, max_tokens=max_tokens)
        self.client = ChatClient(base_url, model, api_key=api_key, timeout=timeout, concurrency=concurrency,
                                 retry=retry, generation=sampling)
        self._open = False

    def __enter__(self) -> EndpointGenerator:
        self._loop.run_until_complete(self.client.__aenter__())
        self._open = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._open:
            self._loop.run_until_complete(self.client.__aexit__(*exc))
            self._open = False
        self._loop.close()

    def generate(self, prompts: Sequence[list[dict[str, str]]], keys: Sequence[Any]) -> list[Generation]:
        if not self._open:
            raise RuntimeError("use EndpointGenerator as `with EndpointGenerator(...) as generator`")

        async def one(messages: list[dict[str, str]], key: Any) -> Generation:
            extra = None if self.seed is None else {"seed": request_seed(self.seed, key)}
            try:
                completion = await self.client.complete(list(messages), lambda text: text, extra)
            except CallFailed as err:
                return Generation("", 0, f"request_failed: {err.kind}")
            tokens = completion.usage.get("completion_tokens", 0)
            return Generation(completion.value, tokens, "stop")

        async def all_of() -> list[Generation]:
            return list(await asyncio.gather(*(one(m, k) for m, k in zip(prompts, keys, strict=True))))

        # TeacherError (the endpoint refuses every request) propagates: the run stops with its message.
        return self._loop.run_until_complete(all_of())
