"""`shop-r1 data synth`: write synthetic sessions from the embedded shopping world.

A plain typer command function; the root CLI registers it under `data`.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated

import typer

from shop_r1.schema import ActionType, Session


def _counted(sessions: Iterable[Session], counts: Counter[str], total: int) -> Iterator[Session]:
    """Pass sessions through, counting action types and endings, under a progress bar."""
    from rich.progress import Progress

    with Progress(transient=True, disable=total < 50) as progress:
        task = progress.add_task("synthesising sessions", total=total)
        for session in sessions:
            counts["sessions"] += 1
            for step in session.steps:
                counts[step.action.type.value] += 1
            counts["ended_terminate"] += session.steps[-1].action.type is ActionType.TERMINATE
            progress.advance(task)
            yield session


def synth(
    out: Annotated[Path, typer.Argument(help="Output JSONL file (written atomically).", dir_okay=False)],
    users: Annotated[int, typer.Option(min=1, help="Number of simulated users.")] = 200,
    sessions_per_user: Annotated[int, typer.Option(min=1, help="Visits per user.")] = 3,
    seed: Annotated[int, typer.Option(help="Seed; the same seed gives byte-identical output.")] = 0,
    results_per_page: Annotated[int, typer.Option(min=1, help="Search results per page.")] = 3,
    products: Annotated[int, typer.Option(min=12, help="Catalog size.")] = 600,
) -> None:
    """Simulate shoppers in the embedded store and write their sessions (native schema)."""
    from shop_r1.data import write_sessions
    from shop_r1.world.catalog import DEFAULT_N_PRODUCTS
    from shop_r1.world.store import StoreConfig
    from shop_r1.world.synth import SynthConfig, synthesize_sessions

    config = SynthConfig(store=StoreConfig(results_per_page=results_per_page),
                         n_products=products or DEFAULT_N_PRODUCTS)
    counts: Counter[str] = Counter()
    started = time.perf_counter()
    total = users * sessions_per_user
    write_sessions(out, _counted(synthesize_sessions(users, sessions_per_user, seed, config), counts, total))
    steps = sum(counts[t.value] for t in ActionType)
    mix = ", ".join(f"{t.value} {counts[t.value] / max(steps, 1):.0%}" for t in ActionType)
    ended = counts["ended_terminate"] / max(counts["sessions"], 1)
    print(f"wrote {counts['sessions']} sessions, {steps} steps ({mix}; {ended:.0%} of sessions end in terminate) "
          f"to {out} in {time.perf_counter() - started:.1f}s")
