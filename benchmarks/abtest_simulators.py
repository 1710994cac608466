"""Which simulator recovers a store change's true effect? One `shop-r1 abtest` per simulator, one table.

    python benchmarks/abtest_simulators.py --out runs/ab-sims \
        --simulator zero_shot=embedded:smollm2-135m --simulator sft=runs/demo/sft \
        --simulator shop_r1=runs/demo/shop_r1 -- --variant-b buy_now_button=false --shoppers 12 \
        --world-personas --context latest --max-context-tokens 2048 --max-new-tokens 64 --max-steps 12

Everything after `--` goes to every `shop-r1 abtest` call unchanged, so all simulators see the same
variants, visits and seed (the comparison refuses runs that differ). Each simulator's run lives in
`OUT/NAME/` and resumes like `shop-r1 abtest`, so an interrupted benchmark picks up where it stopped.
Writes `OUT/comparison.json` and `OUT/report.md` and prints the report.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from shop_r1.data.atomic import atomic_write
from shop_r1.simulation.simulator_comparison import compare_simulators, render_simulator_comparison


def _simulator(text: str) -> tuple[str, str]:
    name, sep, model = text.partition("=")
    if not sep or not name or not model:
        raise argparse.ArgumentTypeError(f"expected NAME=MODEL, got {text!r}")
    return name, model


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    own, passthrough = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--simulator", dest="simulators", type=_simulator, action="append", required=True,
                        metavar="NAME=MODEL",
                        help="a simulator to test (repeat); MODEL as for `shop-r1 abtest --model`")
    args = parser.parse_args(own)
    if len({name for name, _ in args.simulators}) != len(args.simulators):
        parser.error("each --simulator needs its own NAME")

    results, seconds = {}, {}
    for name, model in args.simulators:
        directory = args.out / name
        command = [sys.executable, "-m", "shop_r1", "abtest", "--model", model, "--out", str(directory), *passthrough]
        print("$ " + " ".join(command[1:]), flush=True)
        start = time.perf_counter()
        subprocess.run(command, check=True)
        seconds[name] = round(time.perf_counter() - start, 1)
        results[name] = json.loads((directory / "abtest.json").read_text())
    table = compare_simulators(results)
    table["seconds"] = seconds  # this invocation's wall time per simulator (a resumed run counts what was left)
    table["abtest_args"] = passthrough
    report = render_simulator_comparison(table)
    with atomic_write(args.out / "comparison.json") as handle:
        handle.write(json.dumps(table, indent=2) + "\n")
    with atomic_write(args.out / "report.md") as handle:
        handle.write(report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
