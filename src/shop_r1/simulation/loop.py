"""Many visits advancing together: each tick, one proposal per live visit from one driver call.

Up to `batch_size` visits are live at once. A tick asks the driver for every live visit's next action
in one call (a local model: one batched `generate`; an endpoint: concurrent requests), applies each
proposal to its own store tab, and replaces visits that ended by the next ones in line, so batches stay
full until the queue runs dry. Visits are independent: the order they finish in changes nothing but the
order of lines in OUT.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shop_r1.simulation.config import SimulationConfig
from shop_r1.simulation.drivers import Driver
from shop_r1.simulation.output import RunFiles, summarize
from shop_r1.simulation.shoppers import visit_identity, visit_ids, world_shopper
from shop_r1.simulation.visit import Visit, advance
from shop_r1.world.catalog import build_catalog
from shop_r1.world.search import SearchEngine
from shop_r1.world.store import Store

__all__ = ["Progress", "SimulationResult", "run_visits", "simulate"]


@dataclass
class Progress:
    """Live counters, handed to `on_progress` after every tick."""

    total: int
    done: int = 0
    already_done: int = 0
    steps: int = 0
    started: float = field(default_factory=time.perf_counter)
    actions: Counter[str] = field(default_factory=Counter)
    ends: Counter[str] = field(default_factory=Counter)

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds if self.seconds > 0 else 0.0

    def mix(self) -> str:
        steps = sum(self.actions.values())
        if not steps:
            return "no steps yet"
        return " ".join(f"{kind} {count / steps:.0%}" for kind, count in sorted(self.actions.items()))


@dataclass(frozen=True)
class SimulationResult:
    summary: dict[str, Any]
    out: Path


class _World:
    """The shop every visit opens a tab on: one catalog and search index, shared (both are read-only)."""

    def __init__(self, config: SimulationConfig) -> None:
        self.config = config
        self.catalog = build_catalog(config.catalog, config.n_products)
        self.engine = SearchEngine(self.catalog)

    def start(self, index: int, source: str) -> Visit:
        config = self.config
        identity = visit_identity(config.seed, index, config.persona_mode, config.personas)
        shopper = None
        persona, name = identity.persona, identity.shopper_name
        if source == "world":  # the world's shopper always has its persona and goal, as in `data synth`
            spec = world_shopper(config.seed, index)
            shopper, persona, name = spec.shopper(), spec.persona_dict(), spec.persona.name
        store = Store(self.catalog, config.store, engine=self.engine, shopper=name)
        return Visit(index=index, visit_id=identity.visit_id, user_id=identity.user_id, persona=persona,
                     store=store, page=store.page, source=source, shopper=shopper)


def run_visits(
    config: SimulationConfig,
    driver: Driver,
    *,
    skip: set[str] | frozenset[str] = frozenset(),
    on_finish: Callable[[Visit], None] = lambda visit: None,
    on_progress: Callable[[Progress], None] = lambda progress: None,
) -> Progress:
    """Run every visit of `config` not in `skip`; `on_finish` sees each visit as it ends."""
    world = _World(config)
    ids = visit_ids(config.shoppers)
    queue = deque(index for index in range(config.shoppers) if ids[index] not in skip)
    progress = Progress(total=config.shoppers, already_done=config.shoppers - len(queue))
    progress.done = progress.already_done
    live: list[Visit] = []
    while queue or live:
        while queue and len(live) < config.batch_size:
            live.append(world.start(queue.popleft(), driver.source))
        proposals: Sequence = driver.propose(live)
        for visit, proposal in zip(live, proposals, strict=True):
            before = len(visit.steps)
            advance(visit, proposal, max_retries=config.max_retries, max_steps=config.max_steps)
            if len(visit.steps) > before:
                progress.steps += 1
                progress.actions[visit.steps[-1].action.type.value] += 1
        for visit in live:
            if visit.done:
                on_finish(visit)
                progress.done += 1
                progress.ends[visit.end or "?"] += 1
        live = [visit for visit in live if not visit.done]
        on_progress(progress)
    return progress


def simulate(
    config: SimulationConfig,
    driver: Driver,
    out: str | Path,
    *,
    settings: dict[str, Any] | None = None,
    on_progress: Callable[[Progress], None] = lambda progress: None,
) -> SimulationResult:
    """Run (or resume) a simulation into `out`; returns the summary also written to `<out>.summary.json`.

    `settings` adds what the config does not know (model, sampling) to the recorded, resume-checked settings.
    """
    files = RunFiles(out)
    recorded = {"source": driver.source, **config.fingerprint(), **(settings or {})}
    done = files.prepare(recorded)
    progress = run_visits(config, driver, skip=done, on_finish=files.append, on_progress=on_progress)
    seconds = progress.seconds
    ran = progress.done - progress.already_done
    summary = {
        "status": "complete",
        "settings": recorded,
        **summarize(out),
        "this_run": {
            "visits": ran, "already_done": progress.already_done, "steps": progress.steps,
            "seconds": round(seconds, 3),
            "visits_per_second": round(ran / seconds, 4) if seconds > 0 else 0.0,
            "steps_per_second": round(progress.steps / seconds, 4) if seconds > 0 else 0.0,
        },
        "repairs": files.repairs,
    }
    files.write_summary(summary)
    return SimulationResult(summary, Path(out))
