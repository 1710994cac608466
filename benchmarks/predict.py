"""Benchmark: batched (left-padded, KV-cached) generation vs one prompt at a time, on the same prompts.

Runs `shop_r1.evaluation.generation.HFGenerator` twice over the same RL prompts, greedy so both modes
decode the same tokens: once with `--batch-size` prompts per `generate` call, once with one. Prints
examples/s for both, the ratio (the target is >= 3x on CPU) and whether the texts agree.

`--prefix` times batched generation with and without the shared prompt-prefix cache instead (the system
prompt prefilled once; `shop_r1.shared_prefill.PromptPrefixCache`), alternating `--rounds` times, and
counts identical outputs. `--batch-sizes 8 16` times batched generation (prefix cache on, as evaluation
runs it) at each of those batch sizes instead, taking turns, against the first.

    python benchmarks/predict.py [--model auto|embedded|tiny|DIR] [--data rl_test.jsonl] [--prompts 16]
                                 [--batch-size 8] [--max-new-tokens 32] [--threads N] [--device cpu|cuda]

Models: `embedded` (and `auto`) is SmolLM2-135M-Instruct, loaded through `shop_r1.models`; `tiny` a
2-layer random Llama with the SmolLM2 tokenizer; or a local model directory. Prompts come from
`--data` (an rl_*.jsonl of `data build`), else from freshly simulated sessions of the embedded world
with a `--max-context-tokens` budget.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from shop_r1.evaluation.generation import GenerationSettings, HFGenerator, chat_texts
from shop_r1.models.embedded import DEFAULT_MODEL
from shop_r1.models.inference import load_for_inference
from shop_r1.models.tokenizers import load_tokenizer


def tiny_dir() -> str:
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = load_tokenizer()
    directory = Path(tempfile.mkdtemp(prefix="shop-r1-tiny-"))
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=8192,
                         tie_word_embeddings=True, eos_token_id=tokenizer.eos_token_id)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return str(directory)


def choose_model(choice: str) -> tuple[str, str]:
    if choice in ("auto", "embedded"):
        return "embedded SmolLM2-135M-Instruct", DEFAULT_MODEL
    if choice == "tiny":
        return "tiny random Llama (2 layers, hidden 64)", tiny_dir()
    return choice, choice


def load_prompts(data: str | None, n: int, max_context_tokens: int, context: str,
                 tokenizer) -> list[tuple[tuple[str, int], list]]:
    if data is not None:
        with open(data, encoding="utf-8") as handle:
            rows = [json.loads(line) for line in handle if line.strip()][:n]
        return [((r["session_id"], r["step_index"]), r["prompt"]) for r in rows]
    from shop_r1.prompts import PromptConfig, PromptTooLongError, chat_token_counter, rl_prompt
    from shop_r1.world.synth import synthesize_sessions

    config = PromptConfig(context=context, max_context_tokens=max_context_tokens)
    counter = chat_token_counter(tokenizer)
    prompts = []
    for session in synthesize_sessions(n, 1, 0):
        for index in range(len(session.steps)):
            try:
                messages = rl_prompt(session, index, config, counter).messages
            except PromptTooLongError:  # the current page (never cut) and the actions exceed the budget: skip it
                continue
            prompts.append(((session.session_id, index), messages))
            if len(prompts) == n:
                return prompts
    return prompts


def timed(generator: HFGenerator, prompts, batch_size: int) -> tuple[float, list]:
    start = time.perf_counter()
    outputs = []
    for begin in range(0, len(prompts), batch_size):
        batch = prompts[begin:begin + batch_size]
        outputs.extend(generator.generate([p for _, p in batch], [k for k, _ in batch]))
    return time.perf_counter() - start, outputs


def run_modes(model, tokenizer, prompts, batch_size: int, max_new_tokens: int) -> dict[str, tuple[float, list]]:
    # Batching alone: the shared-prefix cache would also help the batched side, so it is off here (see --prefix).
    generator = HFGenerator(model, tokenizer, GenerationSettings(max_new_tokens=max_new_tokens, greedy=True),
                            share_prefix=False)
    generator.generate([prompts[-1][1]], [prompts[-1][0]])  # warm-up: first-call allocations are not timed
    return {"batched": timed(generator, prompts, batch_size), "single": timed(generator, prompts, 1)}


def take_turns(make_generator, prompts, variants: dict, rounds: int) -> tuple[dict, dict, dict]:
    """Times each variant (`label -> (share_prefix, batch_size)`) once per round, in turn, on the same prompts.

    A fresh generator per round and variant: a shared prefix is prefilled (and paid for) inside every timed
    round. Returns seconds per round, the last round's outputs and the last generator, per label."""
    seconds: dict = {label: [] for label in variants}
    outputs: dict = {}
    generators: dict = {}
    for _ in range(rounds):
        for label, (share, batch_size) in variants.items():
            generators[label] = make_generator(share)
            took, outputs[label] = timed(generators[label], prompts, batch_size)
            seconds[label].append(took)
    return seconds, outputs, generators


def identical(a: list, b: list) -> int:
    return sum(x.text == y.text for x, y in zip(a, b, strict=True))


