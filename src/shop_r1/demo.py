"""`shop-r1 demo`: the paper's comparison (its Table 2) end to end on the embedded defaults.

Stages, each cached under the output directory by the configuration that made it (`shop_r1.pipeline`),
so a rerun resumes after the last finished stage:

1. `data`: simulate shoppers in the embedded store, build the SFT/RL datasets (split by user into train,
   validation and test).
   `heldout_test` (or `heldout_validation`): fix the held-out steps every setting is scored on, from the
   split's users plus `eval_users` more shoppers simulated only for scoring; no training stage reads it,
   so more steps can be scored without retraining anything.
2. `markov_eval`: the frequency-table baseline fitted on the training users (`evaluation.markov_baseline`).
3. `zero_shot_eval`: predictions of the untrained embedded model.
4. `sft` -> `sft_eval`: SFT cold start, then its predictions.
5. `sft_rl_binary` -> `sft_rl_binary_eval`: GRPO from the SFT model with the binary exact-match reward.
6. `shop_r1` -> `shop_r1_eval`: GRPO from the same SFT model, same step budget, Shop-R1 rewards.
7. `sft_continued` -> `sft_continued_eval`: SFT resumed from the same SFT model for as many trained
   sequences as the RL stage (steps x completions per step): "is RL better than more SFT?", which
   the paper does not ask.
8. `compare`: metrics with bootstrap CIs, paired intervals of Shop-R1 against each other setting
   (resampling sessions), `comparison.json`, a Markdown report and plots.

`--split validation` scores every setting on the validation steps instead (prediction folders end in
`_val`), so recipes are compared without touching the test users; it reuses every trained model. The
numbers are whatever the run measures.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from shop_r1.data.io import atomic_write
from shop_r1.errors import ShopR1Error
from shop_r1.models.embedded import DEFAULT_MODEL
from shop_r1.pipeline import Pipeline, Stage

logger = logging.getLogger(__name__)

SETTINGS = ("zero_shot", "markov", "sft", "sft_continued", "sft_rl_binary", "shop_r1")
SETTING_TITLES = {"zero_shot": "Zero-shot", "markov": "Frequency table", "sft": "SFT",
                  "sft_continued": "SFT continued", "sft_rl_binary": "SFT + RL (Binary)", "shop_r1": "Shop-R1"}
EVAL_SPLITS = ("test", "validation")


@dataclass(frozen=True)
class DemoSize:
    """Everything that scales with the compute budget. `small` takes about 40 minutes on 2 float32 CPU cores."""

    users: int
    sessions_per_user: int
    max_context_tokens: int
    eval_steps: int
    sft_samples: int
    sft_steps: int
    sft_batch_size: int
    sft_learning_rate: float
    grpo_steps: int
    grpo_batch_size: int
    num_generations: int
    grpo_learning_rate: float
    max_new_tokens: int
    predict_batch_size: int
    # The paper's KL weight is 0.001; over the small sizes' two steps its term is ~0, and leaving it out
    # saves the reference model's forward, a fifth of a CPU step.
    grpo_beta: float = 0.001
    # Share of users held out for choosing knobs (test stays 20%, its users unchanged by this share).
    validation_fraction: float = 0.15
    # natural: every SFT step row; rebalanced: subsampled toward the paper's near-uniform type mix, the
    # mix GRPO prompts and the evaluation steps have (section 2).
    sft_mix: str = "natural"
    # Which pages' HTML prompts show (`prompts.ContextMode`). The current page is always whole, so the
    # budget must hold it, the system prompt and every earlier action: on the embedded world that takes
    # up to about 2,040 tokens (median 1,050) before any earlier page is shown.
    context: str = "full"
    # More held-out shoppers for the scored split, simulated after the training population (new people of
    # the same world): at `small` the test users' visits hold 111 balanced steps (37 end in terminate), and
    # 300 balanced steps take eval_users=60. Only the held-out stage reads it; datasets and models stay.
    eval_users: int = 0


SIZES: dict[str, DemoSize] = {
    # For tests with a tiny random model: every code path in about a minute.
    "tiny": DemoSize(users=12, sessions_per_user=2, max_context_tokens=2048, eval_steps=6, sft_samples=8,
                     sft_steps=2, sft_batch_size=2, sft_learning_rate=1e-4, grpo_steps=1, grpo_batch_size=4,
                     num_generations=2, grpo_learning_rate=1e-5, max_new_tokens=12, predict_batch_size=6,
                     grpo_beta=0.0, context="latest"),
    # Measured on 2 CPU cores without native bf16 (float32): one SFT step of 4 rows of about 1,100 tokens
    # takes ~44 s, one GRPO step (4 rollouts) ~52 s, one evaluation of 40 steps ~175 s: 39 minutes in all
    # (51 before the compact LM head and the shared rollout prefill). With 768-token prompts whose current
    # page was cut, the same stages took 12 minutes with native bf16.
    "small": DemoSize(users=120, sessions_per_user=3, max_context_tokens=2048, eval_steps=40, sft_samples=64,
                      sft_steps=16, sft_batch_size=4, sft_learning_rate=1e-4, grpo_steps=5, grpo_batch_size=4,
                      num_generations=4, grpo_learning_rate=1e-5, max_new_tokens=64, predict_batch_size=8,
                      # Chosen on the validation users (docs/results.md, recipe table): the only mix tried
                      # under which Shop-R1 beat SFT there (12.5 vs 7.5 exact, 28.3 vs 19.4 type macro-F1).
                      grpo_beta=0.0, context="latest", sft_mix="rebalanced"),
    "medium": DemoSize(users=300, sessions_per_user=3, max_context_tokens=3072, eval_steps=150, sft_samples=600,
                       sft_steps=150, sft_batch_size=4, sft_learning_rate=5e-5, grpo_steps=30, grpo_batch_size=8,
                       num_generations=4, grpo_learning_rate=2e-6, max_new_tokens=96, predict_batch_size=8),
    "large": DemoSize(users=1000, sessions_per_user=3, max_context_tokens=4096, eval_steps=600, sft_samples=0,
                      sft_steps=1000, sft_batch_size=8, sft_learning_rate=2e-5, grpo_steps=200, grpo_batch_size=16,
                      num_generations=8, grpo_learning_rate=1e-6, max_new_tokens=128, predict_batch_size=16),
}
# The quality protocol on two CPU cores (`benchmarks/quality.py --size cpu`): `small` with the recipe chosen on the
# validation users (docs/results.md, recipe table: SFT on 128 rows in 32 steps; GRPO with 8 rollouts per prompt
# for 10 one-prompt steps and KL weight 0.04: the larger groups more often hold both a right and a wrong answer,
# and a group without spread in its action reward teaches nothing; 1 of 30 such groups against 16 of 60 groups
# of 4 in the three test seeds), scored on 300 held-out steps balanced by gold type, from 60 shoppers
# simulated only for scoring. Stage keys hold values, not size names, so it shares its stages with `small` and the
# same `--set`s.
SIZES["cpu"] = replace(SIZES["small"], sft_samples=128, sft_steps=32, grpo_steps=10, grpo_batch_size=8,
                       num_generations=8, grpo_beta=0.04, eval_steps=300, eval_users=60)


def parse_override(text: str) -> tuple[str, Any]:
    """`KEY=VALUE` for a DemoSize field, the value converted to that field's type.

    >>> parse_override("grpo_learning_rate=3e-6"), parse_override("sft_mix=rebalanced")
    (('grpo_learning_rate', 3e-06), ('sft_mix', 'rebalanced'))
    """
    key, sep, raw = text.partition("=")
    types = {f.name: f.type for f in fields(DemoSize)}
    if not sep or key not in types:
        raise ShopR1Error(f"expected KEY=VALUE with KEY one of {', '.join(types)}, got {text!r}")
    kind = types[key] if isinstance(types[key], str) else types[key].__name__
    try:
        return key, {"int": int, "float": float, "str": str}[kind](raw)
    except ValueError:
        raise ShopR1Error(f"{key} takes a {kind}, got {raw!r}") from None


def fast_bf16() -> bool:
    """Whether bf16 arithmetic is fast here: a CUDA device, or a CPU with native bf16 (AVX512-BF16 / AMX)."""
    import torch

    if torch.cuda.is_available():
        return True
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            flags = handle.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


@dataclass(frozen=True)
class DemoConfig:
    size: str = "small"
    model: str = DEFAULT_MODEL
    seed: int = 0
    temperature: float = 0.6  # the paper's sampling temperature, for rollouts and evaluation alike
    dtype: str = "auto"  # inference dtype; "auto" = bfloat16 where it is fast, else float32
    bf16: bool | None = None  # mixed-precision training; None = where bf16 is fast
    bootstrap: int = 1000
    # Rows per generate call when evaluating; None = the size's default. Batching changes which random
    # numbers each row draws, not the sampling distribution, so it is not part of the stages' keys: a GPU
    # takes 64 rows in about the time a CPU-sized batch of 8 takes.
    predict_batch_size: int | None = None
    # Which held-out users the settings are scored on: `validation` for choosing knobs, `test` once per
    # configuration for reporting.
    split: str = "test"
    # Whether prompts carry the shopper's persona (with the visit's goal). The paper's prompts carry none
    # (section 2); the embedded world has one, so both are reported.
    persona: bool = True
    # Recipe knobs that replace the size's values (DemoSize field -> value), e.g. {"sft_mix": "rebalanced"}:
    # how the quality benchmark tries configurations on the validation users.
    overrides: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        known = {f.name for f in fields(DemoSize)}
        if unknown := sorted(set(self.overrides) - known):
            raise ShopR1Error(f"unknown recipe key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        if self.size not in SIZES:
            raise ShopR1Error(f"unknown demo size {self.size!r}; known: {', '.join(SIZES)}")
        if self.split not in EVAL_SPLITS:
            raise ShopR1Error(f"unknown split {self.split!r}; known: {', '.join(EVAL_SPLITS)}")
        if self.predict_batch_size is not None and self.predict_batch_size < 1:
            raise ShopR1Error(f"predict_batch_size must be at least 1, got {self.predict_batch_size}")

    @property
    def sizes(self) -> DemoSize:
        return replace(SIZES[self.size], **self.overrides)

    def resolved(self) -> DemoConfig:
        """The same configuration with the machine-dependent choices made (so they enter stage keys)."""
        fast = fast_bf16() if self.dtype == "auto" or self.bf16 is None else False
        dtype = ("bfloat16" if fast else "float32") if self.dtype == "auto" else self.dtype
        return replace(self, dtype=dtype, bf16=fast if self.bf16 is None else self.bf16)


def select_eval_rows(rows: list[dict[str, Any]], n: int, seed: int) -> list[dict[str, Any]]:
    """A seeded subset of the held-out RL rows, stratified by gold action type, in file order."""
    if n >= len(rows):
        return list(rows)
    rng = random.Random(seed)
    by_type: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        by_type.setdefault(row["gold_action"]["type"], []).append(index)
    types = sorted(by_type)
    chosen: list[int] = []
    share, extra = divmod(n, len(types))
    for position, kind in enumerate(types):
        want = share + (position < extra)
        chosen += rng.sample(by_type[kind], min(want, len(by_type[kind])))
    leftover = sorted(set(range(len(rows))) - set(chosen))
    chosen += rng.sample(leftover, n - len(chosen)) if len(chosen) < n else []
    return [rows[i] for i in sorted(chosen)]


def _device_flags() -> dict[str, Any]:
    import torch

    # Transformers refuses bf16 on a machine without an accelerator unless told it trains on the CPU.
    return {} if torch.cuda.is_available() else {"use_cpu": True}


def _flags(options: Mapping[str, Any]) -> list[str]:
    argv: list[str] = []
    for key, value in options.items():
        argv += [f"--{key}", str(value).lower() if isinstance(value, bool) else str(value)]
    return argv


def continued_sft_steps(size: DemoSize) -> int:
    """SFT steps that train as many sequences as the RL stage does (each GRPO step trains
    `grpo_batch_size` completions), for the "more SFT instead of RL" baseline."""
    return max(1, -(-size.grpo_steps * size.grpo_batch_size // size.sft_batch_size))


def sft_argv(config: DemoConfig, dataset_dir: Path, output_dir: Path, *, start_from: Path | None = None) -> list[str]:
    """Flags of the SFT stage; `start_from` an SFT checkpoint continues it for `continued_sft_steps`, on
    rows drawn from the whole training split (fresh data, as the RL stage sees)."""
    size = config.sizes
    options: dict[str, Any] = {
        "model_name_or_path": start_from or config.model, "dataset_dir": dataset_dir, "output_dir": output_dir,
        # Per-step rows: exactly the prompts the evaluation shows, and short enough for a CPU.
        "sft_format": "step", "sft_mix": size.sft_mix,
        "max_steps": size.sft_steps if start_from is None else continued_sft_steps(size),
        "per_device_train_batch_size": size.sft_batch_size,
        "learning_rate": size.sft_learning_rate, "lr_scheduler_type": "constant", "warmup_steps": 0,
        "max_length": size.max_context_tokens + size.max_new_tokens, "logging_steps": 1, "save_strategy": "no",
        "report_to": "none", "seed": config.seed, "bf16": bool(config.bf16), "activation_checkpointing": False,
    }
    if size.sft_samples and start_from is None:
        options["max_train_samples"] = size.sft_samples
    return _flags({**options, **_device_flags()})


def grpo_argv(config: DemoConfig, dataset_dir: Path, model_dir: Path, output_dir: Path, reward_mode: str) -> list[str]:
    size = config.sizes
    return _flags({
        "model_name_or_path": model_dir, "dataset_dir": dataset_dir, "output_dir": output_dir,
        "reward_mode": reward_mode, "max_prompt_tokens": size.max_context_tokens,
        "max_steps": size.grpo_steps, "per_device_train_batch_size": size.grpo_batch_size,
        "num_generations": size.num_generations, "max_completion_length": size.max_new_tokens,
        "temperature": config.temperature, "learning_rate": size.grpo_learning_rate,
        "lr_scheduler_type": "constant", "logging_steps": 1, "save_strategy": "no", "report_to": "none",
        "seed": config.seed, "bf16": bool(config.bf16), "activation_checkpointing": False, "beta": size.grpo_beta,
        **_device_flags(),
    })


def build_config(config: DemoConfig) -> Any:
    """How the demo builds its datasets (and so which users are train, validation and test)."""
    from shop_r1.data.build import BuildConfig
    from shop_r1.prompts import PromptConfig

    size = config.sizes
    prompt = PromptConfig(context=size.context, max_context_tokens=size.max_context_tokens,
                          include_persona=config.persona)
    return BuildConfig(prompt=prompt,
                       seed=config.seed, rebalance_rl=True, validation_fraction=size.validation_fraction)


# The held-out steps every setting is scored on, inside the `heldout_<split>` stage's folder.
HELDOUT_FILE = "steps.jsonl"


def extra_heldout_users(size: DemoSize, split: str) -> range:
    """Indices of the shoppers simulated only for scoring `split`: after the training population's users,
    the test split's first and the validation split's next, so no two parts share a shopper.

    >>> extra_heldout_users(replace(SIZES["tiny"], eval_users=5), "validation")
    range(17, 22)
    """
    first = size.users + (size.eval_users if split == "validation" else 0)
    return range(first, first + size.eval_users)


def _data_stage(config: DemoConfig) -> Callable[[Path], None]:
    def run(workdir: Path) -> None:
        from shop_r1.data.build import build_datasets
        from shop_r1.data.io import write_sessions
        from shop_r1.models.load import load_model_tokenizer
        from shop_r1.prompts import chat_token_counter
        from shop_r1.world.synth import synthesize_sessions

        size = config.sizes
        sessions = list(synthesize_sessions(size.users, size.sessions_per_user, config.seed))
        write_sessions(workdir / "sessions.jsonl", sessions)
        tokenizer = load_model_tokenizer(config.model)  # any spec; caches the model the next stages load
        report = build_datasets(sessions, workdir / "datasets", build_config(config), chat_token_counter(tokenizer))
        if skipped := report.total("skipped_too_long_steps"):
            logger.warning("%d steps do not fit max_context_tokens=%d with their current page whole and are in no "
                           "dataset", skipped, size.max_context_tokens)

    return run


def _heldout_stage(config: DemoConfig, data_dir: Path) -> Callable[[Path], None]:
    def run(workdir: Path) -> None:
        from shop_r1.data.build import SplitCounts, rebalance_rl_rows, step_rows
        from shop_r1.data.io import write_jsonl, write_sessions
        from shop_r1.evaluation.predict import load_rl_rows
        from shop_r1.models.load import load_model_tokenizer
        from shop_r1.prompts import chat_token_counter
        from shop_r1.world.synth import synthesize_sessions

        size = config.sizes
        rows = load_rl_rows(data_dir / "datasets" / f"rl_{config.split}.jsonl")
        users = extra_heldout_users(size, config.split)
        extra = list(synthesize_sessions(len(users), size.sessions_per_user, config.seed, first_user=users.start))
        write_sessions(workdir / "sessions.jsonl", extra)
        if extra:
            count_tokens = chat_token_counter(load_model_tokenizer(config.model))
            build, counts = build_config(config), SplitCounts()
            extra_rows = [row for session in extra
                          for row in step_rows(session, build.prompt, count_tokens, counts)[1]]
            if counts.skipped_too_long_steps:
                logger.warning("%d steps of the extra held-out users do not fit max_context_tokens=%d and are not "
                               "scored", counts.skipped_too_long_steps, size.max_context_tokens)
            # Subsampled like the data stage's held-out rows, so both parts have the same type mix.
            rows += rebalance_rl_rows(extra_rows, build)
        if len(rows) < size.eval_steps:
            logger.warning("only %d held-out %s steps for eval_steps=%d: raise eval_users to score more",
                           len(rows), config.split, size.eval_steps)
        write_jsonl(workdir / HELDOUT_FILE, select_eval_rows(rows, size.eval_steps, config.seed))

    return run


def _markov_stage(config: DemoConfig, data_dir: Path, heldout_dir: Path) -> Callable[[Path], None]:
    def run(workdir: Path) -> None:
        from shop_r1.data.io import read_sessions, write_jsonl
        from shop_r1.evaluation.markov_baseline import build_baseline_predictions
        from shop_r1.evaluation.predict import load_rl_rows

        manifest = json.loads((data_dir / "datasets" / "manifest.json").read_text(encoding="utf-8"))
        _, rows = build_baseline_predictions(read_sessions(data_dir / "sessions.jsonl"), manifest,
                                             load_rl_rows(heldout_dir / HELDOUT_FILE),
                                             extra_sessions=read_sessions(heldout_dir / "sessions.jsonl"))
        write_jsonl(workdir / "predictions.jsonl", rows)

    return run


def _predict_stage(config: DemoConfig, model: str, eval_file: Path) -> Callable[[Path], None]:
    def run(workdir: Path) -> None:
        from shop_r1.evaluation.generation import GenerationSettings, HFGenerator
        from shop_r1.evaluation.predict import load_rl_rows, predict
        from shop_r1.models.inference import load_for_inference

        settings = GenerationSettings(max_new_tokens=config.sizes.max_new_tokens, temperature=config.temperature,
                                      seed=config.seed)
        loaded, tokenizer = load_for_inference(model, dtype=config.dtype)
        generation = {"model": model, "backend": "hf", **settings.to_dict()}
        predict(load_rl_rows(eval_file), HFGenerator(loaded, tokenizer, settings), workdir / "predictions.jsonl",
                generation=generation, batch_size=config.predict_batch_size or config.sizes.predict_batch_size)

    return run


def _sft_stage(config: DemoConfig, dataset_dir: Path, start_from: Path | None = None) -> Callable[[Path], None]:
    def run(workdir: Path) -> None:
        from shop_r1.training import sft

        sft.main(*sft.parse_args(sft_argv(config, dataset_dir, workdir, start_from=start_from)))

    return run


def _grpo_stage(config: DemoConfig, dataset_dir: Path, sft_dir: Path, reward_mode: str) -> Callable[[Path], None]:
    def run(workdir: Path) -> None:
        from shop_r1.training import grpo

        grpo.main(*grpo.parse_args(grpo_argv(config, dataset_dir, sft_dir, workdir, reward_mode)))

    return run


def comparison_table(metrics: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """`comparison.json`'s content: per setting exact, type_acc, type_f1 (fractions), per_type and n."""
    out: dict[str, dict[str, Any]] = {}
    for setting, run in metrics["runs"].items():
        headline = run["metrics"]
        out[setting] = {
            "exact": headline["exact_action_acc"]["value"],
            "type_acc": headline["action_type_acc"]["value"],
            "type_f1": headline["action_type_macro_f1"]["value"],
            "per_type": {kind: {"n": part["n"], "exact": part["exact"]["value"], "type_acc": part["type_acc"]["value"]}
                         for kind, part in run["per_type"].items()},
            "n": run["n_steps"],
            # What the setting answered (column sums of the confusion matrix, `invalid` included): a
            # model that collapsed onto one action type shows it here before any metric does.
            "answered": answered_types(run["confusion"]),
            "ci95": {name: [headline[key]["ci_low"], headline[key]["ci_high"]] for name, key in
                     (("exact", "exact_action_acc"), ("type_acc", "action_type_acc"),
                      ("type_f1", "action_type_macro_f1"))},
        }
    return out


