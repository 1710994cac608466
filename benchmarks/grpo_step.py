"""What the self-certainty rationale reward costs per GRPO step (target: <= 10% time, <= 10% memory).

Two `ShopR1GRPOTrainer`s on the same model and prompts, one computing s(r) (`reward_mode shop_r1`) and
one not (`no_self_certainty`), take turns, one step each. With the default learning rate 0 and the same
seed before every step, both sample identical rollouts, so they differ only in the self-certainty work
(the rationale mask and the per-token statistics). For comparison, the Intuitor TRL trainer runs a full
extra forward and materialises (B, T, V) logits.

Reported per variant: the median of TRL's `step_time` (generation + loss + backward, without the
optimizer step), the generation time inside it, and the peak memory of the step above its start
(process RSS sampled every 2 ms on CPU; `max_memory_allocated` on CUDA), plus the with/without ratios.
On a shared CPU those end-to-end numbers carry a few percent of noise either way, so the time spent
inside the self-certainty code itself (capture hooks, rationale masks, any policy pass run for it) is
also timed directly and reported as a fraction of the step without it.

By default every generated token is scored (`--mask all`), an upper bound on the work of any real
rationale; `--mask rationale` uses the real rationale mask (zero-shot models rarely write one).

    python benchmarks/grpo_step.py                       # embedded SmolLM2-135M, OPeRA prompts, 3 rounds
    python benchmarks/grpo_step.py --source forward --shared-pass   # s(r) in TRL's old-log-prob pass (as with vLLM)
    python benchmarks/grpo_step.py --source forward      # s(r) from a policy pass of its own (worst case)
    python benchmarks/grpo_step.py --model runs/demo/sft --rounds 5 --json out.json
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import json
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback, set_seed

REPO = Path(__file__).resolve().parents[1]
OPERA = REPO / "tests" / "data" / "opera-test-actions" / "actions.jsonl"  # in the repository (CC-BY-4.0)


class SelfCertaintyTimer:
    """Wall time spent in the self-certainty code, counted once when calls nest (a policy pass runs the hook)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._depth = 0

    def wrap(self, function: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._depth += 1
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self.seconds += time.perf_counter() - start

        return timed

    def install(self, mask: str) -> None:
        from shop_r1.training import certainty, trainer

        certainty.GenerationCapture._hook = self.wrap(certainty.GenerationCapture._hook)
        certainty.ForwardCapture._hook = self.wrap(certainty.ForwardCapture._hook)
        cls = trainer.ShopR1GRPOTrainer
        cls._policy_pass_self_certainty = self.wrap(cls._policy_pass_self_certainty)
        if mask == "all":
            cls._rationale_masks = self.wrap(lambda self, ids: [[True] * len(row) for row in ids])
        else:
            cls._rationale_masks = self.wrap(cls._rationale_masks)


class PeakMemory(TrainerCallback):
    """Peak memory between the start of a training step and its optimizer step, above the level at the start."""

    def __init__(self) -> None:
        self.peaks: list[float] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start = 0.0
        self._peak = 0.0

    @staticmethod
    def _release_free_memory() -> None:
        """Hand freed heap pages back to the OS, so the step's starting RSS holds no memory cached by glibc from
        the other variant's step (otherwise the measured increase depends on who ran before)."""
        libc = ctypes.util.find_library("c")
        if libc is not None and hasattr(ctypes.CDLL(libc), "malloc_trim"):
            ctypes.CDLL(libc).malloc_trim(0)

    @staticmethod
    def _rss() -> float:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    def _sample(self) -> None:
        while not self._stop.wait(0.002):
            self._peak = max(self._peak, self._rss())

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self._start = torch.cuda.memory_allocated() / 2**20
            return
        self._release_free_memory()
        self._start = self._peak = self._rss()
        self._stop.clear()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def on_pre_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
            self.peaks.append(torch.cuda.max_memory_allocated() / 2**20 - self._start)
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peaks.append(max(self._peak, self._rss()) - self._start)


def ensure_dataset(dataset_dir: Path | None) -> Path:
    """The given datasets, or RL prompts built from the OPeRA fixture (history only) in a temp directory."""
    if dataset_dir is not None:
        return dataset_dir
    from shop_r1.data.build import BuildConfig, build_datasets
    from shop_r1.data.opera import import_opera
    from shop_r1.models.tokenizers import load_tokenizer
    from shop_r1.prompts import PromptConfig, chat_token_counter

    out = Path(tempfile.mkdtemp(prefix="shop-r1-bench-"))
    sessions, _ = import_opera(OPERA)
    config = BuildConfig(prompt=PromptConfig(context="none", max_context_tokens=1024))
    build_datasets(sessions, out, config, chat_token_counter(load_tokenizer()))
    return out


def make_trainer(mode: str, options: argparse.Namespace, dataset_dir: Path, workdir: Path) -> Any:
    from trl import GRPOConfig

    from shop_r1.training.configs import GRPODataArguments, ModelArguments, RewardArguments, RolloutArguments
    from shop_r1.training.grpo import build_trainer

    training_args = GRPOConfig(
        output_dir=str(workdir / mode), max_steps=1, per_device_train_batch_size=options.prompts * options.generations,
        num_generations=options.generations, max_completion_length=options.max_completion_length,
        temperature=0.6, beta=0.001, learning_rate=options.learning_rate, lr_scheduler_type="constant",
        num_iterations=2 if options.shared_pass else 1,
        bf16=torch.cuda.is_available(), activation_checkpointing=False, logging_steps=1, save_strategy="no",
        report_to="none", seed=options.seed, disable_tqdm=True,
    )
    trainer = build_trainer(
        ModelArguments(model_name_or_path=options.model),
        GRPODataArguments(dataset_dir=str(dataset_dir), max_train_samples=options.prompts,
                          max_prompt_tokens=options.max_prompt_tokens),
        RewardArguments(reward_mode=mode),
        RolloutArguments(self_certainty_source=options.source, save_rollouts=False),
        training_args,
    )
    memory = PeakMemory()
    trainer.add_callback(memory)
    generation: list[float] = []
    inner = trainer._generate

    def timed_generate(prompts: list) -> tuple:
        start = time.perf_counter()
        try:
            return inner(prompts)
        finally:
            generation.append(time.perf_counter() - start)

    trainer._generate = timed_generate
    return trainer, memory, generation


def run(options: argparse.Namespace) -> dict[str, Any]:
    dataset_dir = ensure_dataset(options.dataset_dir)
    timer = SelfCertaintyTimer()
    timer.install(options.mask)
    overhead: list[float] = []
    workdir = Path(tempfile.mkdtemp(prefix="shop-r1-bench-runs-"))
    variants = {"with": "shop_r1", "without": "no_self_certainty"}
    built = {name: make_trainer(mode, options, dataset_dir, workdir) for name, mode in variants.items()}
    times: dict[str, list[float]] = {name: [] for name in variants}
    lengths: dict[str, list[float]] = {name: [] for name in variants}
    for round_index in range(options.rounds + 1):  # round 0 warms up both and is not counted
        order = list(variants) if round_index % 2 == 0 else list(reversed(variants))  # alternate who goes first
        for name in order:
            trainer, _, _ = built[name]
            set_seed(options.seed + round_index)
            before = timer.seconds
            trainer._step = 0  # with --shared-pass (2 iterations per generation), generate on every call
            trainer.train()
            if name == "with" and round_index > 0:
                overhead.append(timer.seconds - before)
            log = trainer.state.log_history[0]
            if round_index > 0:
                times[name].append(log["step_time"])
                lengths[name].append(log["completions/mean_length"])
    result: dict[str, Any] = {"model": options.model, "device": "cuda" if torch.cuda.is_available() else "cpu",
                              "source": options.source, "mask": options.mask, "rounds": options.rounds,
                              "shared_pass": options.shared_pass,
                              "completions_per_step": options.prompts * options.generations}
    for name in variants:
        trainer, memory, generation = built[name]
        result[name] = {
            "step_time_s": statistics.median(times[name]),
            "generation_s": statistics.median(generation[1:]),
            "peak_step_memory_mib": statistics.median(memory.peaks[1:]),
            "mean_completion_length": statistics.fmean(lengths[name]),
        }
    result["step_time_ratio"] = result["with"]["step_time_s"] / result["without"]["step_time_s"]
    # Each round runs both variants back to back, so a per-round ratio cancels slow phases of a shared machine.
    result["paired_step_time_ratio"] = statistics.median(w / o for w, o in zip(times["with"], times["without"],
                                                                                strict=True))
    result["self_certainty_s"] = statistics.median(overhead)
    result["self_certainty_fraction"] = result["self_certainty_s"] / result["without"]["step_time_s"]
    result["peak_memory_ratio"] = result["with"]["peak_step_memory_mib"] / result["without"]["peak_step_memory_mib"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="embedded:smollm2-135m")
    parser.add_argument("--dataset-dir", type=Path, default=None, help="`shop-r1 data build` output (default: "
                        "built from the OPeRA fixture)")
    parser.add_argument("--rounds", type=int, default=3, help="measured steps per variant (after one warm-up)")
    parser.add_argument("--prompts", type=int, default=2, help="prompts per step")
    parser.add_argument("--generations", type=int, default=4, help="completions per prompt")
    parser.add_argument("--max-completion-length", type=int, default=64)
    parser.add_argument("--max-prompt-tokens", type=int, default=768)
    parser.add_argument("--source", default="auto", choices=["auto", "generation", "forward"])
    parser.add_argument("--shared-pass", action="store_true",
                        help="num_iterations 2: TRL runs its old-log-prob pass (as it does with vLLM), which the "
                             "forward source shares")
    parser.add_argument("--mask", default="all", choices=["all", "rationale"],
                        help="score every generated token (upper bound) or only the real rationale")
    parser.add_argument("--learning-rate", type=float, default=0.0, help="0 keeps both variants' rollouts identical")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="also write the result here")
    options = parser.parse_args()
    result = run(options)
    print(json.dumps(result, indent=2))
    print(f"self-certainty step-time ratio: {result['step_time_ratio']:.3f} "
          f"(paired per round: {result['paired_step_time_ratio']:.3f})  "
          f"peak-memory ratio: {result['peak_memory_ratio']:.3f}  "
          f"time inside the self-certainty code: {100 * result['self_certainty_fraction']:.2f}% of a step  "
          f"({result['device']}, source {options.source}, mask {options.mask}, shared pass {options.shared_pass})")
    if options.json is not None:
        options.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
