"""Search queries a shopper would type for a goal: paraphrased, sometimes too vague or too specific.

Specificity levels:
- `under`: just the product noun (`headphones`), which returns a broad list to narrow down;
- `exact`: the wanted attributes and the noun (`wireless over-ear headphones`);
- `over`: everything, plus words the catalog cannot match (`... black foldable under 80`), which
  returns few or partial results.

Synonyms from the vocabulary (`sneakers`, `tee`), an occasional favourite brand and an occasional
typo (two swapped letters) make queries look typed rather than generated.
"""

from __future__ import annotations

import random

from shop_r1.world.personas import Goal

__all__ = ["SPECIFICITIES", "make_query", "refine_specificity"]

SPECIFICITIES: tuple[str, ...] = ("under", "exact", "over")


def _noun(goal: Goal, rng: random.Random) -> str:
    noun = goal.noun
    if rng.random() < 0.3:
        for word, synonyms in goal.spec.aliases.items():
            if word in noun:
                return noun.replace(word, rng.choice(synonyms))
    return noun


def _typo(query: str, rng: random.Random) -> str:
    words = query.split()
    long_words = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
    if not long_words:
        return query
    index = rng.choice(long_words)
    word = words[index]
    at = rng.randrange(1, len(word) - 2)
    words[index] = word[:at] + word[at + 1] + word[at] + word[at + 2:]
    return " ".join(words)


def make_query(
    goal: Goal,
    specificity: str,
    rng: random.Random,
    *,
    favourite_brand: str | None = None,
    typo_rate: float = 0.08,
) -> str:
    """A lower-case query for `goal` at the given specificity."""
    if specificity not in SPECIFICITIES:
        raise ValueError(f"specificity must be one of {SPECIFICITIES}, got {specificity!r}")
    noun = _noun(goal, rng)
    attributes = [v for k, v in goal.attributes.items() if k != "model"]
    model = goal.attributes.get("model")
    words: list[str] = []
    if specificity == "under":
        words = [noun]
    else:
        words = [*attributes, noun]
        if model:
            words += ["for", model]
        if specificity == "over" or rng.random() < 0.3:
            words += [v if k == "colour" else f"size {v}" for k, v in goal.options.items()]
        if specificity == "over":
            extras = [v for k, values in goal.spec.attributes.items() if k not in goal.attributes
                      and k != goal.spec.type_attribute for v in values]
            if extras:
                words.insert(0, rng.choice(extras))
            if rng.random() < 0.5:
                words.append(f"under {goal.budget_cents // 100}")
    if favourite_brand and rng.random() < 0.5:
        words.insert(0, favourite_brand)
    query = " ".join(words).lower()
    return _typo(query, rng) if rng.random() < typo_rate else query


def refine_specificity(previous: str, *, had_results: bool, rng: random.Random) -> str:
    """What to try after a query at `previous` specificity disappointed."""
    if not had_results or previous == "over":
        return rng.choice(("under", "exact", "exact"))
    if previous == "under":
        return rng.choice(("exact", "exact", "over"))
    return rng.choice(("under", "over"))