def answered_types(confusion: Mapping[str, Any]) -> dict[str, int]:
    """How often each action type (or `invalid`) was answered, from a run's confusion matrix.

    >>> answered_types({"cols_predicted": ["click", "terminate", "invalid"], "matrix": [[3, 1, 0], [2, 4, 1]]})
    {'click': 5, 'terminate': 5, 'invalid': 1}
    """
    matrix = confusion["matrix"]
    return {label: int(sum(row[j] for row in matrix)) for j, label in enumerate(confusion["cols_predicted"])}


# The held-out steps are balanced by gold type (a third each, as in the paper's evaluation), so a model
# answering one type on most of them is collapsed, whatever its exact accuracy: a constant terminate
# scores about a third exact. Three quarters leaves room for a real lean toward one type.
COLLAPSE_SHARE = 0.75


def collapse_sentences(table: Mapping[str, Mapping[str, Any]], share: float = COLLAPSE_SHARE) -> list[str]:
    """A plain-words warning for each setting that answered one action type on more than `share` of the steps
    (a collapse, for a trained model).

    >>> table = {"shop_r1": {"n": 40, "answered": {"click": 3, "terminate": 34, "invalid": 3}}}
    >>> print(*collapse_sentences(table))  # doctest: +NORMALIZE_WHITESPACE
    Shop-R1 answered terminate on 34 of 40 steps (more than 75%): on these type-balanced steps its exact
    accuracy comes mostly from that one type; read type macro-F1 and the per-type columns.
    """
    out = []
    for setting in (name for name in SETTINGS if name in table):
        row = table[setting]
        answered = {kind: count for kind, count in row.get("answered", {}).items() if kind != "invalid"}
        if not answered or not row["n"]:
            continue
        kind, count = max(answered.items(), key=lambda item: item[1])
        if count > share * row["n"]:
            out.append(f"{SETTING_TITLES[setting]} answered {kind} on {count} of {row['n']} steps (more than "
                       f"{share:.0%}): on these type-balanced steps its exact accuracy comes mostly from that one "
                       "type; read type macro-F1 and the per-type columns.")
    return out


