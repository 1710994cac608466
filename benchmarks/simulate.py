"""Benchmark: closed-loop simulation with all live visits batched per tick vs one visit at a time.

Runs `shop_r1.simulation.loop.simulate` twice with the same model, seed and visits: once with
`--batch-size` visits live at once (one batched `generate` per tick), once with one (a `generate` per
step). Greedy decoding, so both runs decode the same way and do comparable work; prints visits/s,
steps/s and samples/s of both and the ratio (target >= 4x).

    python benchmarks/simulate.py [--model tiny|embedded|DIR] [--visits 16] [--batch-size 16]
                                  [--max-new-tokens 64] [--max-retries 2] [--threads N] [--device cpu|cuda]
                                  [--shared-prefill]

An untrained model (`tiny`, and `embedded`, the untrained SmolLM2-135M-Instruct) rarely writes a valid
action, so its visits end on the home page after `--max-retries` resamples: the benchmark then times the
generation path (prompt building, batched generate, parsing, retries), not long visits. A trained model
directory gives real multi-step visits.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from shop_r1.evaluation.generation import GenerationSettings, HFGenerator
from shop_r1.models.embedded import DEFAULT_MODEL
from shop_r1.models.inference import load_for_inference
from shop_r1.prompts import PromptConfig, chat_token_counter
from shop_r1.simulation.config import SimulationConfig
from shop_r1.simulation.drivers import ModelDriver, SharedPrefillGenerator
from shop_r1.simulation.loop import simulate


def choose_model(choice: str) -> tuple[str, str]:
    if choice == "embedded":
        return "embedded SmolLM2-135M-Instruct (untrained)", DEFAULT_MODEL
    if choice == "tiny":
        return "tiny random Llama (2 layers, hidden 64)", "tiny-random:llama"
    return choice, choice


def run(model, tokenizer, args: argparse.Namespace, batch_size: int, out: Path) -> dict:
    prompt = PromptConfig(include_persona=False, max_context_tokens=args.max_context_tokens)
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens, greedy=True, seed=args.seed)
    generator = HFGenerator(model, tokenizer, settings, share_prefix=args.shared_prefill)
    # Shared prefill only pays off across rows of one batch; one visit at a time has nothing to share.
    shared = SharedPrefillGenerator(generator) if args.shared_prefill and batch_size > 1 else generator
    driver = ModelDriver(shared, prompt, chat_token_counter(tokenizer))
    config = SimulationConfig(shoppers=args.visits, seed=args.seed, max_steps=args.max_steps,
                              max_retries=args.max_retries, batch_size=batch_size, prompt=prompt)
    started = time.perf_counter()
    summary = simulate(config, driver, out).summary
    seconds = time.perf_counter() - started
    return {"batch_size": batch_size, "seconds": round(seconds, 2), "visits": summary["visits"],
            "steps": summary["steps"], "samples": summary["samples"], "ends": summary["ends"],
            "visits_per_second": round(summary["visits"] / seconds, 3),
            "steps_per_second": round(summary["steps"] / seconds, 3),
            "samples_per_second": round(summary["samples"] / seconds, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--visits", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--max-retries", type=int, default=2)
    parser.add_argument("--max-steps", type=int, default=30)
    parser.add_argument("--max-context-tokens", type=int, default=32768)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--shared-prefill", action="store_true",
                        help="Prefill each distinct prompt of a tick once, and the prompts' common opening once "
                             "(as the CLI does by default); one visit at a time never has a batch to share.")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    label, spec = choose_model(args.model)
    model, tokenizer = load_for_inference(spec, device=args.device)
    with tempfile.TemporaryDirectory(prefix="shop-r1-simbench-") as tmp:
        run(model, tokenizer, argparse.Namespace(**{**vars(args), "visits": 1}), 1, Path(tmp) / "warmup.jsonl")
        batched = run(model, tokenizer, args, args.batch_size, Path(tmp) / "batched.jsonl")
        single = run(model, tokenizer, args, 1, Path(tmp) / "single.jsonl")
    ratio = batched["visits_per_second"] / single["visits_per_second"] if single["visits_per_second"] else None
    print(json.dumps({"model": label, "device": args.device, "threads": torch.get_num_threads(),
                      "shared_prefill": args.shared_prefill,
                      "max_new_tokens": args.max_new_tokens, "batched": batched, "one_at_a_time": single,
                      "speedup_visits_per_second": round(ratio, 2) if ratio else None}, indent=2))
    verdict = "meets" if ratio and ratio >= 4 else "misses"
    print(f"batched {batched['visits_per_second']:.3f} visits/s vs one at a time {single['visits_per_second']:.3f} "
          f"visits/s: {ratio:.2f}x ({verdict} the 4x target)")


if __name__ == "__main__":
    main()
