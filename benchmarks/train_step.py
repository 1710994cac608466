"""Benchmark: a training step's forward + backward with TRL's LM head over every position vs labelled ones only.

TRL 1.16's fused LM head projects every position through the vocabulary on the CPU; inside
`shop_r1.training.compact_head.labelled_positions_only` (which `shop-r1 sft` and `shop-r1 grpo` enter)
it projects only the positions that carry a label. Two shapes, each timed on the same batch with both paths
taking turns (round 1 stock, round 1 compact, round 2 stock, ...), so drift on a shared machine hits both:

- `sft`: `SFTTrainer.training_step` (forward, loss, backward; no optimizer step, so every round sees the
  same weights) on a batch of the demo's per-step SFT rows, built exactly as `shop-r1 sft` builds them.
- `grpo`: the policy forward + backward of a GRPO training pass, i.e. the call TRL's
  `_get_per_token_logps_and_entropies` makes (labels on the last `--completion-tokens` positions only),
  on the same rows' prompt + answer tokens.

- `group`: a GRPO group's training pass, both paths with labelled positions only: TRL's pass over G rows
  that repeat one prompt (the first row's tokens but its last `--completion-tokens`) with G different
  completions (the rows' own tails), against `training.shared_prompt_pass`, which runs the prompt once.

Prints each round's wall and CPU seconds (CPU time of this process, steadier on a shared machine), the
medians per path, both speed-ups, and the largest loss difference between the two paths.

    python benchmarks/train_step.py                          # embedded SmolLM2-135M, float32, 4 rows, 3 rounds
    python benchmarks/train_step.py --model tiny --rounds 2  # a 2-layer random Llama (seconds)
    python benchmarks/train_step.py --data demo-out/data/datasets --rows 8
    python benchmarks/train_step.py --shapes group           # one prompt pass per group of rollouts
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from shop_r1.training.compact_head import labelled_positions_only
from shop_r1.training.shared_prompt_pass import shared_prompt_log_probs


def build_rows(users: int, seed: int, max_context_tokens: int) -> Path:
    """The demo's per-step SFT rows for `users` simulated shoppers (context `latest`, as the `small` demo)."""
    from shop_r1.data.build import BuildConfig, build_datasets
    from shop_r1.models.tokenizers import load_tokenizer
    from shop_r1.prompts import PromptConfig, chat_token_counter
    from shop_r1.world.synth import synthesize_sessions

    out = Path(tempfile.mkdtemp(prefix="shop-r1-train-step-"))
    config = BuildConfig(prompt=PromptConfig(context="latest", max_context_tokens=max_context_tokens), seed=seed)
    build_datasets(list(synthesize_sessions(users, 1, seed)), out, config, chat_token_counter(load_tokenizer()))
    return out


def model_spec(choice: str) -> str:
    return {"embedded": "embedded:smollm2-135m", "tiny": "tiny-random:llama"}.get(choice, choice)


def sft_trainer(spec: str, dataset_dir: Path, rows: int, max_length: int):
    from trl import SFTTrainer

    from shop_r1.models.load import load_model_tokenizer
    from shop_r1.training.common import load_training_model
    from shop_r1.training.sft import parse_args
    from shop_r1.training.sft_data import load_sft_split

    model_args, data_args, training_args = parse_args([
        "--model_name_or_path", spec, "--dataset_dir", str(dataset_dir), "--sft_format", "step",
        "--output_dir", tempfile.mkdtemp(prefix="shop-r1-train-step-out-"), "--per_device_train_batch_size",
        str(rows), "--max_length", str(max_length), "--max_steps", "1", "--report_to", "none",
        "--activation_checkpointing", "false", "--bf16", "false", "--use_cpu", "true", "--seed", "0",
    ])
    tokenizer = load_model_tokenizer(spec)
    model = load_training_model(model_args, training_args)
    dataset = load_sft_split(data_args, tokenizer, split="train", seed=0, max_length=max_length)
    return SFTTrainer(model=model, args=training_args, train_dataset=dataset, processing_class=tokenizer)


