"""An async client for any OpenAI-compatible chat endpoint (vLLM, a hosted API, `shop-r1 serve`), with retries.

Only `POST {api root}/chat/completions` is used, with `model`, `messages`, `temperature` and optionally
`max_tokens` / `top_p`; the reply's `choices[0].message.content` is handed to a validator. `usage` is
added up when the server reports it.

Base URL rule (the OpenAI SDK's, plus one convenience): `--base-url` is the API root, e.g.
`http://localhost:8000/v1` or `https://api.openai.com/v1`, and requests go to `<root>/chat/completions`.
A URL with no path at all (`http://localhost:8000`) gets `/v1` appended, since every common server
mounts its API there; any other path is used exactly as given (`https://host/openai/v1beta` stays).

What is retried, with exponential backoff and jitter (or the server's `Retry-After`, when it sends one):
HTTP 408/409/425/429 and 5xx, timeouts, connection errors, a body that is not the expected JSON, and a
reply that fails validation. Every attempt counts toward `max_attempts`. HTTP 401/403/404 stop the whole
run (`TeacherError`: a wrong key, URL or model fails every session alike); other 4xx fail that one call.

The API key is sent only as `Authorization: Bearer <key>` and is removed from every message this module
produces, in case a server echoes request headers back in an error body.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx

from shop_r1.errors import ShopR1Error
from shop_r1.prompts import Message
from shop_r1.rationales.parse import InvalidReply

__all__ = [
    "CallFailed",
    "CallStats",
    "ChatClient",
    "GenerationSettings",
    "RetryPolicy",
    "TeacherError",
    "backoff_delay",
    "chat_completions_url",
    "retry_after_seconds",
]

logger = logging.getLogger(__name__)
T = TypeVar("T")

RETRY_STATUSES = frozenset({408, 409, 425, 429})
FATAL_STATUSES = frozenset({401, 403, 404})
_BODY_SNIPPET = 300


class TeacherError(ShopR1Error):
    """The endpoint refuses every request (bad key, URL or model): no point trying other sessions."""


class CallFailed(Exception):
    """One call failed for good: a non-retryable answer, or `max_attempts` used up.

    `kind` is a short category for grouping in the summary ("HTTP 503", "timeout", "invalid reply", ...);
    `reason` is the last problem in full.
    """

    def __init__(self, kind: str, reason: str, attempts: int) -> None:
        self.kind = kind
        self.reason = reason
        self.attempts = attempts
        super().__init__(reason)


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts and waits. The wait before retry n is drawn from [b/2, b] with b = min(backoff_max,
    backoff * 2**(n-1)) ("equal jitter": concurrent callers spread out, yet each wait still grows).

    Args:
        max_attempts (`int`, *optional*, defaults to `5`): attempts per call, the first included.
        backoff (`float`, *optional*, defaults to `1.0`): seconds, the upper end of the first wait.
        backoff_max (`float`, *optional*, defaults to `60.0`): cap on the upper end of any wait.
        max_retry_after (`float`, *optional*, defaults to `300.0`): cap on a server's `Retry-After`.
    """

    max_attempts: int = 5
    backoff: float = 1.0
    backoff_max: float = 60.0
    max_retry_after: float = 300.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if self.backoff < 0 or self.backoff_max < self.backoff:
            raise ValueError(f"need 0 <= backoff <= backoff_max, got {self.backoff} and {self.backoff_max}")


