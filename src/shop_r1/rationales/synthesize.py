"""Fill in missing step rationales with a teacher model: cache first, then calls, then a typed summary.

Paper, section 2: "rationales for every step were synthesized by a teacher LLM given the context and the
action, one call per session". Per session (session mode) or per step (step mode):

1. Steps that already have a rationale keep it, unless `overwrite`; a session with nothing to fill in
   is `skipped` and costs no call.
2. The cache is asked first (`cache.py`); a hit is `cached`.
3. Otherwise the teacher is called (`client.py`), its reply validated (`parse.py`) and the result
   written to the cache at once, so that an interrupted run resumes where it stopped.

A session whose call fails for good is reported in `SynthesisSummary.failed` with the reason and left
out of the result; nothing of it is cached, so the next run tries it again. A `TeacherError` (the
endpoint refuses every request) stops the run; finished sessions are already in the cache.

The teacher is asked for every step of a session in session mode, even when some steps have a
rationale: the reply's count then checks the teacher followed the request, and the cached reply stays
valid for `overwrite`. In step mode only the steps to fill in are asked for.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from shop_r1.data.io import write_jsonl
from shop_r1.rationales.cache import CacheEntry, ReplyCache, cache_key, session_content_hash
from shop_r1.rationales.client import CallFailed, ChatClient, GenerationSettings, RetryPolicy, TeacherError
from shop_r1.rationales.parse import parse_session_reply, parse_step_reply
from shop_r1.rationales.prompt import (
    PROMPT_VERSION,
    RationalePromptConfig,
    RationalePromptTooLong,
    SynthesisMode,
    session_prompt,
    step_prompt,
)
from shop_r1.schema import Session

__all__ = [
    "SessionFailure",
    "SynthesisConfig",
    "SynthesisResult",
    "SynthesisSummary",
    "default_cache_dir",
    "failed_path",
    "has_rationale",
    "request_fields",
    "synthesize_rationales",
    "synthesize_rationales_async",
    "write_failures",
]

Status = Literal["done", "cached", "skipped", "failed"]


@dataclass(frozen=True)
class SynthesisConfig:
    """What to ask for. `model` is only the name sent to the endpoint and recorded in the cache key."""

    model: str
    mode: SynthesisMode = SynthesisMode.SESSION
    overwrite: bool = False
    prompt: RationalePromptConfig = RationalePromptConfig()
    generation: GenerationSettings = GenerationSettings()

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", SynthesisMode(self.mode))


@dataclass(frozen=True)
class SessionFailure:
    session_id: str
    kind: str
    reason: str
    attempts: int

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class SynthesisSummary:
    """Per-session outcomes (each session counts once) and what the calls cost.

    `done`: at least one teacher call was made for it in this run; `cached`: every reply it needed was
    cached; `skipped`: it needed none. `requests` counts HTTP requests, retries included.
    """

    sessions: int = 0
    done: int = 0
    cached: int = 0
    skipped: int = 0
    failed: list[SessionFailure] = field(default_factory=list)
    requests: int = 0
    retries: int = 0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None

    def count(self, status: Status) -> None:
        if status == "done":
            self.done += 1
        elif status == "cached":
            self.cached += 1
        elif status == "skipped":
            self.skipped += 1
        else:
            raise ValueError(f"failures are recorded with their reason, not counted: {status!r}")

    def failures_by_kind(self) -> dict[str, list[SessionFailure]]:
        groups: dict[str, list[SessionFailure]] = defaultdict(list)
        for failure in self.failed:
            groups[failure.kind].append(failure)
        return dict(sorted(groups.items(), key=lambda item: (-len(item[1]), item[0])))


@dataclass(frozen=True)
class SynthesisResult:
    """The finished sessions in input order (failed ones left out) and the summary."""

    sessions: list[Session]
    summary: SynthesisSummary


def has_rationale(text: str | None) -> bool:
    """A blank rationale counts as missing."""
    return bool(text and text.strip())


def request_fields(session: Session, config: SynthesisConfig, step: int | None = None) -> dict[str, Any]:
    """Everything the teacher's answer depends on: the cache key is the hash of this."""
    return {
        "prompt_version": PROMPT_VERSION,
        "session_sha256": session_content_hash(session),
        "model": config.model,
        "mode": config.mode.value,
        "step": step,
        "prompt": dataclasses.asdict(config.prompt),
        "generation": config.generation.request_fields(),
    }


def default_cache_dir(out: str | os.PathLike[str]) -> Path:
    return Path(f"{os.fspath(out)}.cache")


def failed_path(out: str | os.PathLike[str]) -> Path:
    return Path(f"{os.fspath(out)}.failed.jsonl")


def write_failures(path: str | os.PathLike[str], failures: Sequence[SessionFailure]) -> None:
    """Write the failures sidecar atomically, or remove a stale one when there are none."""
    if failures:
        write_jsonl(path, (failure.to_dict() for failure in failures))
    else:
        Path(path).unlink(missing_ok=True)


class _SessionFailed(Exception):
    def __init__(self, kind: str, reason: str, attempts: int) -> None:
        self.failure = (kind, reason, attempts)
        super().__init__(reason)


