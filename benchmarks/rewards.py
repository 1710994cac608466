"""Benchmark: Shop-R1 reward throughput against a straightforward reference built on Google's rouge-score.

Scores GRPO-shaped batches (each gold step with a group of corrupted completions, the way a policy
gets them wrong: wrong type, sibling or typo'd element names, paraphrased or typo'd search text,
truncated or fenced JSON, missing fields, prose around the object, extra keys, numbers where strings
belong) once with `shop_r1.rewards.score_completion` and once with `reference_total` below, an
independent restatement of the reward table that uses `rouge_score.RougeScorer(["rougeL"])`. Prints
pairs/s for both, the ratio and max |difference| (must be 0, with the project on rouge-score's tokens),
plus the ROUGE-L part alone and how often the default (any-script) tokenizer differs.

    python benchmarks/rewards.py [--sessions sessions.jsonl] [--pairs 20000] [--group 8] [--seed 0]

Gold actions and rationales come from the embedded world's simulated sessions, or from a sessions file
in the native JSONL schema (`--sessions`, e.g. an OPeRA import), through `load_gold_pool`.
Timings are single-process, single-thread, best of `--repeat` runs, caches cleared before each run.
"""

from __future__ import annotations

import argparse
import json
import random
import string
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rouge_score import rouge_scorer

from shop_r1.parsing import parse_completion
from shop_r1.rewards import rouge_l, score_completion
from shop_r1.rewards.config import RewardConfig
from shop_r1.rewards.rouge import _cached_tokens
from shop_r1.schema import Action, ActionType, Session


@dataclass(frozen=True)
class GoldStep:
    action: Action
    rationale: str


def load_gold_pool(path: str | Path | None, *, users: int = 100, seed: int = 0) -> list[GoldStep]:
    """Every step of a native sessions JSONL file as (gold action, rationale); without a path, the
    sessions of the embedded world (`users` simulated shoppers, 3 sessions each)."""
    if path is None:
        from shop_r1.world.synth import synthesize_sessions

        sessions = list(synthesize_sessions(users, 3, seed))
    else:
        with open(path, encoding="utf-8") as handle:
            sessions = [Session.from_json(line) for line in handle if line.strip()]
    pool = [GoldStep(step.action, step.rationale or "") for session in sessions for step in session.steps]
    if not pool:
        raise SystemExit(f"{path}: no sessions")
    return pool


# Corruptions: how a policy's completion differs from the gold. Each returns the completion text.
def _dump(rationale: str, action: Any, **extra: Any) -> str:
    return json.dumps({"rationale": rationale, "action": action, **extra}, ensure_ascii=False)


def _typo(text: str, rng: random.Random) -> str:
    if len(text) < 2:
        return text + rng.choice(string.ascii_lowercase)
    i = rng.randrange(len(text) - 1)
    edit = rng.choice(["drop", "swap", "insert"])
    if edit == "drop":
        return text[:i] + text[i + 1 :]
    if edit == "swap":
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text[:i] + rng.choice(string.ascii_lowercase) + text[i:]


def _paraphrase(text: str, rng: random.Random) -> str:
    words = text.split() or [text]
    edit = rng.choice(["drop", "swap", "add", "case", "punct"])
    if edit == "drop" and len(words) > 1:
        del words[rng.randrange(len(words))]
    elif edit == "swap" and len(words) > 1:
        i = rng.randrange(len(words) - 1)
        words[i], words[i + 1] = words[i + 1], words[i]
    elif edit == "add":
        words.insert(rng.randint(0, len(words)), rng.choice(["cheap", "best", "for", "men", "women", "2024", "new"]))
    elif edit == "case":
        return text.upper() if rng.random() < 0.5 else text.title()
    else:
        return text + rng.choice(["!", "?", " .", ","])
    return " ".join(words)


def _sibling(name: str, names: list[str], rng: random.Random) -> str:
    """Another element under the same parent (search_results.item_2 -> search_results.item_7), else any element."""
    parent = name.rsplit(".", 1)[0]
    siblings = [n for n in names if n != name and n.rsplit(".", 1)[0] == parent]
    return rng.choice(siblings) if siblings else rng.choice(names)