def backoff_delay(retry: int, policy: RetryPolicy, rng: random.Random) -> float:
    """Seconds to wait before retry number `retry` (1 for the first retry)."""
    ceiling = min(policy.backoff_max, policy.backoff * 2 ** (retry - 1))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """A `Retry-After` header as seconds from now: delta-seconds or an HTTP date; `None` if absent or bad."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def chat_completions_url(base_url: str) -> str:
    """`<base_url>/chat/completions`, with `/v1` added when the URL has no path (see the module docstring)."""
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ShopR1Error(f"--base-url must be an http(s) URL such as http://localhost:8000/v1, got {base_url!r}")
    path = parts.path.rstrip("/") or "/v1"
    return urlunsplit((parts.scheme, parts.netloc, f"{path}/chat/completions", parts.query, ""))


@dataclass(frozen=True)
class GenerationSettings:
    """Sampling settings sent with every request; all are part of the cache key.

    Args:
        temperature (`float`, *optional*, defaults to `0.7`): above 0 so that a retry after an invalid
            reply can come out differently.
        max_tokens (`int` or `None`, *optional*): reply length cap; `None` leaves it to the server.
        top_p (`float` or `None`, *optional*): nucleus sampling; `None` leaves it to the server.
    """

    temperature: float = 0.7
    max_tokens: int | None = None
    top_p: float | None = None

    def request_fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {"temperature": self.temperature}
        if self.max_tokens is not None:
            out["max_tokens"] = self.max_tokens
        if self.top_p is not None:
            out["top_p"] = self.top_p
        return out


@dataclass
class CallStats:
    """Counters over the client's lifetime. `requests` counts HTTP requests sent, retries included."""

    requests: int = 0
    retries: int = 0
    usage_reported: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    def add_usage(self, usage: dict[str, int]) -> None:
        self.usage_reported = True
        self.prompt_tokens += usage.get("prompt_tokens", 0)
        self.completion_tokens += usage.get("completion_tokens", 0)
        self.total_tokens += usage.get("total_tokens", 0)


@dataclass(frozen=True)
class Completion:
    """A validated reply: the validator's result, the attempts it took and the tokens it reports."""

    value: Any
    attempts: int
    usage: dict[str, int] = field(default_factory=dict)


class _Final(Exception):
    def __init__(self, kind: str, reason: str) -> None:
        self.kind = kind
        self.reason = reason
        super().__init__(reason)


class _Retryable(Exception):
    def __init__(self, kind: str, reason: str, retry_after: float | None = None) -> None:
        self.kind = kind
        self.reason = reason
        self.retry_after = retry_after
        super().__init__(reason)


def _usage_of(data: dict[str, Any]) -> dict[str, int]:
    usage = data.get("usage")
    if not isinstance(usage, dict):
        return {}
    return {key: value for key, value in usage.items()
            if key in ("prompt_tokens", "completion_tokens", "total_tokens") and isinstance(value, int)}


def _error_message(response: httpx.Response) -> str:
    """The server's own error text (OpenAI shape `{"error": {"message": ...}}`, else the body), shortened."""
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        text = response.text
    else:
        error = data.get("error") if isinstance(data, dict) else None
        message = error.get("message") if isinstance(error, dict) else error if isinstance(error, str) else None
        text = message if isinstance(message, str) else response.text
    text = " ".join(text.split())
    return text[:_BODY_SNIPPET] + ("..." if len(text) > _BODY_SNIPPET else "")


