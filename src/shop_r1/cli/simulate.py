"""`shop-r1 simulate` and `shop-r1 abtest`: closed-loop visits of the embedded store (docs/simulation.md).

    shop-r1 simulate --model runs/grpo --shoppers 200 --out sims.jsonl
    shop-r1 simulate --model world --shoppers 200 --out world.jsonl          # the world's own shoppers
    shop-r1 abtest --model runs/grpo --variant-b buy_now_button=false --shoppers 300 --out ab/

The commands only parse options, build the driver and draw the progress bar; the work is in
`shop_r1.simulation`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from shop_r1.cli.options import check_inference_dtype
from shop_r1.errors import ShopR1Error
from shop_r1.models.embedded import DEFAULT_MODEL

__all__ = ["abtest", "simulate"]

console = Console(soft_wrap=True)
WORLD = "world"

SimModelOption = Annotated[str, typer.Option(
    "--model", help="Model spec (embedded:smollm2-135m, a training run's output_dir, a model directory, a .gguf "
                    "file, a hub id), or `world` for the world's own rule-based shoppers. With --base-url it is "
                    "only recorded.")]
StoreOption = Annotated[list[str] | None, typer.Option(
    "--store-config", help="A StoreConfig field as KEY=VALUE (repeatable), e.g. results_per_page=8, "
                           "reviews_shown=3, buy_now_button=false.")]
ShoppersOption = Annotated[int, typer.Option("--shoppers", min=1, help="Simulated visits (per arm for abtest).")]
SeedOption = Annotated[int, typer.Option(help="Seed of shoppers, sampling and (unless --catalog-seed) the catalog.")]
MaxStepsOption = Annotated[int, typer.Option(min=1, help="Actions after which a visit is cut (end: step_cap).")]
RetriesOption = Annotated[int, typer.Option(min=0, help="Resamples of one step after an unusable completion "
                                                        "before the visit ends (end: invalid_output).")]
BatchOption = Annotated[int, typer.Option(min=1, help="Visits live at once: one batched generate call (or one "
                                                      "round of concurrent requests) per tick covers all.")]
BaseUrlOption = Annotated[str | None, typer.Option(help="An OpenAI-compatible API root (e.g. http://localhost:8000/"
                                                        "v1 of `shop-r1 serve`) instead of a local model.")]
ApiModelOption = Annotated[str | None, typer.Option(help="The `model` name sent to --base-url (default: --model).")]
ApiKeyEnvOption = Annotated[str, typer.Option(help="Environment variable holding the endpoint's API key.")]
PersonasOption = Annotated[Path | None, typer.Option(
    "--personas", help="JSONL of personas (a string or an object per line); visit i gets line i mod n, shown in "
                       "the prompt.", exists=True, dir_okay=False)]
WorldPersonasOption = Annotated[bool, typer.Option(
    "--world-personas", help="Show each visit the persona and goal the world draws for it (as `data synth` "
                             "writes them). Default: no persona, as in the paper's prompts.")]
TemperatureOption = Annotated[float, typer.Option(min=0.0, help="Sampling temperature (paper: 0.6; 0 = greedy).")]
MaxNewTokensOption = Annotated[int, typer.Option(min=1, help="Cap on generated tokens per sample.")]
ContextOption = Annotated[str, typer.Option(help="Pages shown in prompts, as in `data build`: full, latest or none.")]
MaxContextOption = Annotated[int, typer.Option(min=64, help="Prompt token budget, as in `data build` (local "
                                                            "models; an endpoint enforces its own).")]
DeviceOption = Annotated[str, typer.Option(help="auto, cpu or cuda.")]
DtypeOption = Annotated[str, typer.Option(help="auto (float32 on CPU, bfloat16 on CUDA), float32 or bfloat16.")]
ThreadsOption = Annotated[int | None, typer.Option(min=1, help="CPU threads for torch (default: torch's choice).")]
ProductsOption = Annotated[int, typer.Option(min=12, help="Catalog size (as `data synth --products`).")]
CatalogSeedOption = Annotated[int | None, typer.Option(help="Catalog seed (default: --seed, as `data synth`).")]
SharedPrefillOption = Annotated[bool, typer.Option(
    "--shared-prefill/--no-shared-prefill", help="Prefill each distinct prompt of a tick once, and the "
                                                 "prompts' common opening (the system prompt) once for the run "
                                                 "(local models): visits without personas share their first "
                                                 "prompt.")]


class _Bar:
    """A rich progress bar per run: visits done, steps/s and the live action mix."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[rate]} steps/s"), TextColumn("{task.fields[mix]}"),
                                 TimeElapsedColumn(), console=console, transient=False)
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> _Bar:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)  # type: ignore[arg-type]

    def callback(self, name: str):  # type: ignore[no-untyped-def]
        def update(state) -> None:  # type: ignore[no-untyped-def]
            if name not in self.tasks:
                self.tasks[name] = self.progress.add_task(name, total=state.total, rate="--", mix="")
            self.progress.update(self.tasks[name], completed=state.done, rate=f"{state.steps_per_second:.2f}",
                                 mix=state.mix())
        return update


