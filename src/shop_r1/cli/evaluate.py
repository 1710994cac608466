"""`shop-r1 predict` and `shop-r1 evaluate`: generate predictions once, score and report them many times.

    shop-r1 predict --model runs/sft --data datasets/rl_test.jsonl --out runs/sft/predictions.jsonl
    shop-r1 evaluate runs/sft/predictions.jsonl runs/grpo/predictions.jsonl --names sft,shop_r1 --out report/
    shop-r1 baseline sessions.jsonl datasets/ --out runs/markov/predictions.jsonl

The lead registers both functions on the root app (`app.command("predict")(predict)`, ...).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from shop_r1.cli.options import ModelSpecOption, RougeTokenizerOption, check_inference_dtype
from shop_r1.errors import ShopR1Error
from shop_r1.models.embedded import DEFAULT_MODEL

__all__ = ["baseline", "evaluate", "predict"]

console = Console(soft_wrap=True)


class _RateColumn(ProgressColumn):
    """Examples per second since the start (rich's own speed needs updates less than 30 s apart; a batch of
    long prompts on CPU can take longer than that)."""

    def render(self, task) -> Text:  # type: ignore[no-untyped-def]
        elapsed = task.finished_time if task.finished else task.elapsed
        rate = task.completed / elapsed if elapsed and task.completed else None
        return Text(f"{rate:.2f} ex/s" if rate else "-- ex/s", style="cyan")


def predict(
    data: Annotated[Path, typer.Option("--data", help="RL dataset (rl_test.jsonl from `shop-r1 data build`).",
                                       exists=True, dir_okay=False, readable=True)],
    out: Annotated[Path, typer.Option("--out", help="Predictions file (JSONL); an existing one is resumed.",
                                      dir_okay=False)],
    model: ModelSpecOption
    = DEFAULT_MODEL,
    batch_size: Annotated[int, typer.Option(help="Prompts per generate call.", min=1)] = 8,
    max_new_tokens: Annotated[int, typer.Option(help="Cap on generated tokens per step.", min=1)] = 128,
    temperature: Annotated[float, typer.Option(help="Sampling temperature (paper: 0.6).", min=0.0)] = 0.6,
    top_p: Annotated[float, typer.Option(help="Nucleus sampling mass (1 = off).", min=0.0, max=1.0)] = 1.0,
    greedy: Annotated[bool, typer.Option("--greedy", help="Argmax decoding instead of sampling.")] = False,
    seed: Annotated[int, typer.Option(help="Base seed of the sampling.")] = 0,
    backend: Annotated[str, typer.Option(help="auto: vLLM when installed and a GPU is visible, else transformers; "
                                              "hf; vllm.")] = "auto",
    device: Annotated[str, typer.Option(help="auto, cpu or cuda (transformers backend).")] = "auto",
    dtype: Annotated[str, typer.Option(help="auto (float32 on CPU, bfloat16 on CUDA), float32 or bfloat16 "
                                            "(transformers backend; recorded, so a resume must use the same).")]
    = "auto",
    limit: Annotated[int | None, typer.Option(help="Only the first N dataset rows (smoke tests).", min=1)] = None,
    num_threads: Annotated[int | None, typer.Option(help="CPU threads for torch (default: torch's choice). On a "
                                                         "busy machine 1 can be many times faster.", min=1)] = None,
) -> None:
    """Generate the next action and rationale for every step of an RL dataset; resumable."""
    from shop_r1.data.io import refuse_same_file
    from shop_r1.evaluation.generation import BACKENDS, GenerationSettings, vllm_available
    from shop_r1.evaluation.predict import load_rl_rows, pending_rows
    from shop_r1.evaluation.predict import predict as run_predict
    from shop_r1.evaluation.predictions_io import repair_tail

    if backend not in BACKENDS:
        raise typer.BadParameter(f"must be one of {', '.join(BACKENDS)}", param_hint="--backend")
    if device not in ("auto", "cpu", "cuda"):
        raise typer.BadParameter("must be auto, cpu or cuda", param_hint="--device")
    check_inference_dtype(dtype)
    try:
        settings = GenerationSettings(max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p,
                                      greedy=greedy, seed=seed)
    except ValueError as err:
        raise typer.BadParameter(str(err)) from None
    chosen = ("vllm" if vllm_available() else "hf") if backend == "auto" else backend
    generation = {"model": model, "backend": chosen, **settings.to_dict()}
    if dtype != "auto":  # recorded only when chosen, so files of default runs stay comparable
        generation["dtype"] = dtype

    refuse_same_file(out, data)  # predictions are appended to OUT: never to the dataset itself
    rows = load_rl_rows(data, limit)
    # Repair and check a file to resume before loading the model: a mismatch should not cost a model load.
    repaired = repair_tail(out)
    if repaired:
        console.print(f"[yellow]{escape(str(out))}: {repaired}[/]")
    todo, done = pending_rows(rows, out, generation)
    if not todo:
        console.print(f"all {len(rows)} steps are already in {escape(str(out))}; nothing to do")
        return

    if num_threads is not None:
        import torch

        torch.set_num_threads(num_threads)
    generator = _make_generator(model, chosen, settings, device, dtype)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), _RateColumn(),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=False) as progress:
        task = progress.add_task("predicting", total=len(todo))
        summary = run_predict(rows, generator, out, generation=generation, batch_size=batch_size,
                              on_batch=lambda n: progress.advance(task, n))
    console.print(
        f"[green]wrote[/] {summary.written} predictions to {escape(str(out))} "
        f"({summary.examples_per_second:.2f} examples/s; {done} already there; "
        f"{summary.parse_failures} unparseable); score them with `shop-r1 evaluate {escape(str(out))}`"
    )


def _make_generator(model: str, backend: str, settings, device: str, dtype: str):  # type: ignore[no-untyped-def]
    from shop_r1.evaluation.generation import HFGenerator, VLLMGenerator
    from shop_r1.models.checkpoints import resolve_model_dir
    from shop_r1.models.inference import load_for_inference

    with console.status(f"loading {escape(model)} ({backend})"):
        if backend == "vllm":
            return VLLMGenerator(resolve_model_dir(model), settings)
        loaded, tokenizer = load_for_inference(model, device=device, dtype=dtype)
        return HFGenerator(loaded, tokenizer, settings)


def _run_names(paths: list[Path], names: str | None) -> list[str]:
    if names is not None:
        chosen = [name.strip() for name in names.split(",")]
        if len(chosen) != len(paths) or not all(chosen):
            raise typer.BadParameter(f"give one non-empty name per predictions file ({len(paths)})",
                                     param_hint="--names")
        if len(set(chosen)) != len(chosen):
            raise typer.BadParameter("run names must be unique", param_hint="--names")
        return chosen
    # File stems, or parent/stem when stems repeat (runs/sft/predictions.jsonl, runs/grpo/predictions.jsonl).
    for candidate in ([p.stem for p in paths], [f"{p.parent.name}/{p.stem}" for p in paths]):
        if len(set(candidate)) == len(candidate):
            return candidate
    return [f"run{i + 1}" for i in range(len(paths))]


def evaluate(
    predictions: Annotated[list[Path], typer.Argument(help="Predictions files of `shop-r1 predict`; the first is "
                                                           "the baseline of the comparison.",
                                                      exists=True, dir_okay=False, readable=True)],
    out: Annotated[Path | None, typer.Option("--out", help="Directory for metrics.json, report.md and PNG "
                                                           "figures (without it: terminal tables only).",
                                             file_okay=False)] = None,
    names: Annotated[str | None, typer.Option("--names", help="Comma-separated run names, one per file "
                                                              "(default: file names).")] = None,
    text_threshold: Annotated[float, typer.Option(help="ROUGE-L at which a type_and_submit text matches.",
                                                  min=0.0, max=1.0)] = 0.75,
    rouge_tokenizer: RougeTokenizerOption = "unicode",
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples (0: no intervals).", min=0)] = 1000,
    bootstrap_unit: Annotated[str, typer.Option(help="What the bootstrap resamples: session or step.")]
    = "session",
    confidence: Annotated[float, typer.Option(help="Interval coverage.", min=0.5, max=0.999)] = 0.95,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
    no_plots: Annotated[bool, typer.Option("--no-plots", help="Skip the PNG figures.")] = False,
) -> None:
    """Score predictions files (exact / type accuracy, macro-F1, per type, rationale) with bootstrap CIs."""
    from shop_r1.evaluation.predictions_io import load_predictions
    from shop_r1.evaluation.report import print_tables, write_report
    from shop_r1.evaluation.runs import MetricsConfig, evaluate_runs

    if bootstrap_unit not in ("session", "step"):
        raise typer.BadParameter("must be session or step", param_hint="--bootstrap-unit")
    run_names = _run_names(predictions, names)
    config = MetricsConfig(text_threshold=text_threshold, n_resamples=bootstrap, confidence=confidence,
                           seed=seed, unit=bootstrap_unit, rouge_tokenizer=rouge_tokenizer)  # type: ignore[arg-type]
    runs = {name: load_predictions(path) for name, path in zip(run_names, predictions, strict=True)}
    evaluation = evaluate_runs(runs, config, sources={n: str(p) for n, p in zip(run_names, predictions, strict=True)})
    print_tables(evaluation, console)
    if out is not None:
        try:
            written = write_report(evaluation, out, plots=not no_plots)
        except OSError as err:
            raise ShopR1Error(f"could not write the report to {out}: {err}") from err
        console.print(f"[green]wrote[/] {', '.join(escape(str(p)) for p in written.values())}")


def baseline(
    sessions: Annotated[Path, typer.Argument(help="The sessions file the datasets were built from.", exists=True,
                                             dir_okay=False, readable=True)],
    dataset_dir: Annotated[Path, typer.Argument(help="Output directory of `shop-r1 data build` (its manifest "
                                                     "says which users are train).", exists=True, file_okay=False)],
    out: Annotated[Path, typer.Option("--out", help="Predictions file (JSONL), scored like a model's.",
                                      dir_okay=False)],
    split: Annotated[str, typer.Option(help="Which RL rows to answer: test or validation.")] = "test",
) -> None:
    """The frequency-table baseline: the most frequent next action given the page kind and the previous
    action, fitted on the build's training users. What a language model must beat to have learned more."""
    import json

    from shop_r1.data.io import read_sessions, refuse_same_file, write_jsonl
    from shop_r1.evaluation.markov_baseline import build_baseline_predictions
    from shop_r1.evaluation.predict import load_rl_rows

    if split not in ("test", "validation"):
        raise typer.BadParameter("must be test or validation", param_hint="--split")
    manifest_path, rows_path = dataset_dir / "manifest.json", dataset_dir / f"rl_{split}.jsonl"
    for path in (manifest_path, rows_path):
        if not path.is_file():
            raise ShopR1Error(f"{path} is missing: build the datasets with `shop-r1 data build` first"
                              + (" (with --validation-fraction)" if split == "validation" else ""))
    refuse_same_file(out, sessions, manifest_path, rows_path)
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    table, rows = build_baseline_predictions(read_sessions(sessions), manifest, load_rl_rows(rows_path))
    write_jsonl(out, rows)
    console.print(f"{len(rows)} {split} steps answered by a table of {len(table.by_context)} contexts: "
                  f"{escape(str(out))}")