def group_batch(input_ids: torch.Tensor, attention_mask: torch.Tensor, completion_tokens: int
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """TRL's layout of one GRPO group: the first row's prompt repeated for every row, then each row's own last
    `completion_tokens` real tokens as its completion (right-padded; TRL left-pads only the prompts)."""
    real = [ids[row_mask.bool()] for ids, row_mask in zip(input_ids, attention_mask, strict=True)]
    prompt = real[0][:-completion_tokens]
    tails = [ids[-completion_tokens:] for ids in real]
    width = max(len(tail) for tail in tails)
    completions = torch.zeros((len(real), width), dtype=torch.long)
    completion_mask = torch.zeros((len(real), width), dtype=torch.long)
    for row, tail in enumerate(tails):
        completions[row, :len(tail)] = tail
        completion_mask[row, :len(tail)] = 1
    ids = torch.cat([prompt.repeat(len(real), 1), completions], dim=1)  # (G, P + C)
    return ids, torch.cat([torch.ones((len(real), len(prompt)), dtype=torch.long), completion_mask], dim=1)


def timed(function) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds of this process over all its threads, loss). On a shared machine the CPU
    time is the steadier measure: other processes stretch the wall time, not the work done here."""
    start, cpu = time.perf_counter(), time.process_time()
    loss = function()
    return time.perf_counter() - start, time.process_time() - cpu, float(loss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="embedded", help="embedded, tiny or a local model directory")
    parser.add_argument("--data", default=None, help="a `data build` output directory (default: simulate 40 users)")
    parser.add_argument("--rows", type=int, default=4, help="rows per batch (the small demo's SFT batch: 4)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-length", type=int, default=2112, help="the small demo's SFT max_length")
    parser.add_argument("--completion-tokens", type=int, default=64,
                        help="labelled tail of the grpo shape; completion width of the group shape")
    parser.add_argument("--shapes", default="sft,grpo,group", help="comma-separated: sft, grpo, group")
    args = parser.parse_args()

    dataset_dir = Path(args.data) if args.data else build_rows(40, 0, args.max_length - 64)
    trainer = sft_trainer(model_spec(args.model), dataset_dir, args.rows, args.max_length)
    model = trainer.model
    trainer.current_gradient_accumulation_steps = 1  # set by `train()`, which this benchmark bypasses
    batch = trainer._prepare_inputs(next(iter(trainer.get_train_dataloader())))
    mask = batch["attention_mask"]
    labelled = int((batch["labels"] != -100).sum())
    print(f"model: {args.model}; batch of {mask.shape[0]} rows padded to {mask.shape[1]} tokens "
          f"({int(mask.sum())} real, {labelled} labelled); torch threads {torch.get_num_threads()}")

    def sft_step() -> torch.Tensor:
        model.zero_grad(set_to_none=True)
        return trainer.training_step(model, dict(batch), None)

    grpo_labels = batch["input_ids"].masked_fill(mask == 0, -100)
    grpo_labels[:, :-args.completion_tokens] = -100

    def grpo_step() -> torch.Tensor:
        model.zero_grad(set_to_none=True)
        out = model(input_ids=batch["input_ids"], attention_mask=mask, labels=grpo_labels, fused_lm_head=True)
        out.loss.backward()
        return out.loss.detach()

    group_ids, group_mask = group_batch(batch["input_ids"], mask, args.completion_tokens)
    completion_mask = group_mask[:, -args.completion_tokens:]
    print(f"group: one prompt of {group_ids.shape[1] - args.completion_tokens} tokens x {group_ids.shape[0]} rows, "
          f"{int(completion_mask.sum())} completion tokens")

    def group_loss(log_probs: torch.Tensor) -> torch.Tensor:
        loss = -(log_probs * completion_mask).sum() / completion_mask.sum()
        loss.backward()
        return loss.detach()

    def group_trl_pass() -> torch.Tensor:
        model.zero_grad(set_to_none=True)
        labels = group_ids.masked_fill(group_mask == 0, -100)
        labels[:, :-args.completion_tokens] = -100
        out = model(input_ids=group_ids, attention_mask=group_mask, labels=labels, fused_lm_head=True)
        return group_loss(out.log_probs[:, -args.completion_tokens:])

    def group_shared_pass() -> torch.Tensor:
        model.zero_grad(set_to_none=True)
        log_probs, _ = shared_prompt_log_probs(model, group_ids, group_mask, args.completion_tokens)
        return group_loss(log_probs)

    def compact(step):
        def run() -> torch.Tensor:
            with labelled_positions_only():
                return step()
        return run

    model.train()
    # Each shape: (name of path A, A, name of path B, B); B is the cut.
    shapes = {"sft": ("stock", sft_step, "labelled positions only", compact(sft_step)),
              "grpo": ("stock", grpo_step, "labelled positions only", compact(grpo_step)),
              "group": ("TRL pass", compact(group_trl_pass), "one prompt pass", compact(group_shared_pass))}
    for name in args.shapes.split(","):
        first, first_step, second, second_step = shapes[name]
        paths = {first: first_step, second: second_step}
        times: dict[str, list[float]] = {path: [] for path in paths}
        cpu_times: dict[str, list[float]] = {path: [] for path in paths}
        losses: dict[str, list[float]] = {path: [] for path in paths}
        for round_index in range(args.rounds):
            for path, step in paths.items():
                seconds, cpu, loss = timed(step)
                times[path].append(seconds)
                cpu_times[path].append(cpu)
                losses[path].append(loss)
                print(f"  {name} round {round_index + 1} {path:>23}: {seconds:6.2f} s wall, {cpu:6.2f} s CPU, "
                      f"loss {loss:.6f}", flush=True)
        slow, fast = statistics.median(times[first]), statistics.median(times[second])
        slow_cpu, fast_cpu = statistics.median(cpu_times[first]), statistics.median(cpu_times[second])
        gap = max(abs(a - b) for a, b in zip(losses[first], losses[second], strict=True))
        print(f"{name}: {first} {slow:.2f} s wall / {slow_cpu:.2f} s CPU, {second} {fast:.2f} s "
              f"wall / {fast_cpu:.2f} s CPU (medians) -> {slow / fast:.2f}x wall, "
              f"{slow_cpu / fast_cpu:.2f}x CPU; largest loss difference {gap:.2e}")


if __name__ == "__main__":
    main()