# Shop-R1 against each of these, paired on the same steps: `paired["shop_r1_minus_<name>"]`.
PAIRED_AGAINST = ("sft", "sft_continued", "sft_rl_binary", "markov", "zero_shot")
PAIRED_METRICS = (("exact", "exact_action_acc"), ("type_acc", "action_type_acc"), ("type_f1", "action_type_macro_f1"))


def paired_intervals(runs: Mapping[str, Any], config: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Shop-R1 minus each other setting on the steps both scored, resampling sessions: the 95% intervals
    (`{"shop_r1_minus_sft": {"exact": [low, high], ...}}`) and the point differences, same layout."""
    from shop_r1.evaluation.runs import compare_runs

    intervals: dict[str, Any] = {}
    points: dict[str, Any] = {}
    for other in (name for name in PAIRED_AGAINST if name in runs):
        _, diffs = compare_runs(runs[other], runs["shop_r1"], config)
        key = f"shop_r1_minus_{other}"
        found = {name: diffs.get(metric) for name, metric in PAIRED_METRICS}
        intervals[key] = {name: [e.low, e.high] if e else [None, None] for name, e in found.items()}
        points[key] = {name: e.value if e else None for name, e in found.items()}
    return intervals, points


# Exact accuracy is the paper's headline. Type macro-F1 stands beside it because the evaluation steps are
# balanced by gold type (a third terminate, section 4), so a model that always answers terminate scores
# about a third exact while its macro-F1 stays near 0.17: the second metric catches that collapse.
SIGNIFICANCE_METRICS = {"exact": "exact action accuracy", "type_f1": "action-type macro-F1"}


def significance_sentence(paired: Mapping[str, Any], points: Mapping[str, Any], against: str = "sft",
                          metric: str = "exact") -> str:
    """Plain words on whether Shop-R1 differs from a setting on `metric` beyond sampling noise.

    >>> significance_sentence({"shop_r1_minus_sft": {"type_f1": [0.02, 0.18]}},
    ...                       {"shop_r1_minus_sft": {"type_f1": 0.09}}, metric="type_f1")
    'Shop-R1 is significantly better than SFT on action-type macro-F1: +9.0 points, 95% interval [+2.0, +18.0].'
    """
    key = f"shop_r1_minus_{against}"
    low, high = paired[key][metric]
    diff = points[key][metric]
    title, what = SETTING_TITLES[against], SIGNIFICANCE_METRICS[metric]
    if low is None or high is None or diff is None:
        return f"Shop-R1 - {title} ({what}): no interval (too few steps)."
    span = f"{100 * diff:+.1f} points, 95% interval [{100 * low:+.1f}, {100 * high:+.1f}]"
    if low > 0:
        verdict = f"Shop-R1 is significantly better than {title} on {what}"
    elif high < 0:
        verdict = f"Shop-R1 is significantly worse than {title} on {what}"
    else:
        verdict = f"the difference between Shop-R1 and {title} on {what} is not significant (the interval contains 0)"
    return f"{verdict}: {span}."


# The DemoSize fields each stage reads, so that a recipe change reruns only the stages it affects (a new
# GRPO learning rate keeps the datasets and the SFT model). Keys of upstream stages are folded in by run_demo.
DATA_FIELDS = ("users", "sessions_per_user", "max_context_tokens", "validation_fraction", "context")
HELDOUT_FIELDS = ("eval_steps", "eval_users")
SFT_FIELDS = ("sft_samples", "sft_steps", "sft_batch_size", "sft_learning_rate", "sft_mix", "max_context_tokens",
              "max_new_tokens")
GRPO_FIELDS = ("grpo_steps", "grpo_batch_size", "num_generations", "grpo_learning_rate", "grpo_beta",
               "max_context_tokens", "max_new_tokens")
# Continued SFT starts from the SFT model (whose key carries sft_steps and sft_samples) and trains for
# `continued_sft_steps`, so two GRPO shapes of one budget (20 x 4 and 5 x 16 rollouts) share it.
CONTINUED_SFT_FIELDS = ("sft_batch_size", "sft_learning_rate", "sft_mix", "max_context_tokens", "max_new_tokens")
PREDICT_FIELDS = ("max_new_tokens",)


def stage_keys(config: DemoConfig) -> dict[str, dict[str, Any]]:
    """Each stage's own configuration (before upstream keys are added): what its output depends on."""
    size = asdict(config.sizes)

    def pick(names: Sequence[str]) -> dict[str, Any]:
        return {name: size[name] for name in names}

    training = {"seed": config.seed, "model": config.model, "bf16": config.bf16, "persona": config.persona}
    return {
        "data": {**pick(DATA_FIELDS), "seed": config.seed, "model": config.model, "persona": config.persona},
        "heldout": {**pick(HELDOUT_FIELDS), "split": config.split},
        "sft": {**pick(SFT_FIELDS), **training},
        "grpo": {**pick(GRPO_FIELDS), **training, "temperature": config.temperature},
        "sft_continued": {**pick(CONTINUED_SFT_FIELDS), "steps": continued_sft_steps(config.sizes), **training},
        "predict": {**pick(PREDICT_FIELDS), "temperature": config.temperature, "dtype": config.dtype},
    }


def run_demo(config: DemoConfig, out: str | Path,
             on_event: Callable[[str, Stage, Any], None] | None = None,
             reuse_from: Sequence[str | Path] = ()) -> dict[str, Any]:
    """Run (or resume) every stage; return and write `comparison.json` (or `comparison_validation.json`).

    `reuse_from`: other demo output directories whose finished stages with the same key are linked in
    instead of recomputed (a recipe that changes only GRPO knobs reuses another run's data and SFT).
    """
    config = config.resolved()
    root = Path(out)
    pipeline = Pipeline(root, on_event=on_event, reuse_from=reuse_from)
    keys = stage_keys(config)
    data = pipeline.run(Stage("data", _data_stage(config), keys["data"], "simulate shoppers, build datasets"))
    dataset_dir = data.workdir / "datasets"
    heldout = pipeline.run(Stage(f"heldout_{config.split}", _heldout_stage(config, data.workdir),
                                 {"data": data.key, **keys["heldout"]}, f"fix the held-out {config.split} steps"))
    eval_file = heldout.workdir / HELDOUT_FILE
    gen = {"heldout": heldout.key, **keys["predict"]}
    # Test predictions keep their historical folder names; validation ones sit beside them.
    suffix = "_eval" if config.split == "test" else "_val"

    def evaluate(setting: str, model: str, model_key: str, what: str) -> None:
        pipeline.run(Stage(f"{setting}{suffix}", _predict_stage(config, model, eval_file), {**gen, "model": model_key},
                           f"predict with the {what} ({config.split} users)"))

    pipeline.run(Stage(f"markov{suffix}", _markov_stage(config, data.workdir, heldout.workdir), gen,
                       f"frequency-table baseline fitted on the training users ({config.split} users)"))
    evaluate("zero_shot", config.model, config.model, "untrained model")
    sft = pipeline.run(Stage("sft", _sft_stage(config, dataset_dir), {"data": data.key, **keys["sft"]},
                             "SFT cold start"))
    evaluate("sft", str(sft.workdir), sft.key, "SFT model")
    for setting, mode in (("sft_rl_binary", "binary"), ("shop_r1", "shop_r1")):
        trained = pipeline.run(Stage(setting, _grpo_stage(config, dataset_dir, sft.workdir, mode),
                                     {"sft": sft.key, "reward_mode": mode, **keys["grpo"]}, f"GRPO ({mode}) from SFT"))
        evaluate(setting, str(trained.workdir), trained.key, f"{SETTING_TITLES[setting]} model")
    continued = pipeline.run(Stage("sft_continued", _sft_stage(config, dataset_dir, start_from=sft.workdir),
                                   {"sft": sft.key, **keys["sft_continued"]},
                                   f"SFT continued for the RL stage's {continued_sft_steps(config.sizes)} steps' "
                                   "worth of trained sequences"))
    evaluate("sft_continued", str(continued.workdir), continued.key, "continued SFT model")

    from shop_r1.evaluation.predictions_io import load_predictions
    from shop_r1.evaluation.report import write_report
    from shop_r1.evaluation.runs import MetricsConfig, evaluate_runs

    paths = {name: root / f"{name}{suffix}" / "predictions.jsonl" for name in SETTINGS}
    runs = {name: load_predictions(path) for name, path in paths.items()}
    metrics_config = MetricsConfig(n_resamples=config.bootstrap, seed=config.seed)
    evaluation = evaluate_runs(runs, metrics_config, sources={name: str(path) for name, path in paths.items()})
    tag = "" if config.split == "test" else "_validation"
    write_report(evaluation, root / f"report{tag}")
    table: dict[str, Any] = comparison_table(evaluation.to_dict())
    paired, points = paired_intervals(runs, metrics_config)
    table["paired"] = paired
    summary = {"config": asdict(config), "sizes": asdict(config.sizes),
               "relative_improvement_over_sft": relative_improvement(table),
               "paired_difference": points, "significance": significance_sentence(paired, points),
               "significance_type_f1": significance_sentence(paired, points, metric="type_f1"),
               "stage_seconds": {name: round(r.seconds, 1) for name, r in pipeline.results.items()}}
    with atomic_write(root / f"comparison{tag}.json") as handle:
        json.dump(table, handle, indent=2)
    with atomic_write(root / f"summary{tag}.json") as handle:
        json.dump(summary, handle, indent=2)
    return table


def relative_improvement(table: Mapping[str, Mapping[str, Any]]) -> dict[str, float | None]:
    """Shop-R1 over SFT, as the paper reports its headline (+65% exact for 3B): (shop_r1 - sft) / sft."""
    out: dict[str, float | None] = {}
    for metric in ("exact", "type_acc", "type_f1"):
        sft, shop = table["sft"][metric], table["shop_r1"][metric]
        out[metric] = None if not sft else (shop - sft) / sft
    return out
