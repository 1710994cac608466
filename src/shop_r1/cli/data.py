"""`shop-r1 data ...`: validate, import, build and describe session files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from shop_r1.errors import ShopR1Error

app = typer.Typer(
    help="Session files: validate, import OPeRA logs, build training datasets, show statistics.",
    no_args_is_help=True,
)
console = Console(soft_wrap=True)  # messages with file:line stay on one line for grep

SessionsArg = Annotated[Path, typer.Argument(help="Sessions file: JSONL (one session per line) or Parquet.",
                                             exists=True, dir_okay=False, readable=True)]
SkipInvalidOpt = Annotated[bool, typer.Option("--skip-invalid", help="Skip invalid records, report them at the end.")]


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=True)


def _report_problems(problems: list, label: str = "skipped") -> None:
    if not problems:
        return
    console.print(f"[yellow]{len(problems)} record(s) {label}:[/]")
    for problem in problems[:20]:
        console.print(f"  {escape(str(problem))}", highlight=False)
    if len(problems) > 20:
        console.print(f"  ... and {len(problems) - 20} more")


@app.command()
def validate(
    path: SessionsArg,
    all_problems: Annotated[bool, typer.Option("--all", help="Report every problem, not only the first.")] = False,
) -> None:
    """Check that a sessions file follows the schema; exit 1 at the first problem (or after all, with --all)."""
    from shop_r1.data.io import RecordProblem, iter_session_records

    problems: list[RecordProblem] = []
    sessions = steps = 0
    seen: set[str] = set()
    for number, item in iter_session_records(path):
        if not isinstance(item, RecordProblem) and item.session_id in seen:
            item = RecordProblem(str(path), number, item.session_id, "session_id", "duplicate session id")
        if isinstance(item, RecordProblem):
            problems.append(item)
            if not all_problems:
                break
            continue
        seen.add(item.session_id)
        sessions += 1
        steps += len(item.steps)
    if problems:
        for problem in problems:
            console.print(f"[red]invalid:[/] {escape(str(problem))}", highlight=False)
        if all_problems:
            console.print(f"{len(problems)} invalid record(s); {sessions} valid session(s)")
        raise typer.Exit(1)
    console.print(f"[green]ok:[/] {sessions} sessions, {steps} steps in {escape(str(path))}")


@app.command("import-opera")
def import_opera(
    source: Annotated[Path, typer.Argument(help="OPeRA action table (Parquet or JSONL rows).", exists=True,
                                           dir_okay=False)],
    out: Annotated[Path, typer.Argument(help="Output sessions file (.jsonl, or .parquet).")],
    users: Annotated[Path | None, typer.Option(help="OPeRA user table; its `survey` becomes each session's persona.",
                                               exists=True, dir_okay=False)] = None,
    skip_invalid: SkipInvalidOpt = False,
) -> None:
    """Import OPeRA shopping logs (click / input / terminate rows) into shop-r1 sessions."""
    from shop_r1.data.io import refuse_same_file, write_sessions
    from shop_r1.data.opera import import_opera as run_import
    from shop_r1.data.opera import read_personas

    refuse_same_file(out, source, users)
    personas = read_personas(users) if users else None
    sessions, report = run_import(source, personas=personas, skip_invalid=skip_invalid)
    if not sessions:
        raise ShopR1Error(f"{source}: no sessions with click, input or terminate actions")
    write_sessions(out, sessions)
    console.print(f"[green]wrote[/] {report.sessions} sessions, {report.steps} steps from {report.rows} rows "
                  f"to {escape(str(out))} (ordered by {report.ordered_by or 'file order'})")
    if report.skipped_types:
        kinds = ", ".join(f"{kind}: {n}" for kind, n in sorted(report.skipped_types.items()))
        console.print(f"skipped actions outside the Shop-R1 action space ({kinds})")
    if users:
        console.print(f"attached personas to {report.personas_attached} sessions")
    _report_problems(report.invalid)


@app.command()
def build(
    sessions_path: SessionsArg,
    outdir: Annotated[Path, typer.Argument(help="Directory for the SFT/RL datasets and manifest.json.",
                                           file_okay=False)],
    tokenizer: Annotated[str, typer.Option(help="Tokenizer that counts the token budget: embedded:smollm2-135m, "
                                                "a local model directory or .gguf file.")] = "embedded:smollm2-135m",
    max_context_tokens: Annotated[int, typer.Option(help="Token budget per prompt (paper: 32768).", min=64)] = 32768,
    context: Annotated[str, typer.Option(help="full: every page; latest: current page only; none: actions only.")]
    = "full",
    no_persona: Annotated[bool, typer.Option("--no-persona", help="Leave the shopper's persona out of prompts.")]
    = False,
    test_fraction: Annotated[float, typer.Option(help="Share of users (else sessions) held out for test.",
                                                 min=0.0, max=0.9)] = 0.2,
    validation_fraction: Annotated[float, typer.Option(help="Share of users (else sessions) held out for "
                                                       "validation (choose knobs here, not on test); 0 = no "
                                                       "validation files.", min=0.0, max=0.9)] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed of the split.")] = 0,
    rebalance_rl: Annotated[bool, typer.Option("--rebalance-rl", help="Subsample RL steps toward the paper's "
                                               "near-uniform action-type mix (click and type_and_submit each "
                                               "~10% more frequent than terminate).")] = False,
    skip_invalid: SkipInvalidOpt = False,
) -> None:
    """Build SFT (whole-session and per-step) and RL datasets with a train/(validation/)test split by user.

    The current page of a step is always shown whole; a step that cannot fit the budget even with every
    earlier page's HTML left out is skipped and counted (raise --max-context-tokens to keep it).
    """
    from shop_r1.data.build import BuildConfig, build_datasets
    from shop_r1.data.io import RecordProblem, read_sessions
    from shop_r1.models.tokenizers import load_tokenizer
    from shop_r1.prompts import CONTEXT_MODES, PromptConfig, chat_token_counter

    if context not in CONTEXT_MODES:
        raise typer.BadParameter(f"must be one of {', '.join(CONTEXT_MODES)}", param_hint="--context")
    if test_fraction + validation_fraction >= 1.0:
        raise typer.BadParameter("--test-fraction plus --validation-fraction must be below 1",
                                 param_hint="--validation-fraction")
    problems: list[RecordProblem] = []
    sessions = read_sessions(sessions_path, skip_invalid=skip_invalid, problems=problems)
    if not sessions:
        raise ShopR1Error(f"{sessions_path}: no valid sessions")
    config = BuildConfig(
        prompt=PromptConfig(context=context, max_context_tokens=max_context_tokens, include_persona=not no_persona),
        test_fraction=test_fraction,
        validation_fraction=validation_fraction,
        seed=seed,
        rebalance_rl=rebalance_rl,
    )
    counter = chat_token_counter(load_tokenizer(tokenizer))
    with _progress() as progress:
        task = progress.add_task("building prompts", total=len(sessions))
        report = build_datasets(sessions, outdir, config, counter, on_session=lambda: progress.advance(task))
    table = Table(title=f"datasets in {escape(str(outdir))} (split by {report.split_unit})")
    for column in ("split", "sessions", "users", "sft sessions", "sft steps", "rl steps", "truncated", "skipped"):
        table.add_column(column, justify="right")
    for split, c in report.splits.items():
        table.add_row(split, str(c.sessions), str(c.users), str(c.sft_sessions), str(c.sft_steps), str(c.rl_steps),
                      str(c.truncated_step_prompts + c.truncated_conversations),
                      str(c.skipped_too_long_steps + c.skipped_too_long_sessions))
    console.print(table)
    console.print(f"{report.total('truncated_step_prompts')} step prompts and "
                  f"{report.total('truncated_conversations')} conversations left older pages' HTML out to fit "
                  f"{max_context_tokens} tokens; {report.total('skipped_too_long_steps')} steps and "
                  f"{report.total('skipped_too_long_sessions')} sessions did not fit at all and were skipped.")
    if report.total('skipped_too_long_steps'):
        console.print("[yellow]Skipped steps are not in any dataset: their current page (which is never cut) "
                      "does not fit; raise --max-context-tokens to keep them.[/yellow]")
    _report_problems(problems)


@app.command()
def stats(
    path: SessionsArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print the statistics as JSON.")] = False,
    skip_invalid: SkipInvalidOpt = False,
) -> None:
    """Describe a sessions file: action-type mix, session lengths, element names, rationale coverage."""
    from shop_r1.data.io import RecordProblem, read_sessions
    from shop_r1.data.stats import session_stats

    problems: list[RecordProblem] = []
    result = session_stats(read_sessions(path, skip_invalid=skip_invalid, problems=problems))
    if as_json:
        print(json.dumps(result, indent=2))
        return
    summary = Table(title=f"{escape(str(path))}", show_header=False)
    summary.add_column("what")
    summary.add_column("value", justify="right")
    lengths = result["session_length"]
    rows = [
        ("sessions", result["sessions"]), ("users", result["users"]), ("steps", result["steps"]),
        ("sessions ending in terminate", result["sessions_ending_in_terminate"]),
        ("session length min / median / mean / max",
         f"{lengths['min']} / {lengths['median']:g} / {lengths['mean']:.1f} / {lengths['max']}"),
        ("distinct element names", result["distinct_element_names"]),
        ("steps with a rationale", f"{result['rationale_share']:.1%}"),
        ("steps with page HTML", f"{result['html_share']:.1%}"),
        ("sessions with a persona", result["sessions_with_persona"]),
    ]
    for what, value in rows:
        summary.add_row(what, str(value))
    console.print(summary)
    mix = Table(title="action types")
    for column in ("type", "steps", "share"):
        mix.add_column(column, justify="right")
    for kind, n in result["action_types"].items():
        mix.add_row(kind, str(n), f"{result['action_type_share'][kind]:.1%}")
    console.print(mix)
    hist = Table(title="session lengths (steps)")
    hist.add_column("steps", justify="right")
    hist.add_column("sessions", justify="right")
    hist.add_column("")
    peak = max(lengths["histogram"].values(), default=0) or 1
    for bucket, n in lengths["histogram"].items():
        hist.add_row(bucket, str(n), "█" * round(30 * n / peak))
    console.print(hist)
    names = Table(title="most frequent element names")
    names.add_column("name")
    names.add_column("steps", justify="right")
    for name, n in result["top_element_names"]:
        names.add_row(escape(name), str(n))
    console.print(names)
    _report_problems(problems)