class Corruptor:
    def __init__(self, pool: list[GoldStep], rng: random.Random) -> None:
        self.rng = rng
        self.pool = pool
        self.names = sorted({g.action.name for g in pool if g.action.name})
        self.texts = sorted({g.action.text for g in pool if g.action.text})
        self.kinds: dict[str, Callable[[GoldStep], str | None]] = {
            "exact": self.exact,
            "wrong_type": self.wrong_type,
            "sibling_name": self.sibling_name,
            "name_typo": self.name_typo,
            "other_name": self.other_name,
            "text_paraphrase": self.text_paraphrase,
            "text_typo": self.text_typo,
            "truncated": self.truncated,
            "fenced": self.fenced,
            "missing_field": self.missing_field,
            "extra_prose": self.extra_prose,
            "extra_key": self.extra_key,
            "number_for_string": self.number_for_string,
        }

    def __call__(self, gold: GoldStep) -> tuple[str, str]:
        while True:
            kind = self.rng.choice(list(self.kinds))
            text = self.kinds[kind](gold)
            if text is not None:
                return kind, text

    def exact(self, g: GoldStep) -> str:
        return _dump(g.rationale, g.action.to_dict())

    def wrong_type(self, g: GoldStep) -> str:
        other = self.rng.choice([s for s in self.pool[:500] if s.action.type is not g.action.type] or self.pool)
        return _dump(g.rationale, other.action.to_dict())

    def _with(self, g: GoldStep, **fields: Any) -> str | None:
        if g.action.type is ActionType.TERMINATE:
            return None
        return _dump(g.rationale, {**g.action.to_dict(), **fields})

    def sibling_name(self, g: GoldStep) -> str | None:
        return self._with(g, name=_sibling(g.action.name or "", self.names, self.rng))

    def name_typo(self, g: GoldStep) -> str | None:
        return self._with(g, name=_typo(g.action.name or "", self.rng))

    def other_name(self, g: GoldStep) -> str | None:
        return self._with(g, name=self.rng.choice(self.names))

    def text_paraphrase(self, g: GoldStep) -> str | None:
        if g.action.type is not ActionType.TYPE_AND_SUBMIT:
            return None
        return self._with(g, text=_paraphrase(g.action.text or "", self.rng))

    def text_typo(self, g: GoldStep) -> str | None:
        if g.action.type is not ActionType.TYPE_AND_SUBMIT:
            return None
        return self._with(g, text=_typo(g.action.text or "", self.rng))

    def truncated(self, g: GoldStep) -> str:
        full = self.exact(g)
        return full[: self.rng.randrange(1, len(full))]

    def fenced(self, g: GoldStep) -> str:
        return "```json\n" + self.exact(g) + "\n```"

    def missing_field(self, g: GoldStep) -> str:
        action = g.action.to_dict()
        choice = self.rng.choice(["rationale", "name", "text", "action"])
        if choice == "rationale":
            return json.dumps({"action": action})
        if choice == "action":
            return json.dumps({"rationale": g.rationale})
        action.pop(choice, None)
        return _dump(g.rationale, action)

    def extra_prose(self, g: GoldStep) -> str:
        before, after = self.rng.choice([("Sure! Here is my next action:\n", ""), ("", "\nI hope this helps.")])
        return before + self.exact(g) + after

    def extra_key(self, g: GoldStep) -> str:
        if self.rng.random() < 0.5:
            return _dump(g.rationale, g.action.to_dict(), confidence=0.9)
        return _dump(g.rationale, {**g.action.to_dict(), "element_id": 12})

    def number_for_string(self, g: GoldStep) -> str | None:
        if self.rng.random() < 0.5:
            return json.dumps({"rationale": 1, "action": g.action.to_dict()})
        return self._with(g, name=self.rng.randrange(100))


def make_pairs(pool: list[GoldStep], pairs: int, group: int, seed: int) -> tuple[list[tuple[str, dict]], Counter]:
    """GRPO-shaped: a random gold step with `group` completions, until `pairs` (completion, gold dict) pairs."""
    rng = random.Random(seed)
    corrupt = Corruptor(pool, rng)
    out: list[tuple[str, dict]] = []
    kinds: Counter = Counter()
    while len(out) < pairs:
        gold = rng.choice(pool)
        gold_dict = gold.action.to_dict()  # the form a `gold_action` dataset column delivers
        for _ in range(min(group, pairs - len(out))):
            kind, text = corrupt(gold)
            kinds[kind] += 1
            out.append((text, gold_dict))
    return out, kinds


# The reference: the paper's reward table (section 3, Table 1) restated plainly, on rouge-score. It shares only the
# parser (the project's rule: one parser). Sums are grouped as the project groups them, so floats agree exactly.
_SCORER = rouge_scorer.RougeScorer(["rougeL"])


def _reference_rouge(prediction: str | None, reference: str) -> float:
    return _SCORER.score(reference, prediction)["rougeL"].fmeasure if prediction else 0.0


def _present(value: str | None) -> bool:
    return bool(value and value.strip())


