"""ASGI middlewares around the app: catch-all 500, bearer-token auth, request body size limit.

Plain ASGI rather than FastAPI dependencies so that they act before the body is parsed: a client
without the key is refused before its body is read, and an oversized body is refused while it arrives,
also when it is sent chunked without a Content-Length.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from shop_r1.serve.errors import error_body

__all__ = ["BearerAuth", "BodySizeLimit", "CatchAll"]

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def send_error(send: Send, status: int, message: str, *, headers: Iterable[tuple[bytes, bytes]] = (),
                     **kwargs: Any) -> None:
    body = error_body(message, **kwargs)
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                    *headers],
    })
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value
    return None


class CatchAll:
    """Any unexpected exception -> logged with its traceback, answered with a JSON 500 without internals.

    Sits inside Starlette's ServerErrorMiddleware (whose answer is plain text) and outside the routes'
    handlers, so only problems no handler knows reach it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            logger.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:  # too late for a clean answer: let the server drop the connection
                raise
            await send_error(send, 500, "internal server error (details are in the server log)", type="server_error")


class BearerAuth:
    """Require `Authorization: Bearer <key>` everywhere but `exempt` paths (the key is compared in constant time)."""

    def __init__(self, app: ASGIApp, api_key: str, exempt: Iterable[str] = ("/health",)) -> None:
        if not api_key:
            raise ValueError("api_key must be non-empty")
        self.app = app
        self._expected = api_key.encode("utf-8")
        self.exempt = frozenset(exempt)

    def _authorized(self, scope: Scope) -> bool:
        header = _header(scope, b"authorization")
        if header is None:
            return False
        scheme, _, token = header.strip().partition(b" ")
        # compare_digest also runs when the scheme is wrong, so timing says nothing about which check failed.
        matches = hmac.compare_digest(token.strip(), self._expected)
        return scheme.lower() == b"bearer" and matches

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self.exempt or self._authorized(scope):
            await self.app(scope, receive, send)
            return
        await send_error(send, 401, "missing or invalid API key: send the header `Authorization: Bearer <key>`",
                         type="authentication_error", code="invalid_api_key",
                         headers=[(b"www-authenticate", b"Bearer")])


class BodySizeLimit:
    """Refuse request bodies over `max_bytes` with 413, by Content-Length or while reading a chunked body.

    The body is read in full before the app runs and then replayed to it: bodies are small by
    construction, and the app never starts on a body that turns out too large halfway.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        self.app = app
        self.max_bytes = max_bytes

    async def _too_large(self, send: Send) -> None:
        await send_error(send, 413, f"request body too large: the limit is {self.max_bytes} bytes "
                                    "(server option --max-body-bytes)", code="request_too_large")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                await send_error(send, 400, "invalid Content-Length header")
                return
            if length > self.max_bytes:
                await self._too_large(send)
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: nothing to answer
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()  # later calls wait for the disconnect, as the server's receive would

        await self.app(scope, replay, send)