class _Run:
    """State of one synthesis run over a list of sessions."""

    def __init__(self, client: ChatClient, cache: ReplyCache, config: SynthesisConfig) -> None:
        self.client = client
        self.cache = cache
        self.config = config
        self.summary = SynthesisSummary()

    async def _reply(self, session: Session, step: int | None) -> tuple[list[str], bool]:
        """The rationales one request yields (all steps, or the one step), and whether a call was made."""
        n = len(session.steps) if step is None else 1
        fields = request_fields(session, self.config, step)
        key = cache_key(fields)
        entry = self.cache.get(key, n)
        if entry is not None:
            return entry.rationales, False
        try:
            prompt = session_prompt(session, self.config.prompt) if step is None else \
                step_prompt(session, step, self.config.prompt)
        except RationalePromptTooLong as err:
            raise _SessionFailed("prompt too long", str(err), 0) from None

        def validate(text: str) -> list[str]:
            return parse_session_reply(text, n) if step is None else [parse_step_reply(text)]

        try:
            completion = await self.client.complete(prompt.messages, validate)
        except CallFailed as err:
            where = "" if step is None else f"step {step + 1}: "
            raise _SessionFailed(err.kind, where + err.reason, err.attempts) from None
        self.cache.put(CacheEntry(key=key, session_id=session.session_id, rationales=completion.value,
                                  attempts=completion.attempts, usage=completion.usage, fields=fields))
        return completion.value, True

    async def session(self, session: Session) -> tuple[Status, Session | SessionFailure]:
        targets = [i for i, step in enumerate(session.steps)
                   if self.config.overwrite or not has_rationale(step.rationale)]
        if not targets:
            return "skipped", session
        try:
            if self.config.mode is SynthesisMode.SESSION:
                rationales, called = await self._reply(session, None)
                new = {i: rationales[i] for i in targets}
            else:
                outcomes = await asyncio.gather(*(self._reply(session, i) for i in targets), return_exceptions=True)
                for outcome in outcomes:
                    if isinstance(outcome, BaseException) and not isinstance(outcome, _SessionFailed):
                        raise outcome
                failures = [o for o in outcomes if isinstance(o, _SessionFailed)]
                if failures:
                    kind, reason, attempts = failures[0].failure
                    more = f" (and {len(failures) - 1} more steps)" if len(failures) > 1 else ""
                    raise _SessionFailed(kind, reason + more, attempts)
                new = {i: outcome[0][0] for i, outcome in zip(targets, outcomes, strict=True)}
                called = any(outcome[1] for outcome in outcomes)
        except _SessionFailed as err:
            return "failed", SessionFailure(session.session_id, *err.failure)
        steps = tuple(dataclasses.replace(step, rationale=new[i]) if i in new else step
                      for i, step in enumerate(session.steps))
        return ("done" if called else "cached"), dataclasses.replace(session, steps=steps)


async def synthesize_rationales_async(
    sessions: Sequence[Session],
    client: ChatClient,
    cache: ReplyCache,
    config: SynthesisConfig,
    on_session: Callable[[Status], None] | None = None,
) -> SynthesisResult:
    """Run over `sessions` with `client` (already entered); see the module docstring.

    At most `client.concurrency` sessions are worked on at once, so memory holds only their prompts.
    Raises `TeacherError` when the endpoint refuses every request.
    """
    run = _Run(client, cache, config)
    finished: list[Session | None] = [None] * len(sessions)
    failed: dict[int, SessionFailure] = {}
    queue = iter(enumerate(sessions))

    async def worker() -> None:
        for index, session in queue:  # one shared iterator: each session goes to exactly one worker
            status, result = await run.session(session)
            if isinstance(result, SessionFailure):
                failed[index] = result
            else:
                finished[index] = result
                run.summary.count(status)
            if on_session is not None:
                on_session(status)

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(min(client.concurrency, len(sessions))):
                group.create_task(worker())
    except* TeacherError as errors:
        raise errors.exceptions[0] from None
    summary = run.summary
    summary.sessions = len(sessions)
    summary.failed = [failed[index] for index in sorted(failed)]  # input order, whatever finished first
    stats = client.stats
    summary.requests, summary.retries = stats.requests, stats.retries
    if stats.usage_reported:
        summary.prompt_tokens, summary.completion_tokens = stats.prompt_tokens, stats.completion_tokens
        summary.total_tokens = stats.total_tokens
    return SynthesisResult([s for s in finished if s is not None], summary)


def synthesize_rationales(
    sessions: Sequence[Session],
    config: SynthesisConfig,
    *,
    base_url: str,
    cache_dir: str | os.PathLike[str],
    api_key: str | None = None,
    timeout: float = 120.0,
    concurrency: int = 4,
    retry: RetryPolicy = RetryPolicy(),
    on_session: Callable[[Status], None] | None = None,
) -> SynthesisResult:
    """Blocking entry point: build the client and cache, run `synthesize_rationales_async`."""

    async def main() -> SynthesisResult:
        async with ChatClient(base_url, config.model, api_key=api_key, timeout=timeout, concurrency=concurrency,
                              retry=retry, generation=config.generation) as client:
            return await synthesize_rationales_async(sessions, client, ReplyCache(cache_dir), config, on_session)

    return asyncio.run(main())