def compare_prefix(model, tokenizer, prompts, batch_size: int, max_new_tokens: int, rounds: int) -> None:
    """Batched generation with and without the shared prompt-prefix cache, taking turns, on the same batches."""
    settings = GenerationSettings(max_new_tokens=max_new_tokens, greedy=True)
    seconds, outputs, generators = take_turns(
        lambda share: HFGenerator(model, tokenizer, settings, share_prefix=share), prompts,
        {False: (False, batch_size), True: (True, batch_size)}, rounds)
    n, prefix = len(prompts), len(generators[True].prefix_cache.tokens)
    stock, shared = statistics.median(seconds[False]), statistics.median(seconds[True])
    print(f"shared prefix of {prefix} tokens; rounds (s): stock {', '.join(f'{t:.1f}' for t in seconds[False])}; "
          f"shared {', '.join(f'{t:.1f}' for t in seconds[True])}")
    print(f"stock {n / stock:.3f} examples/s, shared prefix {n / shared:.3f} examples/s (medians): "
          f"{stock / shared:.2f}x; identical outputs: {identical(outputs[False], outputs[True])}/{n}")


def compare_batch_sizes(model, tokenizer, prompts, sizes: list[int], max_new_tokens: int, rounds: int) -> None:
    """Batched generation as evaluation runs it (shared prefix on) at several batch sizes, taking turns."""
    settings = GenerationSettings(max_new_tokens=max_new_tokens, greedy=True)
    # Warm-up: otherwise the first size timed also pays the first-call allocations.
    HFGenerator(model, tokenizer, settings, share_prefix=True).generate([prompts[-1][1]], [prompts[-1][0]])
    seconds, outputs, _ = take_turns(lambda share: HFGenerator(model, tokenizer, settings, share_prefix=share),
                                     prompts, {size: (True, size) for size in sizes}, rounds)
    n, base = len(prompts), sizes[0]
    for size in sizes:
        median = statistics.median(seconds[size])
        print(f"batch {size:>3}: {n / median:.3f} examples/s (median of {', '.join(f'{t:.1f}' for t in seconds[size])}"
              f" s); {statistics.median(seconds[base]) / median:.2f}x batch {base}; "
              f"identical outputs to batch {base}: {identical(outputs[base], outputs[size])}/{n}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="auto", help="auto, embedded, tiny or a local model directory")
    parser.add_argument("--data", default=None, help="rl_*.jsonl file (default: simulate sessions)")
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--max-context-tokens", type=int, default=1024, help="prompt budget for simulated data")
    parser.add_argument("--context", default="full", choices=("full", "latest", "none"),
                        help="pages shown in simulated prompts (none: actions only, the shortest prompts)")
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"))
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                        help="the 3x target is for the CPU; on a GPU batching pays far more")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--prefix", action="store_true",
                        help="instead: batched generation with vs without the shared prompt-prefix cache")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of --prefix or --batch-sizes")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=None, metavar="N",
                        help="instead: batched generation (shared prefix on) at each batch size, against the first")
    parser.add_argument("--split", action="store_true",
                        help="also time prompt processing alone (max_new_tokens=1) to separate prefill from decoding")
    args = parser.parse_args()

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    label, spec = choose_model(args.model)
    model, tokenizer = load_for_inference(spec, device=args.device, dtype=args.dtype)
    prompts = load_prompts(args.data, args.prompts, args.max_context_tokens, args.context, tokenizer)
    # Longest first, as predict batches them: similar lengths share a batch and waste little on padding.
    prompts.sort(key=lambda kp: -sum(len(m["content"]) for m in kp[1]))
    texts = chat_texts(tokenizer, [p for _, p in prompts])
    lengths = [len(tokenizer(text, add_special_tokens=False)["input_ids"]) for text in texts]
    n = len(prompts)
    print(f"model: {label} ({args.dtype}, {args.device}); context {args.context}; "
          f"torch threads: {torch.get_num_threads()}; "
          f"{n} prompts of {min(lengths)}-{max(lengths)} tokens (mean {sum(lengths) / n:.0f}); "
          f"max_new_tokens {args.max_new_tokens}; greedy; batch size {args.batch_sizes or args.batch_size}")
    if args.batch_sizes:
        compare_batch_sizes(model, tokenizer, prompts, args.batch_sizes, args.max_new_tokens, args.rounds)
        return
    if args.prefix:
        compare_prefix(model, tokenizer, prompts, args.batch_size, args.max_new_tokens, args.rounds)
        return
    full = run_modes(model, tokenizer, prompts, args.batch_size, args.max_new_tokens)
    for mode, (seconds, outputs) in full.items():
        tokens = sum(g.tokens for g in outputs)
        print(f"{mode:>8}: {n / seconds:7.2f} examples/s  ({seconds:.1f} s, {tokens} new tokens)")
    (batched_s, batched), (single_s, single) = full["batched"], full["single"]
    same = identical(batched, single)
    print(f"speed-up: {single_s / batched_s:.2f}x; identical outputs: {same}/{n}")
    if args.split:
        prefill = run_modes(model, tokenizer, prompts, args.batch_size, 1)
        decode_batched = batched_s - prefill["batched"][0]
        decode_single = single_s - prefill["single"][0]
        print(f"prompt processing alone: batched {prefill['batched'][0]:.1f} s, single {prefill['single'][0]:.1f} s "
              f"({prefill['single'][0] / single_s:.0%} of the one-at-a-time total)")
        print(f"decoding alone: batched {decode_batched:.1f} s, single {decode_single:.1f} s "
              f"-> speed-up {decode_single / decode_batched:.2f}x")


if __name__ == "__main__":
    main()