def _prompt_and_personas(context: str, max_context_tokens: int, personas: Path | None, world_personas: bool):
    from shop_r1.prompts import CONTEXT_MODES, PromptConfig
    from shop_r1.simulation.shoppers import load_personas

    if context not in CONTEXT_MODES:
        raise typer.BadParameter(f"must be one of {', '.join(CONTEXT_MODES)}", param_hint="--context")
    if personas is not None and world_personas:
        raise typer.BadParameter("give --personas or --world-personas, not both", param_hint="--personas")
    mode = "file" if personas is not None else "world" if world_personas else "none"
    loaded = load_personas(personas) if personas is not None else ()
    prompt = PromptConfig(context=context, max_context_tokens=max_context_tokens,  # type: ignore[arg-type]
                          include_persona=mode != "none")
    return prompt, mode, loaded


def _simulation_config(context: str, max_context_tokens: int, personas: Path | None, world_personas: bool,
                       **fields: Any):
    """The run's `SimulationConfig` (and its prompt settings); a bad value is a one-line error."""
    from shop_r1.simulation.config import SimulationConfig

    prompt, mode, loaded = _prompt_and_personas(context, max_context_tokens, personas, world_personas)
    try:
        config = SimulationConfig(prompt=prompt, persona_mode=mode, personas=loaded, **fields)
    except ValueError as err:
        raise ShopR1Error(str(err)) from None
    return config, prompt


@contextlib.contextmanager
def _driver(model: str, prompt, *, base_url: str | None, api_model: str | None, api_key_env: str, batch_size: int,
            temperature: float, max_new_tokens: int, seed: int, device: str, dtype: str,
            num_threads: int | None, shared_prefill: bool = True) -> Iterator[tuple[Any, dict[str, Any]]]:
    """The driver for `--model` (`None` for `world`) and the settings recorded beside the output."""
    if model == WORLD and base_url is None:
        yield None, {"model": WORLD}
        return
    from shop_r1.prompts import chat_token_counter
    from shop_r1.simulation.drivers import ModelDriver, SharedPrefillGenerator

    settings: dict[str, Any] = {"model": model, "temperature": temperature, "max_new_tokens": max_new_tokens}
    if base_url is not None:
        from shop_r1.simulation.endpoint import EndpointGenerator

        settings.update(backend="endpoint", base_url=base_url, api_model=api_model or model)
        with EndpointGenerator(base_url, api_model or model, api_key=os.environ.get(api_key_env) or None,
                               concurrency=batch_size, temperature=temperature, max_tokens=max_new_tokens,
                               seed=seed) as gen:
            yield ModelDriver(gen, prompt), settings
        return
    if device not in ("auto", "cpu", "cuda"):
        raise typer.BadParameter("must be auto, cpu or cuda", param_hint="--device")
    check_inference_dtype(dtype)
    from shop_r1.evaluation.generation import GenerationSettings, HFGenerator
    from shop_r1.models.inference import load_for_inference

    if num_threads is not None:
        import torch

        torch.set_num_threads(num_threads)
    generation = GenerationSettings(max_new_tokens=max_new_tokens, temperature=temperature or 1.0,
                                    greedy=temperature == 0, seed=seed)
    settings.update(backend="hf", **({"dtype": dtype} if dtype != "auto" else {}))
    with console.status(f"loading {escape(model)}"):
        loaded, tokenizer = load_for_inference(model, device=device, dtype=dtype)
    generator: Any = HFGenerator(loaded, tokenizer, generation, share_prefix=shared_prefill)
    if shared_prefill:
        generator = SharedPrefillGenerator(generator)
    yield ModelDriver(generator, prompt, chat_token_counter(tokenizer)), settings


