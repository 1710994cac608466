"""`shop-r1 demo`: zero-shot vs SFT vs SFT + RL (Binary) vs Shop-R1 on the embedded defaults, in one command."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from shop_r1.embedded import DEFAULT_MODEL

console = Console(soft_wrap=True)


def _on_event(event: str, stage: Any, result: Any) -> None:
    stamp = time.strftime("%H:%M:%S")
    if event == "start":
        console.print(f"[bold cyan]{stamp} ▶ {stage.name}[/]: {escape(stage.description)}")
    elif event == "done":
        console.print(f"[green]{stamp} ✓ {stage.name}[/] ({result.seconds:.0f} s)")
    elif event == "cached":
        console.print(f"[dim]{stamp} ✓ {stage.name} (already done, reused)[/]")
    elif event == "failed":
        console.print(f"[bold red]{stamp} ✗ {stage.name} failed[/]")


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}"


def print_comparison(table: dict[str, dict[str, Any]], improvement: dict[str, float | None]) -> None:
    from shop_r1.demo import SETTING_TITLES

    view = Table(title="Next-action prediction on held-out shoppers (%, the paper's Table 2 layout)")
    for column in ("setting", "exact", "type acc", "type F1", "click exact", "type_and_submit exact",
                   "terminate exact", "n"):
        view.add_column(column, justify="right", no_wrap=column == "setting")
    for setting, row in table.items():
        per_type = row["per_type"]
        view.add_row(SETTING_TITLES.get(setting, setting), _pct(row["exact"]), _pct(row["type_acc"]),
                     _pct(row["type_f1"]),
                     *(_pct(per_type.get(kind, {}).get("exact")) for kind in ("click", "type_and_submit",
                                                                                 "terminate")),
                     str(row["n"]))
    console.print(view)
    parts = [f"{name} {'n/a' if value is None else f'{value:+.0%}'}" for name, value in improvement.items()]
    console.print("Shop-R1 relative to SFT: " + ", ".join(parts) + " (paper, 3B: exact +65%)")


def demo(
    out: Annotated[Path, typer.Option("--out", help="Output directory; a rerun reuses its finished stages.",
                                      file_okay=False)] = Path("demo-out"),
    size: Annotated[str, typer.Option(help="small: about 15 minutes on 2 CPU cores; medium, large: for more "
                                           "time or a GPU; tiny: a smoke test.")] = "small",
    model: Annotated[str, typer.Option(help="Base model spec.")] = DEFAULT_MODEL,
    seed: Annotated[int, typer.Option(help="Seed of the data, training and sampling.")] = 0,
    dtype: Annotated[str, typer.Option(help="Inference dtype: auto, float32 or bfloat16.")] = "auto",
    predict_batch_size: Annotated[int | None, typer.Option(
        help="Rows per generate call in the evaluations (default: the size's; raise it on a GPU).")] = None,
) -> None:
    """Reproduce the paper's comparison on the embedded world: zero-shot, SFT, SFT + RL (Binary), Shop-R1.

    Simulates shoppers, builds datasets, evaluates the untrained model, trains SFT, then GRPO with the
    binary reward and with the Shop-R1 rewards from the same SFT checkpoint and step budget, and evaluates
    all four on the same held-out users. Writes comparison.json, summary.json and report/ (Markdown, PNG).
    """
    from shop_r1.demo import DemoConfig, relative_improvement, run_demo

    config = DemoConfig(size=size, model=model, seed=seed, dtype=dtype, predict_batch_size=predict_batch_size)
    started = time.perf_counter()
    table = run_demo(config, out, on_event=_on_event)
    print_comparison(table, relative_improvement(table))
    console.print(f"[green]done[/] in {time.perf_counter() - started:.0f} s: {escape(str(out / 'comparison.json'))}, "
                  f"{escape(str(out / 'report' / 'report.md'))} and plots in {escape(str(out / 'report'))}")
