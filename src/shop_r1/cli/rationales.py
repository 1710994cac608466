"""`shop-r1 rationales ...`: have a teacher model write the missing step rationales of a sessions file.

    vllm serve Qwen/Qwen2.5-7B-Instruct
    shop-r1 rationales synthesize sessions.jsonl out.jsonl --base-url http://localhost:8000/v1 \\
        --model Qwen/Qwen2.5-7B-Instruct
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from shop_r1.errors import ShopR1Error

app = typer.Typer(
    help="Teacher-written rationales for sessions that lack them, from any OpenAI-compatible endpoint.",
    no_args_is_help=True,
)
console = Console(soft_wrap=True)

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SHOWABLE_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,63}")


def _api_key(env_name: str) -> str | None:
    """The key from the environment. Messages name the variable only when it looks like one, in case a
    key was passed to --api-key-env by mistake."""
    if not _ENV_NAME.fullmatch(env_name):
        raise typer.BadParameter("takes the NAME of an environment variable that holds the key, never the key",
                                 param_hint="--api-key-env")
    key = os.environ.get(env_name)
    if key:
        return key
    shown = f"${env_name}" if _SHOWABLE_ENV_NAME.fullmatch(env_name) else "the variable named by --api-key-env"
    if env_name != "OPENAI_API_KEY":
        raise ShopR1Error(f"{shown} is not set; export the API key there, or drop --api-key-env")
    console.print(f"[dim]{shown} is not set: sending no Authorization header.[/]")
    return None


def _print_summary(summary, out: Path, failures_file: Path) -> None:  # type: ignore[no-untyped-def]
    table = Table(title="rationales", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    rows = [
        ("sessions", summary.sessions),
        ("done (teacher called)", summary.done),
        ("cached", summary.cached),
        ("skipped (had rationales)", summary.skipped),
        ("failed", len(summary.failed)),
        ("requests sent", summary.requests),
        ("retries", summary.retries),
    ]
    if summary.total_tokens is not None:
        rows += [("prompt tokens", summary.prompt_tokens), ("completion tokens", summary.completion_tokens)]
    else:
        rows.append(("tokens", "not reported by the endpoint"))
    for what, value in rows:
        table.add_row(what, str(value))
    console.print(table)
    if summary.failed:
        reasons = Table(title="failed sessions by reason")
        for column in ("reason", "sessions", "example"):
            reasons.add_column(column, overflow="fold")
        for kind, failures in summary.failures_by_kind().items():
            first = failures[0]
            reasons.add_row(escape(kind), str(len(failures)), escape(f"{first.session_id}: {first.reason}"))
        console.print(reasons)
        console.print(f"[red]{len(summary.failed)} session(s) failed[/]; they are listed in "
                      f"{escape(str(failures_file))} and left out of {escape(str(out))}. "
                      "Run the same command again to retry only those.")


@app.command()
def synthesize(
    sessions_path: Annotated[Path, typer.Argument(help="Sessions file (JSONL or Parquet).", exists=True,
                                                  dir_okay=False, readable=True)],
    out: Annotated[Path, typer.Argument(help="Output sessions file (.jsonl, or .parquet), written atomically at "
                                             "the end.", dir_okay=False)],
    base_url: Annotated[str, typer.Option(help="API root of an OpenAI-compatible server, e.g. "
                                               "http://localhost:8000/v1; requests go to <root>/chat/completions "
                                               "(a URL without a path gets /v1).")],
    model: Annotated[str, typer.Option(help="Model name sent to the server.")],
    per_step: Annotated[bool, typer.Option("--per-step", help="One call per step (history so far, that step's "
                                                              "page and action) instead of one per session.")]
    = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace rationales that are already there.")]
    = False,
    concurrency: Annotated[int, typer.Option(help="Requests in flight at once.", min=1)] = 4,
    max_attempts: Annotated[int, typer.Option(help="Attempts per call, the first included.", min=1)] = 5,
    timeout: Annotated[float, typer.Option(help="Seconds per request before it counts as failed.", min=0.001)]
    = 120.0,
    backoff: Annotated[float, typer.Option(help="Seconds: the first retry waits up to this long, doubling on "
                                                "each retry up to 60 s (a Retry-After header wins).", min=0.0)]
    = 1.0,
    temperature: Annotated[float, typer.Option(help="Sampling temperature of the teacher.", min=0.0)] = 0.7,
    max_tokens: Annotated[int | None, typer.Option(help="Cap on reply tokens (default: the server's).", min=1)]
    = None,
    max_prompt_chars: Annotated[int, typer.Option(help="Prompt budget in characters; the oldest pages' HTML is "
                                                       "left out first.", min=1000)] = 60_000,
    no_persona: Annotated[bool, typer.Option("--no-persona", help="Leave the shopper's persona out of prompts.")]
    = False,
    cache_dir: Annotated[Path | None, typer.Option(help="Where finished replies are kept (default: OUT.cache/).",
                                                   file_okay=False)] = None,
    api_key_env: Annotated[str, typer.Option(help="Name of the environment variable holding the API key "
                                                  "(sent as a Bearer token).")] = "OPENAI_API_KEY",
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="Skip invalid records, report them.")]
    = False,
) -> None:
    """Write a first-person rationale for every step that lacks one, asking a teacher model; resumable.

    Finished replies are cached as they arrive, so rerunning the same command after an interruption or
    failures makes calls only for what is missing. Exits 1 when some sessions failed.
    """
    from shop_r1.data.io import RecordProblem, read_sessions, refuse_same_file, write_sessions
    from shop_r1.rationales import RationalePromptConfig, SynthesisConfig, SynthesisMode, synthesize_rationales
    from shop_r1.rationales.client import GenerationSettings, RetryPolicy, chat_completions_url
    from shop_r1.rationales.synthesize import default_cache_dir, failed_path, write_failures

    chat_completions_url(base_url)  # a malformed URL fails here, before any work
    refuse_same_file(out, sessions_path)  # failed sessions are left out of OUT: never write over the input
    key = _api_key(api_key_env)
    problems: list[RecordProblem] = []
    sessions = read_sessions(sessions_path, skip_invalid=skip_invalid, problems=problems)
    for problem in problems:
        console.print(f"[yellow]skipped:[/] {escape(str(problem))}", highlight=False)
    config = SynthesisConfig(
        model=model,
        mode=SynthesisMode.STEP if per_step else SynthesisMode.SESSION,
        overwrite=overwrite,
        prompt=RationalePromptConfig(max_prompt_chars=max_prompt_chars, include_persona=not no_persona),
        generation=GenerationSettings(temperature=temperature, max_tokens=max_tokens),
    )
    cache = cache_dir or default_cache_dir(out)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TimeRemainingColumn(), console=console, transient=True) as progress:
        task = progress.add_task("sessions", total=len(sessions))
        result = synthesize_rationales(
            sessions, config, base_url=base_url, cache_dir=cache, api_key=key, timeout=timeout,
            concurrency=concurrency, retry=RetryPolicy(max_attempts=max_attempts, backoff=backoff,
                                                       backoff_max=max(60.0, backoff)),
            on_session=lambda status: progress.advance(task),
        )
    failures_file = failed_path(out)
    write_failures(failures_file, result.summary.failed)
    if not result.sessions:
        # Every session failed (an endpoint that refuses connections, a wrong model name) or none was
        # valid: an empty OUT would replace a previous good run's output with nothing.
        kept = "left unchanged" if out.exists() else "not written"
        if not sessions:
            raise ShopR1Error(f"{sessions_path} holds no valid session, so {out} was {kept}")
        _print_summary(result.summary, out, failures_file)
        raise ShopR1Error(f"no session got its rationales, so {out} was {kept}; the reasons are in "
                          f"{failures_file}")
    write_sessions(out, result.sessions)
    _print_summary(result.summary, out, failures_file)
    console.print(f"[green]wrote[/] {len(result.sessions)} sessions to {escape(str(out))} "
                  f"(cache: {escape(str(cache))})")
    if result.summary.failed:
        raise typer.Exit(1)