def _print_summary(summary: dict[str, Any], out: Path) -> None:
    run = summary["this_run"]
    ends = ", ".join(f"{k} {v}" for k, v in summary["ends"].items()) or "none"
    failures = ", ".join(f"{k} {v}" for k, v in summary["failures"].items()) or "none"
    console.print(f"[green]wrote[/] {summary['visits']} visits to {escape(str(out))} ({run['visits']} this run, "
                  f"{run['already_done']} already there; {summary['steps']} steps, {summary['retries']} retries); "
                  f"endings: {ends}; failed samples: {failures}; {run['visits_per_second']:.3f} visits/s, "
                  f"{run['steps_per_second']:.2f} steps/s", highlight=False)
    if summary["visits_without_steps"]:
        from shop_r1.simulation.output import failed_path

        console.print(f"{summary['visits_without_steps']} visits ended before any valid action; they are in "
                      f"{escape(str(failed_path(out)))}", highlight=False)


def simulate(
    out: Annotated[Path, typer.Option("--out", help="Sessions file (JSONL, native schema); an existing one is "
                                                    "resumed.", dir_okay=False)],
    shoppers: ShoppersOption = 100,
    model: SimModelOption = DEFAULT_MODEL,
    store_config: StoreOption = None,
    seed: SeedOption = 0,
    max_steps: MaxStepsOption = 30,
    max_retries: RetriesOption = 2,
    batch_size: BatchOption = 8,
    base_url: BaseUrlOption = None,
    api_model: ApiModelOption = None,
    api_key_env: ApiKeyEnvOption = "OPENAI_API_KEY",
    personas: PersonasOption = None,
    world_personas: WorldPersonasOption = False,
    temperature: TemperatureOption = 0.6,
    max_new_tokens: MaxNewTokensOption = 128,
    context: ContextOption = "full",
    max_context_tokens: MaxContextOption = 32768,
    device: DeviceOption = "auto",
    dtype: DtypeOption = "auto",
    num_threads: ThreadsOption = None,
    products: ProductsOption = 600,
    catalog_seed: CatalogSeedOption = None,
    shared_prefill: SharedPrefillOption = True,
) -> None:
    """Let a model shop the embedded store: N visits, each step prompted exactly as in training; resumable."""
    from shop_r1.simulation.config import parse_store_config
    from shop_r1.simulation.drivers import WorldDriver
    from shop_r1.simulation.loop import simulate as run

    config, prompt = _simulation_config(context, max_context_tokens, personas, world_personas, shoppers=shoppers,
                                        seed=seed, store=parse_store_config(store_config or []), max_steps=max_steps,
                                        max_retries=max_retries, batch_size=batch_size, n_products=products,
                                        catalog_seed=catalog_seed)
    with _driver(model, prompt, base_url=base_url, api_model=api_model, api_key_env=api_key_env,
                 batch_size=batch_size, temperature=temperature, max_new_tokens=max_new_tokens, seed=seed,
                 device=device, dtype=dtype, num_threads=num_threads, shared_prefill=shared_prefill) \
            as (driver, settings), _Bar() as bar:
        result = run(config, driver or WorldDriver(), out, settings=settings, on_progress=bar.callback("simulating"))
    _print_summary(result.summary, out)


