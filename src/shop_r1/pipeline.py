"""A tiny stage runner: named steps whose finished outputs are cached by the configuration that made them.

Long multi-stage jobs (the demo: data, training runs, evaluations) must survive being interrupted and
rerun: a stage whose directory holds a `stage.json` with the same configuration key is skipped, and a
stage that fails says which one and why. A stage writes into its own directory; `stage.json` is
written last and atomically, so a half-finished stage is never mistaken for a finished one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shop_r1.data.io import atomic_write
from shop_r1.errors import ShopR1Error

logger = logging.getLogger(__name__)

STAGE_FILE = "stage.json"


def config_key(config: Mapping[str, Any]) -> str:
    """A stable hash of a JSON-able configuration (key order does not matter)."""
    blob = json.dumps(config, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Stage:
    """One step of a pipeline. `run(workdir)` fills `workdir`; `config` is everything its output depends
    on, including the keys of the stages it reads from (see `Pipeline.key_of`)."""

    name: str
    run: Callable[[Path], Any]
    config: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""


class StageFailed(ShopR1Error):
    def __init__(self, stage: str, cause: BaseException) -> None:
        self.stage = stage
        self.cause = cause
        super().__init__(f"stage {stage!r} failed: {type(cause).__name__}: {cause}")


@dataclass
class StageResult:
    name: str
    workdir: Path
    key: str
    cached: bool
    seconds: float


def link_tree(source: Path, target: Path) -> None:
    """Copy a finished stage's directory as hard links (model weights are hundreds of MB; a finished stage's
    files are never written again, and a rerun removes its directory before writing). Falls back to copies
    across file systems. Built beside `target` and renamed, so an interrupted copy is never taken as done."""
    partial = target.with_name(f".{target.name}.partial")
    if partial.exists():
        shutil.rmtree(partial)

    def link_or_copy(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, partial, copy_function=link_or_copy)
    partial.rename(target)


class Pipeline:
    """Runs stages in order under `root`, one directory per stage."""

    def __init__(self, root: str | Path, *, on_event: Callable[[str, Stage, StageResult | None], None] | None = None,
                 reuse_from: Sequence[str | Path] = ()):
        self.root = Path(root)
        self.on_event = on_event
        self.reuse_from = [Path(other) for other in reuse_from]
        self.results: dict[str, StageResult] = {}

    def workdir(self, name: str) -> Path:
        return self.root / name

    def key_of(self, name: str) -> str:
        """The key of a finished stage, for later stages to fold into their own configuration."""
        return self.results[name].key

    def is_done(self, stage: Stage, root: Path | None = None) -> bool:
        marker = (root or self.root) / stage.name / STAGE_FILE
        if not marker.is_file():
            return False
        try:
            recorded = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return False
        return recorded.get("key") == config_key(stage.config) and recorded.get("status") == "done"

    def run(self, stage: Stage) -> StageResult:
        key = config_key(stage.config)
        workdir = self.workdir(stage.name)
        if self.is_done(stage):
            result = StageResult(stage.name, workdir, key, cached=True, seconds=0.0)
            self._emit("cached", stage, result)
            self.results[stage.name] = result
            return result
        if workdir.exists():  # stale or half-finished: start clean so no old file is mistaken for new
            shutil.rmtree(workdir)
        if (source := self._finished_elsewhere(stage)) is not None:
            link_tree(source / stage.name, workdir)
            result = StageResult(stage.name, workdir, key, cached=True, seconds=0.0)
            self._emit("reused", stage, result)
            self.results[stage.name] = result
            return result
        workdir.mkdir(parents=True)
        self._emit("start", stage, None)
        started = time.perf_counter()
        try:
            stage.run(workdir)
        except KeyboardInterrupt:
            raise
        except Exception as err:
            self._emit("failed", stage, None)
            raise StageFailed(stage.name, err) from err
        seconds = time.perf_counter() - started
        with atomic_write(workdir / STAGE_FILE) as handle:
            json.dump({"stage": stage.name, "key": key, "status": "done", "seconds": round(seconds, 2),
                       "config": stage.config}, handle, indent=2, default=str)
        result = StageResult(stage.name, workdir, key, cached=False, seconds=seconds)
        self.results[stage.name] = result
        self._emit("done", stage, result)
        return result

    def _finished_elsewhere(self, stage: Stage) -> Path | None:
        for other in self.reuse_from:
            if other.resolve() != self.root.resolve() and self.is_done(stage, other):
                return other
        return None

    def _emit(self, event: str, stage: Stage, result: StageResult | None) -> None:
        if self.on_event is not None:
            self.on_event(event, stage, result)
