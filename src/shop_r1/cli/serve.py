"""`shop-r1 serve`: serve a model over HTTP (FastAPI + uvicorn); see docs/serving.md.

    shop-r1 serve --model runs/grpo --port 8000
    SHOP_R1_API_KEY=... shop-r1 serve --model runs/grpo --host 0.0.0.0

The API key is read from `--api-key` or the environment variable by hand, not through typer's
`envvar`, so that it can never show up in `--help`; it is never printed or logged.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from shop_r1.cli.options import ModelSpecOption, check_inference_dtype
from shop_r1.limits import GRACEFUL_SHUTDOWN_S, KEEP_ALIVE_TIMEOUT_S, MAX_CONNECTIONS, MAX_REQUEST_BYTES
from shop_r1.models.embedded import DEFAULT_MODEL

__all__ = ["API_KEY_ENV", "default_served_name", "serve"]

API_KEY_ENV = "SHOP_R1_API_KEY"
_err = Console(stderr=True, soft_wrap=True)


def default_served_name(spec: str) -> str:
    """The name clients use for `spec`: a directory's or file's name, else the spec itself.

    >>> default_served_name("embedded:smollm2-135m")
    'embedded:smollm2-135m'
    """
    path = Path(spec)
    if not path.exists():
        return spec
    path = path.resolve()
    if path.is_file():
        return path.stem
    # runs/grpo/checkpoint-500 -> grpo/checkpoint-500: a bare "checkpoint-500" says little.
    return f"{path.parent.name}/{path.name}" if path.name.startswith("checkpoint-") else path.name


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    model: ModelSpecOption = DEFAULT_MODEL,
    host: Annotated[str, typer.Option(help="Address to bind; anything but loopback exposes the model to the "
                                           "network (set an API key).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=0, max=65535)] = 8000,
    served_model_name: Annotated[str | None, typer.Option(help="Name in /v1/models and the `model` field "
                                                               "(default: derived from --model).")] = None,
    api_key: Annotated[str | None, typer.Option(help=f"Require `Authorization: Bearer <key>` (/health stays "
                                                     f"open). Default: the {API_KEY_ENV} environment variable; "
                                                     "unset: no authentication.", show_default=False)] = None,
    max_new_tokens: Annotated[int, typer.Option(help="Cap on generated tokens per sample (and the default).",
                                                min=1)] = 128,
    max_samples: Annotated[int, typer.Option(help="Largest `n` a request may ask for.", min=1)] = 16,
    max_body_bytes: Annotated[int, typer.Option(help="Largest request body; larger ones get 413.", min=1024)]
    = MAX_REQUEST_BYTES,
    max_connections: Annotated[int, typer.Option(help="Connections served at once; more get 503 (bounds the "
                                                      "memory of queued requests).", min=1)] = MAX_CONNECTIONS,
    temperature: Annotated[float, typer.Option(help="Default sampling temperature (paper: 0.6; 0 = greedy).",
                                               min=0.0, max=2.0)] = 0.6,
    max_context_tokens: Annotated[int, typer.Option(help="Token budget per prompt; use the `data build` value "
                                                         "the model was trained with (paper: 32768).", min=64)]
    = 32768,
    context: Annotated[str, typer.Option(help="Pages shown in /v1/predict prompts, as in `data build`: full, "
                                              "latest or none.")] = "full",
    no_persona: Annotated[bool, typer.Option("--no-persona", help="Leave the shopper's persona out of prompts "
                                                                  "(as `data build --no-persona`).")] = False,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    dtype: Annotated[str, typer.Option(help="auto (float32 on CPU, bfloat16 on CUDA), float32 or bfloat16.")]
    = "auto",
    num_threads: Annotated[int | None, typer.Option(help="CPU threads for torch (default: torch's choice).",
                                                    min=1)] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    no_access_log: Annotated[bool, typer.Option("--no-access-log", help="Do not log one line per request.")]
    = False,
) -> None:
    """Serve a model over HTTP: /v1/predict (next action of a session), OpenAI-compatible /v1/chat/completions."""
    from shop_r1.prompts import CONTEXT_MODES, PromptConfig

    if device not in ("auto", "cpu", "cuda"):
        raise typer.BadParameter("must be auto, cpu or cuda", param_hint="--device")
    check_inference_dtype(dtype)
    if context not in CONTEXT_MODES:
        raise typer.BadParameter(f"must be one of {', '.join(CONTEXT_MODES)}", param_hint="--context")
    if log_level not in ("debug", "info", "warning", "error"):
        raise typer.BadParameter("must be debug, info, warning or error", param_hint="--log-level")
    key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
    if key is not None and not key.strip():
        raise typer.BadParameter("the API key is empty", param_hint=f"--api-key / {API_KEY_ENV}")
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s:     %(name)s: %(message)s")

    import uvicorn

    from shop_r1.serve.app import ServeSettings, create_app
    from shop_r1.serve.engine import ModelEngine

    settings = ServeSettings(model_name=served_model_name or default_served_name(model),
                             max_new_tokens=max_new_tokens, max_samples=max_samples, max_body_bytes=max_body_bytes,
                             temperature=temperature, api_key=key)
    prompt_config = PromptConfig(context=context, max_context_tokens=max_context_tokens,  # type: ignore[arg-type]
                                 include_persona=not no_persona)
    if num_threads is not None:
        import torch

        torch.set_num_threads(num_threads)
    with _err.status(f"loading {escape(model)}"):
        engine = ModelEngine.load(model, device=device, dtype=dtype, prompt_config=prompt_config)
    positions = engine.max_position_embeddings
    if positions is not None and max_context_tokens + max_new_tokens > positions:
        _err.print(f"[yellow]note:[/] the model has {positions} positions; prompts of up to {max_context_tokens} "
                   f"tokens plus {max_new_tokens} new ones may exceed it (--max-context-tokens)", highlight=False)
    auth = "a bearer token is required except on /health" if key else "no authentication"
    _err.print(f"serving [bold]{escape(settings.model_name)}[/] on http://{escape(host)}:{port}; {auth}; "
               "generation runs one request at a time", highlight=False)
    if key is None and not is_loopback(host):
        _err.print(f"[bold yellow]warning:[/] bound to {escape(host)} without an API key: anyone who can reach "
                   f"this address can use the model; set --api-key or {API_KEY_ENV}", highlight=False)
    # Limits and timeouts: see shop_r1.limits and docs/limits.md.
    uvicorn.run(create_app(engine, settings), host=host, port=port, log_level=log_level,
                access_log=not no_access_log, limit_concurrency=max_connections,
                timeout_keep_alive=KEEP_ALIVE_TIMEOUT_S, timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S)
