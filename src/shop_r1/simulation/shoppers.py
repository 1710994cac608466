"""Who each simulated visit is: its ids, the persona its prompt may show, and the world's own shopper.

Visit `i` of a run with seed `S` draws its world persona, goal and favourite brand exactly as
`data synth --seed S --sessions-per-user 1` draws user `i`'s first visit (the same private stream
`stream(S, "user", i)`, consumed in the same order). So the world's rule-based shopper on visit `i`
is the same person in every arm of an A/B test, and the model, when given world personas, is told
about that same person: the two arms differ only by the store.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shop_r1.data.jsonl import iter_json
from shop_r1.errors import ShopR1Error
from shop_r1.world.personas import Goal, Persona, sample_goal, sample_persona
from shop_r1.world.policy import PolicyConfig, Shopper
from shop_r1.world.rng import stream

__all__ = ["VisitIdentity", "WorldShopperSpec", "load_personas", "visit_identity", "visit_ids", "world_shopper"]


@dataclass(frozen=True)
class WorldShopperSpec:
    """The world's shopper for one visit, before its first decision (its rng is consumed by deciding)."""

    persona: Persona
    goal: Goal
    favourite: str | None
    rng: random.Random

    def persona_dict(self) -> dict[str, Any]:
        return self.persona.to_dict(self.goal, self.favourite)

    def shopper(self, config: PolicyConfig | None = None) -> Shopper:
        return Shopper(self.persona, self.goal, self.rng, favourite_brand=self.favourite, config=config)


@dataclass(frozen=True)
class VisitIdentity:
    index: int
    visit_id: str
    user_id: str
    persona: str | dict[str, Any] | None  # what the prompt shows (when enabled) and the session records
    shopper_name: str  # the name on the checkout page


def visit_ids(shoppers: int) -> list[str]:
    return [f"v{index + 1:05d}" for index in range(shoppers)]


def world_shopper(seed: int, index: int) -> WorldShopperSpec:
    """Mirror `synthesize_sessions` for user `index`'s first visit (see the module docstring)."""
    rng = stream(seed, "user", index)
    persona = sample_persona(f"u{index + 1:04d}", rng)
    goal = sample_goal(rng)
    favourite = rng.choice(goal.spec.brands) if rng.random() < persona.brand_loyalty else None
    return WorldShopperSpec(persona, goal, favourite, rng)


def visit_identity(seed: int, index: int, mode: str, personas: Sequence[Any] = ()) -> VisitIdentity:
    """Visit `index`'s ids and persona under a persona mode (`none`, `world`, `file`)."""
    visit_id = f"v{index + 1:05d}"
    user_id = f"u{index + 1:04d}"
    if mode == "world":
        spec = world_shopper(seed, index)
        return VisitIdentity(index, visit_id, user_id, spec.persona_dict(), spec.persona.name)
    if mode == "file":
        persona = personas[index % len(personas)]
        name = persona.get("name") if isinstance(persona, dict) and isinstance(persona.get("name"), str) else "Alex"
        return VisitIdentity(index, visit_id, user_id, persona, name)
    return VisitIdentity(index, visit_id, user_id, None, "Alex")


def load_personas(path: str | os.PathLike[str]) -> tuple[Any, ...]:
    """Personas from a JSONL file: one per line, a string (shown as is) or an object (its `description`,
    else its `key: value` lines, as `shop_r1.prompts.persona_text` renders a session's persona)."""
    personas: list[Any] = []
    for number, value in iter_json(path):
        if not isinstance(value, str | dict) or not value:
            raise ShopR1Error(f"{path}:{number}: a persona must be a non-empty string or JSON object")
        personas.append(value)
    if not personas:
        raise ShopR1Error(f"{path}: no personas")
    return tuple(personas)
