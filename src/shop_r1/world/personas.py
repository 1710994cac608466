"""Simulated shoppers: who they are (traits) and what they came for (a goal), sampled per user.

Traits are numbers in [0, 1] that the policy reads directly:
- `patience`: how many steps the shopper will spend before giving up;
- `price_sensitivity`: how strictly the budget binds, and how eagerly price filters are used;
- `brand_loyalty`: how strongly a favourite brand (if any) is sought out;
- `review_reliance`: how often reviews are read, and how high the rating bar is;
- `decisiveness`: how soon a fitting product is bought instead of compared with others.

A goal is concrete: a category, an optional product type, wanted attributes and options, a budget,
and the sentence in which the shopper would say it ("I need wireless earbuds in black for under $60.").
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from shop_r1.world.catalog import format_price
from shop_r1.world.vocab import CATEGORIES, CATEGORY_BY_KEY, FIRST_NAMES, OCCUPATIONS, CategorySpec

__all__ = ["Goal", "Persona", "describe_item", "sample_goal", "sample_persona"]

_GOAL_TEMPLATES = (
    "I need {item} for under {budget}.",
    "I'm looking for {item}, and I don't want to spend more than {budget}.",
    "I want to buy {item} with a budget of about {budget}.",
    "My old one wore out, so I'm shopping for {item} under {budget}.",
    "I'd like to find {item}; {budget} is my limit.",
    "Shopping for {item} today, ideally below {budget}.",
)


@dataclass(frozen=True)
class Goal:
    category: str
    kind: str | None  # the wanted product type, or None when any type will do
    attributes: Mapping[str, str]  # wanted fixed attributes other than the type
    options: Mapping[str, str]  # wanted options (colour, size)
    budget_cents: int
    sentence: str

    @property
    def spec(self) -> CategorySpec:
        return CATEGORY_BY_KEY[self.category]

    @property
    def noun(self) -> str:
        return self.kind or self.spec.label.lower()

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "kind": self.kind,
            "attributes": dict(self.attributes),
            "options": dict(self.options),
            "budget": self.budget_cents / 100,
            "sentence": self.sentence,
        }


@dataclass(frozen=True)
class Persona:
    user_id: str
    name: str
    age: int
    occupation: str
    patience: float
    price_sensitivity: float
    brand_loyalty: float
    review_reliance: float
    decisiveness: float

    def traits(self) -> dict[str, float]:
        return {
            "patience": self.patience,
            "price_sensitivity": self.price_sensitivity,
            "brand_loyalty": self.brand_loyalty,
            "review_reliance": self.review_reliance,
            "decisiveness": self.decisiveness,
        }

    def describe(self, goal: Goal, favourite_brand: str | None) -> str:
        """A short third-person profile followed by the goal sentence (what a prompt shows)."""
        notes = []
        if self.price_sensitivity >= 0.66:
            notes.append("watches every dollar")
        elif self.price_sensitivity <= 0.33:
            notes.append("will pay more for quality")
        if favourite_brand and self.brand_loyalty >= 0.5:
            notes.append(f"prefers {favourite_brand}")
        if self.review_reliance >= 0.6:
            notes.append("reads reviews before buying")
        if self.patience <= 0.3:
            notes.append("has little patience for browsing")
        if self.decisiveness >= 0.7:
            notes.append("decides quickly")
        elif self.decisiveness <= 0.3:
            notes.append("likes to compare options")
        profile = f"{self.name}, {self.age}, {self.occupation}"
        if notes:
            profile += "; " + ", ".join(notes)
        return f"{profile}. Goal: {goal.sentence}"

    def to_dict(self, goal: Goal, favourite_brand: str | None) -> dict[str, Any]:
        return {
            "description": self.describe(goal, favourite_brand),
            "name": self.name,
            "age": self.age,
            "occupation": self.occupation,
            "goal": goal.to_dict(),
            "favourite_brand": favourite_brand,
            **self.traits(),
        }


def _trait(rng: random.Random) -> float:
    # Beta(2, 2): most shoppers are moderate, a few are extreme.
    return round(rng.betavariate(2, 2), 2)


def sample_persona(user_id: str, rng: random.Random) -> Persona:
    occupation = rng.choice(OCCUPATIONS)
    age = rng.randint(62, 78) if occupation.startswith("retired") else rng.randint(19, 64)
    return Persona(
        user_id=user_id,
        name=rng.choice(FIRST_NAMES),
        age=age,
        occupation=occupation,
        patience=_trait(rng),
        price_sensitivity=_trait(rng),
        brand_loyalty=_trait(rng),
        review_reliance=_trait(rng),
        decisiveness=_trait(rng),
    )


def _is_plural(noun: str) -> bool:
    return noun.endswith("s") and not noun.endswith("ss")


def describe_item(
    kind: str, attributes: Mapping[str, str], options: Mapping[str, str], *, countable: bool = True
) -> str:
    """`wireless noise cancelling earbuds in black`, `a slim t-shirt in size M`.

    `countable=False` is for category names used as the item (`cookware`), which take no article.
    """
    model = attributes.get("model")
    words = " ".join([*(v for k, v in attributes.items() if k != "model"), kind])
    if countable and not _is_plural(kind):
        words = ("an " if words[0].lower() in "aeiou" else "a ") + words
    if model:
        words += f" for {model}"
    for name, value in options.items():
        words += f" in {value}" if name == "colour" else f" in size {value}"
    return words


def _round_budget(dollars: float) -> int:
    step = 5 if dollars < 100 else 10 if dollars < 300 else 50
    return max(step, round(dollars / step) * step) * 100


def sample_goal(rng: random.Random, category: CategorySpec | None = None) -> Goal:
    spec = category or rng.choice(CATEGORIES)
    kind = rng.choice(spec.attributes[spec.type_attribute]) if rng.random() < 0.8 else None
    others = [name for name in spec.attributes if name != spec.type_attribute]
    wanted = rng.sample(others, min(len(others), rng.choice((0, 0, 1, 1, 2))))
    attributes = {name: rng.choice(spec.attributes[name]) for name in others if name in wanted}
    options = {}
    for name, values in spec.options.items():
        if rng.random() < 0.5:
            options[name] = rng.choice(values)
    low, high = spec.price_range
    budget = _round_budget(rng.uniform(low * 1.5, high * 0.8))
    item = describe_item(kind or spec.label.lower(), attributes, options, countable=kind is not None)
    sentence = rng.choice(_GOAL_TEMPLATES).format(item=item, budget=format_price(budget).removesuffix(".00"))
    return Goal(spec.key, kind, MappingProxyType(attributes), MappingProxyType(options), budget, sentence)