class ChatClient:
    """`async with ChatClient(...) as client: value = await client.complete(messages, validate)`.

    At most `concurrency` requests are in flight at once across all callers; waits between retries do
    not hold a slot.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout: float = 120.0,
        concurrency: int = 4,
        retry: RetryPolicy = RetryPolicy(),
        generation: GenerationSettings = GenerationSettings(),
        rng: random.Random | None = None,
    ) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.url = chat_completions_url(base_url)
        self.model = model
        self.timeout = timeout
        self.concurrency = concurrency
        self.retry = retry
        self.generation = generation
        self.stats = CallStats()
        self._api_key = api_key or None
        self._rng = rng or random.Random()
        self._http: httpx.AsyncClient | None = None
        self._slots: asyncio.Semaphore | None = None

    def __repr__(self) -> str:  # never shows the key
        return f"ChatClient(url={self.url!r}, model={self.model!r})"

    async def __aenter__(self) -> ChatClient:
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        self._http = httpx.AsyncClient(
            headers=headers,
            timeout=httpx.Timeout(self.timeout),
            limits=httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency),
        )
        self._slots = asyncio.Semaphore(self.concurrency)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._http is not None:
            await self._http.aclose()
        self._http = None

    def redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    async def complete(self, messages: list[Message], validate: Callable[[str], T],
                       extra: Mapping[str, Any] | None = None) -> Completion:
        """Send `messages` until `validate(content)` returns; its result is the `Completion`'s `value`.

        `validate` raises `InvalidReply` to ask for another attempt. `extra` adds fields to this request's
        body (a per-request `seed`, say). Raises `CallFailed` when the call fails for good and
        `TeacherError` when the endpoint refuses everything.
        """
        body = {"model": self.model, "messages": messages, **self.generation.request_fields(), **(extra or {})}
        usage_total: dict[str, int] = {}
        for attempt in range(1, self.retry.max_attempts + 1):
            if attempt > 1:
                self.stats.retries += 1
            try:
                content, usage, finish_reason = await self._post(body)
                for key, value in usage.items():
                    usage_total[key] = usage_total.get(key, 0) + value
                try:
                    return Completion(validate(content), attempt, usage_total)
                except InvalidReply as err:
                    cut = " (the reply was cut off at max_tokens)" if finish_reason == "length" else ""
                    raise _Retryable("invalid reply", f"invalid reply: {err}{cut}") from None
            except _Final as problem:
                raise CallFailed(problem.kind, self.redact(problem.reason), attempt) from None
            except _Retryable as problem:
                if attempt == self.retry.max_attempts:
                    tries = f"{attempt} attempt{'s' if attempt != 1 else ''}"
                    raise CallFailed(problem.kind, self.redact(f"{problem.reason} (after {tries})"), attempt) \
                        from None
                if problem.kind == "invalid reply":
                    wait = 0.0  # the server is fine; only the sample was bad
                elif problem.retry_after is not None:
                    wait = min(problem.retry_after, self.retry.max_retry_after) * (1 + self._rng.uniform(0, 0.1))
                else:
                    wait = backoff_delay(attempt, self.retry, self._rng)
                logger.info("attempt %d/%d failed (%s); retrying in %.2f s", attempt, self.retry.max_attempts,
                            self.redact(problem.reason), wait)
                await asyncio.sleep(wait)
        raise AssertionError("unreachable: the loop returns or raises")

    async def _post(self, body: dict[str, Any]) -> tuple[str, dict[str, int], str | None]:
        """One request: the reply's text, usage and finish reason, or `_Retryable` / `_Final` / `TeacherError`."""
        if self._http is None or self._slots is None:
            raise RuntimeError("use ChatClient as `async with ChatClient(...) as client`")
        async with self._slots:
            self.stats.requests += 1
            started = time.monotonic()
            try:
                # httpx's timeout applies per read; the outer one bounds the whole exchange, so a server
                # that trickles bytes cannot hold a slot forever.
                async with asyncio.timeout(self.timeout):
                    response = await self._http.post(self.url, json=body)
            except (TimeoutError, httpx.TimeoutException):
                raise _Retryable("timeout", f"no answer within {self.timeout:g} s") from None
            except httpx.TransportError as err:
                raise _Retryable("connection error", f"connection error: {type(err).__name__}: {err}") from None
        logger.debug("POST %s -> %d in %.2f s", self.url, response.status_code, time.monotonic() - started)
        status = response.status_code
        if status != 200:
            message = self.redact(_error_message(response))
            if status in FATAL_STATUSES:
                hint = {401: "check the key in --api-key-env", 403: "check the key in --api-key-env",
                        404: "check --base-url and --model"}[status]
                raise TeacherError(f"{self.url} answered HTTP {status} ({hint}): {message}")
            if status in RETRY_STATUSES or status >= 500:
                raise _Retryable(f"HTTP {status}", f"HTTP {status}: {message}",
                                 retry_after_seconds(response.headers.get("retry-after")))
            raise _Final(f"HTTP {status}", f"HTTP {status}: {message}")
        try:
            data = response.json()
            choice = data["choices"][0]
            content = choice["message"]["content"]
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, IndexError, TypeError):
            snippet = self.redact(" ".join(response.text.split())[:80])
            raise _Retryable("invalid response", f"the response is not an OpenAI chat completion: {snippet!r}") \
                from None
        usage = _usage_of(data)
        if usage:
            self.stats.add_usage(usage)
        if not isinstance(content, str):
            raise _Retryable("invalid reply", "invalid reply: the message has no text content")
        return content, usage, choice.get("finish_reason") if isinstance(choice, dict) else None