def reference_total(completion: str, gold: dict) -> float:
    gold_action = Action.from_dict(gold)
    parsed = parse_completion(completion)
    if parsed is None:
        return 0.0
    pred = parsed.action
    if pred.type is not gold_action.type:
        return 0.5
    if gold_action.type is ActionType.TERMINATE:
        return 0.5 + 0.3
    name_sim = _reference_rouge(pred.name, gold_action.name)
    if gold_action.type is ActionType.CLICK:
        value = 1000.0 * name_sim if name_sim > 0.75 + 1e-12 else 0.0
        return 0.5 + (0.3 + (0.2 if _present(pred.name) else 0.0) + value)
    text_sim = _reference_rouge(pred.text, gold_action.text)
    attribute = (0.1 if _present(pred.name) else 0.0) + (0.1 if _present(pred.text) else 0.0)
    value = 0.1 * name_sim + 1000.0 * (text_sim if text_sim > 0.75 + 1e-12 else 0.0)
    return 0.5 + (0.3 + attribute + value)


def _best_time(fn: Callable[[], list[float]], repeat: int) -> tuple[float, list[float]]:
    best, result = float("inf"), []
    for _ in range(repeat):
        _cached_tokens.cache_clear()  # no run profits from an earlier one
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def _rouge_pairs(pairs: list[tuple[str, dict]]) -> list[tuple[str, str]]:
    """The (predicted, gold) strings that the reward actually compares with ROUGE-L."""
    out = []
    for text, gold in pairs:
        parsed = parse_completion(text)
        if parsed is None or parsed.action.type.value != gold["type"] or gold["type"] == "terminate":
            continue
        if parsed.action.name:
            out.append((parsed.action.name, gold["name"]))
        if gold["type"] == "type_and_submit" and parsed.action.text:
            out.append((parsed.action.text, gold["text"]))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", default=None,
                        help="sessions JSONL in the native schema (default: the embedded world, 100 users)")
    parser.add_argument("--pairs", type=int, default=20_000)
    parser.add_argument("--group", type=int, default=8, help="completions per gold step, like GRPO's num_generations")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    pool = load_gold_pool(args.sessions)
    pairs, kinds = make_pairs(pool, args.pairs, args.group, args.seed)
    valid = sum(parse_completion(text) is not None for text, _ in pairs)
    print(f"gold pool: {len(pool)} steps from {args.sessions or 'the embedded world'}")
    print(f"pairs: {len(pairs)} in groups of {args.group}; well-formed {valid / len(pairs):.1%}")
    print("corruptions: " + ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items())))

    # The reference restates the table on rouge-score, so the project is scored with the same tokens; the
    # project's default tokenizer differs only on texts outside [a-z0-9] (counted below).
    same_tokens = RewardConfig(rouge_tokenizer="rouge_score")
    project_s, project = _best_time(lambda: [score_completion(t, g, same_tokens).total for t, g in pairs],
                                    args.repeat)
    reference_s, reference = _best_time(lambda: [reference_total(t, g) for t, g in pairs], args.repeat)
    max_diff = max(abs(a - b) for a, b in zip(project, reference, strict=True))
    print(f"shop_r1.rewards : {len(pairs) / project_s:12,.0f} pairs/s  ({project_s * 1e6 / len(pairs):7.2f} us/pair)")
    print(
        f"rouge-score ref : {len(pairs) / reference_s:12,.0f} pairs/s  ({reference_s * 1e6 / len(pairs):7.2f} us/pair)"
    )
    print(f"speed-up        : {reference_s / project_s:12.1f}x")
    print(f"max |difference|: {max_diff!r}")

    strings = _rouge_pairs(pairs)
    ours_s, ours = _best_time(lambda: [rouge_l(p, r, tokenizer="rouge_score") for p, r in strings], args.repeat)
    theirs_s, theirs = _best_time(lambda: [_reference_rouge(p, r) for p, r in strings], args.repeat)
    rouge_diff = max((abs(a - b) for a, b in zip(ours, theirs, strict=True)), default=0.0)
    print(
        f"ROUGE-L alone   : {len(strings)} string pairs, {theirs_s / ours_s:.1f}x faster "
        f"({ours_s * 1e6 / max(len(strings), 1):.2f} vs {theirs_s * 1e6 / max(len(strings), 1):.2f} us), "
        f"max |difference| {rouge_diff!r}"
    )
    unicode = [rouge_l(p, r) for p, r in strings]
    differ = sum(a != b for a, b in zip(unicode, ours, strict=True))
    print(f"default tokenizer (unicode) differs from rouge-score's on {differ} of {len(strings)} string pairs "
          "(texts with characters outside [a-z0-9], e.g. Chinese search texts)")
    return 0 if max_diff == 0 and rouge_diff == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
