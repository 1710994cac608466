"""Quality benchmark: the demo pipeline at a larger size over several seeds, against the paper's claims.

    python benchmarks/quality.py --size small --seeds 0 1 2 --split validation   # choose knobs here
    python benchmarks/quality.py --size cpu --seeds 0 1 2 --out runs/quality     # then test, once (2 CPU cores)
    python benchmarks/quality.py --size medium --seeds 0 1 2 --out runs/quality  # the same on a GPU
    python benchmarks/quality.py --size small --seeds 0 --split validation --out runs/q-lr \
        --set grpo_learning_rate=1e-4 --reuse runs/quality      # a GRPO knob: data and SFT reused

Runs `shop_r1.demo.run_demo` once per seed (each in its own folder, so an interrupted benchmark resumes
stage by stage; scoring validation and test from one folder reuses every trained model) and prints the
mean and spread of every headline number, then checks the targets on the seed means:
- Shop-R1 exact accuracy >= 1.65 x SFT's (the paper's headline, +65%), with the paired 95% interval of
  Shop-R1 - SFT above 0 in every seed;
- Shop-R1 exact accuracy >= SFT + RL (Binary)'s and >= continued SFT's (the same trained sequences);
- Shop-R1 exact accuracy >= 2 x the frequency table's;
- no reward hacking: Shop-R1's per-type exact accuracy on click and on type_and_submit not below SFT's.
Exit status 0 when every target holds, 1 otherwise. Record every run in docs/results.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from shop_r1.demo import SETTINGS, SIZES, DemoConfig, collapse_sentences, parse_override, run_demo

HEADLINE = ("exact", "type_acc", "type_f1")
PER_TYPE = ("click", "type_and_submit", "terminate")


def _points(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:+.1f}"


def _mean_sd(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def summarise(tables: list[dict]) -> dict[str, dict[str, tuple[float, float]]]:
    """setting -> metric -> (mean, standard deviation over seeds); per-type exact as `exact/<type>`."""
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for setting in (name for name in SETTINGS if all(name in table for table in tables)):
        metrics: dict[str, tuple[float, float]] = {}
        for metric in HEADLINE:
            metrics[metric] = _mean_sd([table[setting][metric] for table in tables])
        for kind in PER_TYPE:
            values = [t[setting]["per_type"][kind]["exact"] for t in tables
                      if kind in t[setting]["per_type"] and t[setting]["per_type"][kind]["exact"] is not None]
            if values:
                metrics[f"exact/{kind}"] = _mean_sd(values)
        out[setting] = metrics
    return out


def check_targets(summary: dict[str, dict[str, tuple[float, float]]],
                  tables: list[dict] | None = None) -> list[tuple[str, bool, str]]:
    def mean(setting: str, metric: str) -> float:
        return summary[setting].get(metric, (float("nan"), 0.0))[0]

    def shop(metric: str) -> float:
        return mean("shop_r1", metric)

    def sft(metric: str) -> float:
        return mean("sft", metric)

    def binary(metric: str) -> float:
        return mean("sft_rl_binary", metric)

    checks = [
        # A zero accuracy is no result: 0 >= 1.65 x 0 must not count as met.
        ("Shop-R1 exact >= 1.65 x SFT exact", shop("exact") > 0 and shop("exact") >= 1.65 * sft("exact"),
         f"{shop('exact'):.4f} vs 1.65 x {sft('exact'):.4f} = {1.65 * sft('exact'):.4f}"),
        ("Shop-R1 exact >= SFT + RL (Binary) exact", shop("exact") >= binary("exact"),
         f"{shop('exact'):.4f} vs {binary('exact'):.4f}"),
    ]
    if "sft_continued" in summary:
        checks.append(("Shop-R1 exact >= continued SFT exact", shop("exact") >= mean("sft_continued", "exact"),
                       f"{shop('exact'):.4f} vs {mean('sft_continued', 'exact'):.4f}"))
    if "markov" in summary:
        markov = mean("markov", "exact")
        checks.append(("Shop-R1 exact >= 2 x frequency-table exact", shop("exact") > 0 and shop("exact") >= 2 * markov,
                       f"{shop('exact'):.4f} vs 2 x {markov:.4f} = {2 * markov:.4f}"))
    if tables and all("paired" in table for table in tables):
        lows = [table["paired"]["shop_r1_minus_sft"]["exact"][0] for table in tables]
        checks.append(("paired 95% interval of Shop-R1 - SFT exact above 0 in every seed",
                       all(low is not None and low > 0 for low in lows),
                       "lower ends " + ", ".join("n/a" if low is None else f"{low:+.4f}" for low in lows)))
    for kind in ("click", "type_and_submit"):
        key = f"exact/{kind}"
        checks.append((f"Shop-R1 {kind} exact >= SFT's (no reward hacking)", shop(key) >= sft(key),
                       f"{shop(key):.4f} vs {sft(key):.4f}"))
    return checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="medium", choices=sorted(SIZES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--model", default=DemoConfig().model)
    parser.add_argument("--out", default="runs/quality")
    parser.add_argument("--predict-batch-size", type=int, default=None,
                        help="rows per generate call in the evaluations (default: the size's; raise it on a GPU)")
    parser.add_argument("--split", default="test", choices=["test", "validation"],
                        help="held-out users to score: validation while choosing knobs, test once per configuration")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="replace one of the size's recipe values (a DemoSize field), e.g. sft_mix=rebalanced; "
                             "repeat for more")
    parser.add_argument("--no-persona", action="store_true",
                        help="leave the persona (and the visit's goal) out of the prompts, as the paper's prompts do")
    parser.add_argument("--reuse", action="append", default=[], metavar="DIR",
                        help="another quality output directory whose finished stages with the same key are linked "
                             "in, per seed (a GRPO-only recipe change reuses its data and SFT); repeat for more")
    args = parser.parse_args(argv)
    overrides = dict(parse_override(item) for item in args.overrides)

    tables = []
    for seed in args.seeds:
        print(f"== seed {seed} ==", flush=True)
        config = DemoConfig(size=args.size, model=args.model, seed=seed, predict_batch_size=args.predict_batch_size,
                            split=args.split, persona=not args.no_persona, overrides=overrides)
        tables.append(run_demo(config, Path(args.out) / f"seed{seed}",
                               reuse_from=[Path(other) / f"seed{seed}" for other in args.reuse]))
    summary = summarise(tables)
    print(f"\nsize {args.size} {overrides or ''}, {args.split} users, persona {'off' if args.no_persona else 'on'}, "
          f"seeds {args.seeds}: mean ± standard deviation over seeds (%)")
    metrics = [*HEADLINE, *(f"exact/{kind}" for kind in PER_TYPE)]
    print(f"{'setting':<16}" + "".join(f"{m:>22}" for m in metrics))
    for setting, values in summary.items():
        cells = [f"{100 * values[m][0]:8.2f} ± {100 * values[m][1]:5.2f}" if m in values else "n/a" for m in metrics]
        print(f"{setting:<16}" + "".join(f"{c:>22}" for c in cells))
    # Type macro-F1 beside exact: on type-balanced steps a constant terminate scores about a third exact.
    for metric in ("exact", "type_f1"):
        print(f"\npaired 95% intervals of Shop-R1 minus each setting, {metric} (points), per seed:")
        for seed, table in zip(args.seeds, tables, strict=True):
            cells = [f"{key.removeprefix('shop_r1_minus_')} [{_points(v[metric][0])}, {_points(v[metric][1])}]"
                     for key, v in table["paired"].items()]
            print(f"  seed {seed}: " + "; ".join(cells))
    for seed, table in zip(args.seeds, tables, strict=True):
        for sentence in collapse_sentences(table):
            print(f"seed {seed}: {sentence}")
    checks = check_targets(summary, tables)
    print()
    for name, ok, detail in checks:
        print(f"[{'met' if ok else 'NOT met'}] {name}: {detail}")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    tag = "" if args.split == "test" else "_validation"
    (Path(args.out) / f"quality{tag}.json").write_text(json.dumps(
        {"size": args.size, "split": args.split, "persona": not args.no_persona, "seeds": args.seeds,
         "overrides": overrides, "summary": summary, "paired": [table["paired"] for table in tables],
         "targets": [{"target": n, "met": ok, "detail": d} for n, ok, d in checks]}, indent=2))
    return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
