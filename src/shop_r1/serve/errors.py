"""Every error the server returns, in OpenAI's shape, so the `openai` client raises it with the message.

    {"error": {"message": "session.steps[2].action.type: must be one of ...", "type": "invalid_request_error",
               "param": "session.steps[2].action.type", "code": null}}

Status codes: 400 a request that cannot be read or served as a whole (malformed JSON, `stream`, a prompt
over the context budget); 401 a missing or wrong API key; 404 an unknown path or model; 413 a body over
the limit; 415 a body not sent as `application/json`; 422 a field with a bad value (the message names
the field). Known problems are mapped here;
anything else becomes a bare 500 in `limits.CatchAll`, with the details only in the server log.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from shop_r1.prompts import PromptTooLongError
from shop_r1.schema import SchemaError
from shop_r1.serve.engine import MessagesRejectedError

__all__ = ["APIError", "error_payload", "field_path", "install_error_handlers"]


class APIError(Exception):
    """A request the server refuses, with the status and the message the client sees."""

    def __init__(
        self, status: int, message: str, *, type: str = "invalid_request_error", param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code


def error_payload(message: str, *, type: str = "invalid_request_error", param: str | None = None,
                  code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def error_body(message: str, **kwargs: Any) -> bytes:
    """The payload as bytes, for middlewares that answer without a Response object."""
    return json.dumps(error_payload(message, **kwargs)).encode("utf-8")


def field_path(loc: Sequence[str | int]) -> str:
    """A pydantic location as the dotted path the schema errors use: ("messages", 0, "role") -> messages[0].role."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _validation_message(error: dict[str, Any]) -> tuple[str, str]:
    loc = list(error.get("loc", ()))
    if loc and loc[0] == "body":
        loc = loc[1:]
    path = field_path(loc) or "body"
    message = "unknown or unsupported field" if error.get("type") == "extra_forbidden" else error.get("msg", "invalid")
    return path, f"{path}: {message}"


def _response(status: int, message: str, **kwargs: Any) -> JSONResponse:
    return JSONResponse(error_payload(message, **kwargs), status_code=status)


async def _on_api_error(request: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, APIError)
    return _response(err.status, err.message, type=err.type, param=err.param, code=err.code)


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


async def _on_validation(request: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, RequestValidationError)
    errors = list(err.errors())
    content_type = request.headers.get("content-type", "")
    about_body = any(tuple(error.get("loc", ()))[:1] == ("body",) for error in errors)
    if about_body and not _is_json(content_type):
        # FastAPI reads JSON bodies only when they say so: a web page cannot send that cross-origin without a
        # CORS preflight, so a server on localhost cannot be driven by any site its user happens to visit.
        got = f"got {content_type!r}" if content_type else "got none"
        return _response(415, f"the request body must be JSON sent with Content-Type: application/json ({got})")
    for error in errors:
        if error.get("type") == "json_invalid":
            detail = (error.get("ctx") or {}).get("error", "")
            return _response(400, f"malformed JSON body{': ' + detail if detail else ''}")
        if error.get("type") == "missing" and tuple(error.get("loc", ())) == ("body",):
            return _response(400, "the request body is empty; send a JSON object")
        if error.get("type") == "model_attributes_type" and tuple(error.get("loc", ())) == ("body",):
            return _response(400, "the request body must be a JSON object")
    messages = [_validation_message(error) for error in errors]
    if not messages:
        return _response(422, "invalid request")
    shown = "; ".join(message for _, message in messages[:3])
    if len(messages) > 3:
        shown += f"; and {len(messages) - 3} more"
    return _response(422, shown, param=messages[0][0])


async def _on_schema_error(request: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, SchemaError)
    return _response(422, str(err), param=err.field or None)


async def _on_prompt_too_long(request: Request, err: Exception) -> JSONResponse:
    return _response(400, str(err), code="context_length_exceeded")


async def _on_messages_rejected(request: Request, err: Exception) -> JSONResponse:
    return _response(422, f"messages: {err}", param="messages")


async def _on_http_error(request: Request, err: Exception) -> JSONResponse:
    # Starlette's own 404 / 405, reshaped; our code raises APIError instead.
    assert isinstance(err, StarletteHTTPException)
    kind = "not_found_error" if err.status_code == 404 else "invalid_request_error"
    return JSONResponse(error_payload(f"{request.method} {request.url.path}: {err.detail}", type=kind),
                        status_code=err.status_code, headers=getattr(err, "headers", None))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(APIError, _on_api_error)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(SchemaError, _on_schema_error)
    app.add_exception_handler(PromptTooLongError, _on_prompt_too_long)
    app.add_exception_handler(MessagesRejectedError, _on_messages_rejected)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
