"""`shop-r1 demo`: a frequency table, zero-shot, SFT, continued SFT, SFT + RL (Binary) and Shop-R1 on the
embedded defaults, in one command."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from shop_r1.models.embedded import DEFAULT_MODEL

console = Console(soft_wrap=True)


def _on_event(event: str, stage: Any, result: Any) -> None:
    stamp = time.strftime("%H:%M:%S")
    if event == "start":
        console.print(f"[bold cyan]{stamp} ▶ {stage.name}[/]: {escape(stage.description)}")
    elif event == "done":
        console.print(f"[green]{stamp} ✓ {stage.name}[/] ({result.seconds:.0f} s)")
    elif event == "cached":
        console.print(f"[dim]{stamp} ✓ {stage.name} (already done, reused)[/]")
    elif event == "reused":
        console.print(f"[dim]{stamp} ✓ {stage.name} (linked from another run with the same key)[/]")
    elif event == "failed":
        console.print(f"[bold red]{stamp} ✗ {stage.name} failed[/]")


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}"


def print_comparison(table: dict[str, Any], improvement: dict[str, float | None], split: str = "test") -> None:
    from shop_r1.demo import SETTING_TITLES, SETTINGS

    view = Table(title=f"Next-action prediction on held-out {split} shoppers (%, the paper's Table 2 layout)")
    for column in ("setting", "exact", "type acc", "type F1", "click exact", "type_and_submit exact",
                   "terminate exact", "n"):
        view.add_column(column, justify="right", no_wrap=column == "setting")
    for setting in (name for name in SETTINGS if name in table):
        row = table[setting]
        per_type = row["per_type"]
        view.add_row(SETTING_TITLES.get(setting, setting), _pct(row["exact"]), _pct(row["type_acc"]),
                     _pct(row["type_f1"]),
                     *(_pct(per_type.get(kind, {}).get("exact")) for kind in ("click", "type_and_submit",
                                                                                 "terminate")),
                     str(row["n"]))
    console.print(view)
    parts = [f"{name} {'n/a' if value is None else f'{value:+.0%}'}" for name, value in improvement.items()]
    console.print("Shop-R1 relative to SFT: " + ", ".join(parts) + " (paper, 3B: exact +65%)")


def print_significance(table: dict[str, Any], points: dict[str, Any]) -> None:
    from shop_r1.demo import PAIRED_AGAINST, SIGNIFICANCE_METRICS, collapse_sentences, significance_sentence

    for metric in SIGNIFICANCE_METRICS:
        for other in PAIRED_AGAINST:
            if f"shop_r1_minus_{other}" in table.get("paired", {}):
                console.print(significance_sentence(table["paired"], points, other, metric))
    for sentence in collapse_sentences(table):
        console.print(f"[yellow]{sentence}[/]")


def demo(
    out: Annotated[Path, typer.Option("--out", help="Output directory; a rerun reuses its finished stages.",
                                      file_okay=False)] = Path("demo-out"),
    size: Annotated[str, typer.Option(help="small: about 12 minutes on 2 CPU cores with native bf16, 40 without; "
                                           "cpu: small with the recipe chosen on validation and 300 scored "
                                           "steps (one seed of the quality protocol); medium, large: for "
                                           "more time or a GPU; tiny: a smoke test.")] = "small",
    model: Annotated[str, typer.Option(help="Base model spec.")] = DEFAULT_MODEL,
    seed: Annotated[int, typer.Option(help="Seed of the data, training and sampling.")] = 0,
    dtype: Annotated[str, typer.Option(help="Inference dtype: auto, float32 or bfloat16.")] = "auto",
    predict_batch_size: Annotated[int | None, typer.Option(
        help="Rows per generate call in the evaluations (default: the size's; raise it on a GPU).")] = None,
    split: Annotated[str, typer.Option(help="Held-out users to score on: test (report once per configuration) "
                                            "or validation (compare recipes there).")] = "test",
    no_persona: Annotated[bool, typer.Option("--no-persona", help="Leave the shopper's persona and the visit's "
                                             "goal out of every prompt (the paper's prompts carry none).")] = False,
    overrides: Annotated[list[str] | None, typer.Option(
        "--set", metavar="KEY=VALUE", help="Replace one of the size's recipe values, e.g. grpo_learning_rate=1e-4 "
                                           "or sft_mix=rebalanced (repeat for more).")] = None,
    reuse: Annotated[list[Path] | None, typer.Option(
        "--reuse", metavar="DIR", file_okay=False, help="Another demo output directory: its finished stages with "
        "the same configuration are linked in, not recomputed (repeat for more).")] = None,
) -> None:
    """Reproduce the paper's comparison on the embedded world, with two baselines the paper lacks.

    Simulates shoppers, builds datasets (train, validation and test users), fits a frequency table,
    evaluates the untrained model, trains SFT, then GRPO with the binary reward and with the Shop-R1
    rewards from the same SFT checkpoint and step budget, and SFT continued for as many trained
    sequences; scores all six on the same held-out users and prints the paired 95% interval of Shop-R1
    minus each. Writes comparison.json, summary.json and report/ (Markdown, PNG); with --split
    validation, comparison_validation.json, summary_validation.json and report_validation/.
    """
    import json

    from shop_r1.demo import DemoConfig, parse_override, relative_improvement, run_demo

    config = DemoConfig(size=size, model=model, seed=seed, dtype=dtype, predict_batch_size=predict_batch_size,
                        split=split, persona=not no_persona,
                        overrides=dict(parse_override(item) for item in overrides or []))
    started = time.perf_counter()
    table = run_demo(config, out, on_event=_on_event, reuse_from=reuse or [])
    print_comparison(table, relative_improvement(table), split)
    tag = "" if split == "test" else "_validation"
    print_significance(table, json.loads((out / f"summary{tag}.json").read_text())["paired_difference"])
    report = out / f"report{tag}"
    console.print(f"[green]done[/] in {time.perf_counter() - started:.0f} s: "
                  f"{escape(str(out / f'comparison{tag}.json'))}, {escape(str(report / 'report.md'))} and plots in "
                  f"{escape(str(report))}")
