"""Benchmark: GRPO rollout generation with the prompt prefilled once per group vs once per rollout.

TRL hands `generate` each prompt repeated `num_generations` times. `shop_r1.shared_prefill`
(on by default in `shop-r1 grpo`, `--shared_prefill false` turns it off) processes each distinct prompt
once. Both paths generate the same groups of the embedded world's RL prompts, with the same seed before
every call, taking turns (stock, shared, stock, ...); printed: rollouts/s per path, the speed-up in wall
and in CPU time (steadier on a shared machine), and how many
rollouts came out token-identical (sampling draws the same random numbers; only float rounding of the
prompt's keys and values differs, so a rare token may flip).

    python benchmarks/rollout_prefill.py                          # SmolLM2-135M, 3 groups of 4, 64 new tokens
    python benchmarks/rollout_prefill.py --model tiny --groups 2  # a 2-layer random Llama (seconds)
"""

from __future__ import annotations

import argparse
import statistics
import time
from contextlib import nullcontext

import torch
from transformers import GenerationConfig

from shop_r1.shared_prefill import shared_prompt_prefill


def group_prompts(tokenizer, groups: int, max_context_tokens: int, seed: int) -> list[list[int]]:
    """Token ids of `groups` RL prompts of the embedded world (context `latest`, as the small demo)."""
    from shop_r1.prompts import PromptConfig, PromptTooLongError, chat_token_counter, rl_prompt
    from shop_r1.world.synth import synthesize_sessions

    config = PromptConfig(context="latest", max_context_tokens=max_context_tokens)
    counter = chat_token_counter(tokenizer)
    prompts: list[list[int]] = []
    for session in synthesize_sessions(groups * 2, 1, seed):
        index = len(session.steps) // 2
        try:
            messages = rl_prompt(session, index, config, counter).messages
        except PromptTooLongError:
            continue
        prompts.append(tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                                     return_dict=False))
        if len(prompts) == groups:
            break
    return prompts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="embedded", help="embedded, tiny or a local model directory")
    parser.add_argument("--groups", type=int, default=3, help="prompts, one generate call each")
    parser.add_argument("--num-generations", type=int, default=4, help="rollouts per prompt (the small demo: 4)")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--temperature", type=float, default=0.6)
    parser.add_argument("--max-context-tokens", type=int, default=2048)
    args = parser.parse_args()

    from shop_r1.models.load import load_model, load_model_tokenizer

    spec = {"embedded": "embedded:smollm2-135m", "tiny": "tiny-random:llama"}.get(args.model, args.model)
    tokenizer = load_model_tokenizer(spec)
    model = load_model(spec, dtype="float32").eval()
    config = GenerationConfig(max_new_tokens=args.max_new_tokens, do_sample=True, temperature=args.temperature,
                              top_k=0, top_p=1.0, pad_token_id=tokenizer.pad_token_id,
                              eos_token_id=tokenizer.eos_token_id)
    prompts = group_prompts(tokenizer, args.groups, args.max_context_tokens, seed=0)
    print(f"model: {args.model}; {len(prompts)} prompts of {min(map(len, prompts))}-{max(map(len, prompts))} tokens, "
          f"{args.num_generations} rollouts each, {args.max_new_tokens} new tokens, temperature {args.temperature}; "
          f"torch threads {torch.get_num_threads()}")

    seconds: dict[str, list[float]] = {"stock": [], "shared": []}
    cpu_seconds: dict[str, list[float]] = {"stock": [], "shared": []}
    same = total = 0
    for group, prompt in enumerate(prompts):
        ids = torch.tensor([prompt] * args.num_generations)
        mask = torch.ones_like(ids)
        outputs = {}
        for path in ("stock", "shared"):
            torch.manual_seed(1000 + group)
            start, cpu = time.perf_counter(), time.process_time()
            with torch.no_grad(), (shared_prompt_prefill(model) if path == "shared" else nullcontext()):
                outputs[path] = model.generate(input_ids=ids, attention_mask=mask, generation_config=config)
            seconds[path].append(time.perf_counter() - start)
            cpu_seconds[path].append(time.process_time() - cpu)
            print(f"  group {group + 1} {path:>6}: {seconds[path][-1]:6.2f} s wall, "
                  f"{cpu_seconds[path][-1]:6.2f} s CPU", flush=True)
        same += sum(torch.equal(a, b) for a, b in zip(outputs["stock"], outputs["shared"], strict=True))
        total += args.num_generations
    stock, shared = statistics.fmean(seconds["stock"]), statistics.fmean(seconds["shared"])
    stock_cpu, shared_cpu = statistics.fmean(cpu_seconds["stock"]), statistics.fmean(cpu_seconds["shared"])
    rate = args.num_generations
    print(f"stock {rate / stock:.2f} rollouts/s, shared prefill {rate / shared:.2f} rollouts/s -> "
          f"{stock / shared:.2f}x wall, {stock_cpu / shared_cpu:.2f}x CPU time; "
          f"token-identical rollouts {same}/{total}")


if __name__ == "__main__":
    main()