def abtest(
    out: Annotated[Path, typer.Option("--out", help="Output directory (abtest.json, report.md, each arm's "
                                                    "sessions); an existing one is resumed.", file_okay=False)],
    variant_a: Annotated[list[str] | None, typer.Option("--variant-a", help="StoreConfig KEY=VALUE of arm A "
                                                                            "(repeatable; default: the defaults).")]
    = None,
    variant_b: Annotated[list[str] | None, typer.Option("--variant-b", help="StoreConfig KEY=VALUE of arm B "
                                                                            "(repeatable).")] = None,
    shoppers: ShoppersOption = 200,
    model: SimModelOption = DEFAULT_MODEL,
    seed: SeedOption = 0,
    max_steps: MaxStepsOption = 30,
    max_retries: RetriesOption = 2,
    batch_size: BatchOption = 8,
    base_url: BaseUrlOption = None,
    api_model: ApiModelOption = None,
    api_key_env: ApiKeyEnvOption = "OPENAI_API_KEY",
    personas: PersonasOption = None,
    world_personas: WorldPersonasOption = False,
    temperature: TemperatureOption = 0.6,
    max_new_tokens: MaxNewTokensOption = 128,
    context: ContextOption = "full",
    max_context_tokens: MaxContextOption = 32768,
    device: DeviceOption = "auto",
    dtype: DtypeOption = "auto",
    num_threads: ThreadsOption = None,
    products: ProductsOption = 600,
    catalog_seed: CatalogSeedOption = None,
    shared_prefill: SharedPrefillOption = True,
    resamples: Annotated[int, typer.Option(min=100, help="Bootstrap resamples of the intervals.")] = 1000,
) -> None:
    """Compare two store variants: the simulator's effect (B - A) beside the world shoppers' true effect."""
    from shop_r1.simulation.abtest import run_abtest
    from shop_r1.simulation.config import parse_store_config

    a, b = parse_store_config(variant_a or []), parse_store_config(variant_b or [])
    if a == b:
        raise ShopR1Error("--variant-a and --variant-b describe the same store; change at least one field")
    config, prompt = _simulation_config(context, max_context_tokens, personas, world_personas, shoppers=shoppers,
                                        seed=seed, max_steps=max_steps, max_retries=max_retries,
                                        batch_size=batch_size, n_products=products, catalog_seed=catalog_seed)
    with _driver(model, prompt, base_url=base_url, api_model=api_model, api_key_env=api_key_env,
                 batch_size=batch_size, temperature=temperature, max_new_tokens=max_new_tokens, seed=seed,
                 device=device, dtype=dtype, num_threads=num_threads, shared_prefill=shared_prefill) \
            as (driver, settings), _Bar() as bar:
        result = run_abtest(config, a, b, out, driver=driver, settings=settings, n_resamples=resamples,
                            on_arm=bar.callback)
    purchase = result["recovery"]["purchase_rate"]
    sim, world = result["simulator"]["difference"]["purchase_rate"], result["world"]["difference"]["purchase_rate"]
    console.print(f"purchase rate B - A: simulator {sim['estimate']:+.1%} [{sim['low']:+.1%}, {sim['high']:+.1%}], "
                  f"world (true) {world['estimate']:+.1%} [{world['low']:+.1%}, {world['high']:+.1%}]; sign "
                  f"{'recovered' if purchase['sign_recovered'] else 'NOT recovered'}", highlight=False)
    console.print(f"[green]wrote[/] {escape(str(out / 'abtest.json'))} and {escape(str(out / 'report.md'))}")
