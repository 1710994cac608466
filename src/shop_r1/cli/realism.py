"""`shop-r1 realism REAL SIM`: how close simulated sessions are to real ones, as distributions.

    shop-r1 realism opera.jsonl world.jsonl --out realism/

writes realism/realism.json, realism/report.md and PNG figures (see `shop_r1.realism`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from shop_r1.errors import ShopR1Error

__all__ = ["realism"]

console = Console(soft_wrap=True)

_SessionsFile = Annotated[Path, typer.Argument(help="Sessions file (JSONL or Parquet, native schema).", exists=True,
                                               dir_okay=False, readable=True)]


def realism(
    real: _SessionsFile,
    simulated: _SessionsFile,
    out: Annotated[Path, typer.Option("--out", help="Directory for realism.json, report.md and the figures.",
                                      file_okay=False)] = Path("realism"),
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap resampling.")] = 0,
    resamples: Annotated[int, typer.Option(help="Bootstrap resamples of sessions (0: no intervals).", min=0)] = 1000,
    confidence: Annotated[float, typer.Option(help="Interval coverage.", min=0.5, max=0.999)] = 0.95,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Write the PNG figures.")] = True,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="Skip invalid records instead of "
                                               "stopping at the first.")] = False,
) -> None:
    """Compare simulated sessions with real ones: action and click mixes, lengths, searches, purchases, funnel."""
    from shop_r1.data.io import read_sessions
    from shop_r1.realism.metrics import compare_sessions
    from shop_r1.realism.report import format_value, write_realism

    problems: list = []
    sides = {}
    for label, path in (("real", real), ("simulated", simulated)):
        sides[label] = read_sessions(path, skip_invalid=skip_invalid, problems=problems)
        if not sides[label]:
            raise ShopR1Error(f"{path}: no valid sessions to compare")
    for problem in problems[:20]:
        console.print(f"[yellow]skipped:[/] {escape(str(problem))}", highlight=False)
    result = compare_sessions(sides["real"], sides["simulated"], n_resamples=resamples, confidence=confidence,
                              seed=seed, sources={"real": str(real), "simulated": str(simulated)})
    written = write_realism(result, out, plots=plots)
    three = lambda x: f"{x:.3f}"  # noqa: E731
    console.print(f"mean JS {format_value(result.get('summary.mean_js'), three)}; purchase rate real "
                  f"{format_value(result.get('purchase_rate.real'))}% vs simulated "
                  f"{format_value(result.get('purchase_rate.simulated'))}%; session length W1 "
                  f"{format_value(result.get('session_length.wasserstein'), lambda x: f'{x:.2f}')} steps",
                  highlight=False)
    console.print(f"[green]wrote[/] {escape(str(written['report']))}, {escape(str(written['realism']))} and "
                  f"{len(written) - 2} figure(s)", highlight=False)
