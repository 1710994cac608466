"""The HTTP API: `create_app(engine, settings)` -> a FastAPI app (run it with uvicorn, or in-process in tests).

Endpoints:
- `POST /v1/predict`: a session so far -> the next rationale and action, `n` samples and their distribution.
- `POST /v1/chat/completions`: OpenAI-compatible chat completions on the same model (no streaming).
- `GET /v1/models`: the one served model, in OpenAI's list format.
- `GET /health`: liveness; open even when an API key is set.

Middlewares, outermost first: `CatchAll` (unexpected errors -> JSON 500), `BearerAuth` (when a key is
set), `BodySizeLimit`. Engine calls run on one worker thread (see `shop_r1.serve.engine`).
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import FastAPI

from shop_r1 import __version__
from shop_r1.limits import MAX_REQUEST_BYTES
from shop_r1.parsing import parse_completion
from shop_r1.schema import SchemaError
from shop_r1.serve.distribution import action_distribution
from shop_r1.serve.engine import Completions, Engine, Sampling
from shop_r1.serve.errors import APIError, install_error_handlers
from shop_r1.serve.limits import BearerAuth, BodySizeLimit, CatchAll
from shop_r1.serve.requests import parse_session_so_far
from shop_r1.serve.schemas import (
    ChatCompletion,
    ChatCompletionRequest,
    ModelList,
    PredictRequest,
    PredictResponse,
)

__all__ = ["DEFAULT_MAX_BODY_BYTES", "ServeSettings", "create_app"]

DEFAULT_MAX_BODY_BYTES = MAX_REQUEST_BYTES
MAX_STOP_STRINGS = 4  # OpenAI's limit
T = TypeVar("T")


@dataclass(frozen=True)
class ServeSettings:
    """Server-wide settings. `api_key=None` serves without authentication; the key is kept out of `repr`."""

    model_name: str
    max_new_tokens: int = 128
    max_samples: int = 16
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    temperature: float = 0.6
    top_p: float = 1.0
    api_key: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.model_name:
            raise ValueError("model_name must be non-empty")
        for name in ("max_new_tokens", "max_samples", "max_body_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 0 <= self.temperature <= 2:
            raise ValueError(f"temperature must be in [0, 2], got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.api_key is not None and not self.api_key:
            raise ValueError("api_key must be non-empty when set")


def _sampling(request: PredictRequest | ChatCompletionRequest, max_tokens: int | None, settings: ServeSettings,
              stop: tuple[str, ...] = (), max_tokens_field: str = "max_tokens") -> Sampling:
    if request.n > settings.max_samples:
        raise APIError(422, f"n: must be at most {settings.max_samples} (server option --max-samples)", param="n")
    if max_tokens is not None and max_tokens > settings.max_new_tokens:
        raise APIError(422, f"{max_tokens_field}: must be at most {settings.max_new_tokens} "
                            "(server option --max-new-tokens)", param=max_tokens_field)
    return Sampling(
        n=request.n,
        temperature=settings.temperature if request.temperature is None else request.temperature,
        top_p=settings.top_p if request.top_p is None else request.top_p,
        max_new_tokens=settings.max_new_tokens if max_tokens is None else max_tokens,
        seed=secrets.randbits(63) if request.seed is None else request.seed,
        stop=stop,
    )


def _stop_strings(stop: str | list[str] | None) -> tuple[str, ...]:
    stops = (stop,) if isinstance(stop, str) else tuple(stop or ())
    if len(stops) > MAX_STOP_STRINGS:
        raise APIError(422, f"stop: at most {MAX_STOP_STRINGS} strings", param="stop")
    if any(not s for s in stops):
        raise APIError(422, "stop: strings must be non-empty", param="stop")
    return stops


def _usage(result: Completions) -> dict[str, int]:
    completion = sum(g.tokens for g in result.generations)
    return {"prompt_tokens": result.prompt_tokens, "completion_tokens": completion,
            "total_tokens": result.prompt_tokens + completion}


def create_app(engine: Engine, settings: ServeSettings) -> FastAPI:
    """The FastAPI app serving `engine`. Engine calls run one at a time on a dedicated worker thread."""
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shop-r1-generate")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        worker.shutdown(wait=False, cancel_futures=True)

    async def on_worker(fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(worker, fn, *args)

    def check_model(name: str | None) -> None:
        if name is not None and name != settings.model_name:
            raise APIError(404, f"model {name!r} is not served here; this server serves {settings.model_name!r}",
                           type="not_found_error", param="model", code="model_not_found")

    app = FastAPI(title="shop-r1", version=__version__, lifespan=lifespan,
                  description="Simulate an online shopper's next action and rationale (Shop-R1).")
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    if settings.api_key is not None:
        app.add_middleware(BearerAuth, api_key=settings.api_key, exempt=("/health",))
    app.add_middleware(CatchAll)  # added last = outermost of ours: it sees the other middlewares' errors too
    created = int(time.time())

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok", "model": settings.model_name}

    @app.get("/v1/models", response_model=ModelList)
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": settings.model_name, "object": "model", "created": created,
                                            "owned_by": "shop-r1"}]}

    @app.post("/v1/predict", response_model=PredictResponse)
    async def predict(body: PredictRequest) -> dict[str, Any]:
        """The next rationale and action of the session's shopper, with `n` samples and their distribution."""
        check_model(body.model)
        sampling = _sampling(body, body.max_tokens, settings)
        try:
            session = parse_session_so_far(body.session)
        except SchemaError as err:
            raise err.nested("session") from None
        result = await on_worker(engine.predict, session, sampling)
        parsed = [parse_completion(g.text) for g in result.generations]
        samples = [
            {"raw_completion": g.text, "rationale": p.rationale if p else None,
             "action": p.action.to_dict() if p else None, "finish_reason": g.finish_reason,
             "completion_tokens": g.tokens}
            for g, p in zip(result.generations, parsed, strict=True)
        ]
        first = samples[0]
        return {
            "id": f"pred-{uuid.uuid4().hex}",
            "object": "shop_r1.prediction",
            "created": int(time.time()),
            "model": settings.model_name,
            "rationale": first["rationale"],
            "action": first["action"],
            "raw_completion": first["raw_completion"],
            "finish_reason": first["finish_reason"],
            "samples": samples,
            "distribution": action_distribution(parsed).to_dict(),
            "prompt": {"tokens": result.prompt_tokens, "dropped_pages": result.prompt.dropped_pages,
                       "current_page_truncated": result.prompt.current_page_truncated,
                       "has_current_page": session.page is not None},
            "usage": _usage(result),
            "seed": sampling.seed,
        }

    @app.post("/v1/chat/completions", response_model=ChatCompletion)
    async def chat_completions(body: ChatCompletionRequest) -> dict[str, Any]:
        """OpenAI-compatible chat completions (no streaming, no tools, no logprobs)."""
        if body.stream:
            raise APIError(400, "stream: streaming is not supported by this server; send stream=false",
                           param="stream")
        check_model(body.model)
        field = "max_tokens" if body.max_completion_tokens is None else "max_completion_tokens"
        sampling = _sampling(body, getattr(body, field), settings, _stop_strings(body.stop), field)
        # OpenAI's "developer" role is the newer name of "system"; chat templates only know the latter.
        messages = [{"role": "system" if m.role == "developer" else m.role, "content": m.text()}
                    for m in body.messages]
        result = await on_worker(engine.chat, messages, sampling)
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": settings.model_name,
            "choices": [{"index": i, "message": {"role": "assistant", "content": g.text},
                         "finish_reason": g.finish_reason, "logprobs": None}
                        for i, g in enumerate(result.generations)],
            "usage": _usage(result),
            "system_fingerprint": None,
        }

    return app
