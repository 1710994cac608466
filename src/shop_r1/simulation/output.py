"""The files of a simulation run: sessions as they finish, visits that never took a step, the summary.

- `OUT` (JSONL, native session schema): one finished visit per line, appended (one write, flushed and
  fsynced) the moment it ends, so a killed run loses only the visits still in progress.
- `<OUT>.failed.jsonl`: visits that ended before any valid action (a session needs at least one step),
  with their ending and failure kinds.
- `<OUT>.summary.json`: the run's settings (written first, checked on resume) and the counts, rewritten
  atomically at the end. Counts are recomputed from the two files, so they cover resumed visits too.

Resume: rerunning the same command repairs a half-written last line, refuses settings that differ from
those recorded, skips every visit id already in either file and restarts the others from scratch
(visit `i`'s randomness depends on `(seed, i)` only, so a restarted world visit is the same visit).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

from shop_r1.data.atomic import atomic_write
from shop_r1.data.io import read_sessions
from shop_r1.errors import ShopR1Error
from shop_r1.evaluation.predictions_io import AppendWriter, iter_jsonl, repair_tail
from shop_r1.schema import Session
from shop_r1.simulation.visit import Visit

__all__ = ["RunFiles", "failed_path", "read_out", "read_failed", "summarize", "summary_path"]


def failed_path(out: str | os.PathLike[str]) -> Path:
    out = Path(out)
    return out.with_name(out.name + ".failed.jsonl")


def summary_path(out: str | os.PathLike[str]) -> Path:
    out = Path(out)
    return out.with_name(out.name + ".summary.json")


def read_failed(out: str | os.PathLike[str]) -> list[dict[str, Any]]:
    path = failed_path(out)
    if not path.is_file():
        return []
    return [row for _, row in iter_jsonl(path, allow_partial_tail=True)]


def read_out(out: Path) -> list[Session]:
    return read_sessions(out) if out.is_file() and out.stat().st_size else []


class RunFiles:
    """Open with `prepare(settings)` (returns the finished visit ids), then `append(visit)` per visit."""

    def __init__(self, out: str | os.PathLike[str]) -> None:
        self.out = Path(out)
        self.failed = failed_path(out)
        self.summary = summary_path(out)
        self.repairs: list[str] = []

    def prepare(self, settings: dict[str, Any]) -> set[str]:
        for path in (self.out, self.failed):
            note = repair_tail(path)
            if note:
                self.repairs.append(f"{path}: {note}")
        if self.summary.is_file():
            recorded = json.loads(self.summary.read_text(encoding="utf-8")).get("settings")
            if recorded is not None and recorded != settings and (self.out.is_file() or self.failed.is_file()):
                keys = set(recorded) | set(settings)
                changed = sorted(key for key in keys if recorded.get(key) != settings.get(key))
                raise ShopR1Error(f"{self.out} was simulated with other settings ({', '.join(changed)} differ); "
                                  "rerun with the same options to resume, or choose another --out")
        done = {session.session_id for session in read_out(self.out)}
        done |= {row["session_id"] for row in read_failed(self.out) if isinstance(row, dict)}
        self.write_summary({"status": "running", "settings": settings})
        return done

    def append(self, visit: Visit) -> None:
        session = visit.session()
        target = self.out if session is not None else self.failed
        row = session.to_dict() if session is not None else visit.failed_record()
        with AppendWriter(target) as writer:
            writer.write([row])

    def write_summary(self, summary: dict[str, Any]) -> None:
        self.summary.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(self.summary) as handle:
            handle.write(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")


def summarize(out: str | os.PathLike[str]) -> dict[str, Any]:
    """Counts over every visit of a run's files: endings, failure kinds, samples, steps, action mix."""
    sessions = read_out(Path(out))
    failed = read_failed(out)
    ends: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    actions: Counter[str] = Counter()
    samples = steps = 0
    for session in sessions:
        last = session.steps[-1].meta
        ends[str(last.get("end", "unknown"))] += 1
        failures.update(last.get("next_step_failures", []))
        samples += len(last.get("next_step_failures", []))
        for step in session.steps:
            steps += 1
            actions[step.action.type.value] += 1
            samples += int(step.meta.get("samples", 1))
            failures.update(step.meta.get("failures", []))
    for row in failed:
        ends[str(row.get("end"))] += 1
        failures.update(row.get("failures", []))
        samples += int(row.get("samples", 0))
    visits = len(sessions) + len(failed)
    # Every decision took one first sample; the rest were resamples. Decisions: the steps taken, plus the
    # step a visit ended on without taking it (invalid_output, prompt_too_long).
    unfinished = sum(ends[end] for end in ("invalid_output", "prompt_too_long"))
    retries = samples - steps - unfinished
    return {
        "visits": visits,
        "sessions": len(sessions),
        "visits_without_steps": len(failed),
        "steps": steps,
        "mean_steps": steps / visits if visits else 0.0,
        "samples": samples,
        "retries": retries,
        "ends": dict(sorted(ends.items())),
        "failures": dict(sorted(failures.items())),
        "actions": dict(sorted(actions.items())),
    }
