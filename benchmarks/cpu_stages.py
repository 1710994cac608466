"""Benchmark: where CPU time goes in the pipeline's kernels, against this machine's matmul peak, under
each memory allocator available here, side by side in one run.

    python benchmarks/cpu_stages.py [--rows 4] [--tokens 1024] [--new-tokens 32] [--repeats 2]

For each allocator (glibc as it is; glibc tuned to keep freed memory instead of returning it to the
kernel; jemalloc and tcmalloc when their shared libraries are installed), a fresh subprocess loads the
embedded SmolLM2-135M and times, on the same token ids:
- `train`: a forward and backward pass over `--rows` x `--tokens` tokens with the loss on the last
  quarter of each row (the shape of an SFT step on per-step rows), as 6 x parameters x tokens FLOPs;
- `prefill`: the same forward without gradients (a prediction's or rollout's prompt), 2 x N x tokens;
- `decode`: `--new-tokens` greedy tokens after that prompt with the KV cache, at batch `--rows`.
It reports seconds, achieved GFLOP/s and the share of CPU time spent in the kernel (page faults and
madvise calls from freeing and re-faulting large tensors show up there), and the float32 and bfloat16
matmul peak measured in the same process, the physical limit of this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ALLOCATORS: dict[str, dict[str, str]] = {
    "glibc": {},
    # Freed blocks up to 32 MiB stay in the heap (no munmap / re-fault per tensor), and the top of the heap is
    # not trimmed back to the kernel after every large free.
    "glibc-tuned": {"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824:"
                                      "glibc.malloc.top_pad=268435456"},
}
PRELOADS = {"jemalloc": "libjemalloc.so.2", "tcmalloc": "libtcmalloc_minimal.so.4"}
LIBRARY_DIRS = ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib")


def available_allocators() -> dict[str, dict[str, str]]:
    found = dict(ALLOCATORS)
    for name, library in PRELOADS.items():
        for directory in LIBRARY_DIRS:
            if (Path(directory) / library).is_file():
                found[name] = {"LD_PRELOAD": str(Path(directory) / library)}
                break
    return found


def _cpu_times() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def _timed(fn, repeats: int) -> dict[str, float]:
    fn()  # warm-up: first-touch allocations and one-off kernels are not what a long run pays per step
    user0, sys0 = _cpu_times()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    seconds = (time.perf_counter() - start) / repeats
    user1, sys1 = _cpu_times()
    cpu = (user1 - user0) + (sys1 - sys0)
    return {"seconds": seconds, "kernel_share": (sys1 - sys0) / cpu if cpu else 0.0}


def matmul_peak(dtype_name: str, size: int = 1024, min_seconds: float = 1.0) -> float:
    """GFLOP/s of square matmuls in `dtype_name`, repeated for at least `min_seconds` (a CPU without native
    bf16 runs bfloat16 matmuls two orders of magnitude slower, so a fixed count would take minutes)."""
    import torch

    dtype = getattr(torch, dtype_name)
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    torch.mm(a, b)
    start, repeats = time.perf_counter(), 0
    while repeats < 2 or time.perf_counter() - start < min_seconds:
        torch.mm(a, b)
        repeats += 1
    return 2 * size**3 * repeats / (time.perf_counter() - start) / 1e9


def worker(args: argparse.Namespace) -> dict:
    import torch

    from shop_r1.models.load import load_model, load_model_tokenizer

    spec = "embedded:smollm2-135m"
    tokenizer = load_model_tokenizer(spec)
    model = load_model(spec, dtype="float32")
    params = sum(p.numel() for p in model.parameters())
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(100, len(tokenizer) - 1, (args.rows, args.tokens), generator=generator)
    labels = ids.clone()
    labels[:, : args.tokens * 3 // 4] = -100  # loss on the completion only, as SFT on prompt/completion rows
    tokens = args.rows * args.tokens

    def train() -> None:
        model.train()
        model.zero_grad(set_to_none=True)
        model(input_ids=ids, labels=labels).loss.backward()

    def prefill() -> None:
        model.eval()
        with torch.no_grad():
            model(input_ids=ids, logits_to_keep=1)

    def decode() -> None:
        model.eval()
        with torch.no_grad():
            model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=args.new_tokens,
                           min_new_tokens=args.new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id)

    out = {"params": params, "threads": torch.get_num_threads(),
           "peak_gflops": {"float32": matmul_peak("float32"), "bfloat16": matmul_peak("bfloat16")}}
    for name, fn, flops in (("train", train, 6 * params * tokens), ("prefill", prefill, 2 * params * tokens),
                            ("decode", decode, None)):
        timing = _timed(fn, args.repeats)
        if flops is not None:
            timing["gflops"] = flops / timing["seconds"] / 1e9
        out[name] = timing
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=1024)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args)))
        return 0

    results = {}
    for name, env in available_allocators().items():
        print(f"== {name} ==", flush=True)
        command = [sys.executable, __file__, "--worker", "--rows", str(args.rows), "--tokens", str(args.tokens),
                   "--new-tokens", str(args.new_tokens), "--repeats", str(args.repeats)]
        done = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True)
        if done.returncode != 0:
            print(done.stderr[-2000:])
            continue
        results[name] = json.loads(done.stdout.strip().splitlines()[-1])
    if "glibc" not in results:
        return 1
    base = results["glibc"]
    print(f"\n{base['params'] / 1e6:.0f}M parameters, {base['threads']} threads, {args.rows} rows x "
          f"{args.tokens} tokens; matmul peak float32 {base['peak_gflops']['float32']:.0f} GFLOP/s, bfloat16 "
          f"{base['peak_gflops']['bfloat16']:.0f} GFLOP/s")
    print(f"{'allocator':<13}{'stage':<9}{'seconds':>9}{'GFLOP/s':>9}{'% of f32 peak':>15}{'kernel %':>10}"
          f"{'speed-up':>10}")
    for name, result in results.items():
        for stage in ("train", "prefill", "decode"):
            timing = result[stage]
            gflops = timing.get("gflops")
            share = f"{100 * gflops / result['peak_gflops']['float32']:.0f}" if gflops else "-"
            print(f"{name:<13}{stage:<9}{timing['seconds']:>9.2f}{gflops or 0:>9.1f}{share:>15}"
                  f"{100 * timing['kernel_share']:>10.0f}{base[stage]['seconds'] / timing['seconds']:>9.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
