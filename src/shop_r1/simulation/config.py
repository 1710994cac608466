"""Settings of a simulation run, and `K=V` overrides of the store's `StoreConfig`."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from shop_r1.errors import ShopR1Error
from shop_r1.prompts import PromptConfig
from shop_r1.world.catalog import DEFAULT_N_PRODUCTS
from shop_r1.world.store import StoreConfig

__all__ = ["PersonaMode", "SimulationConfig", "parse_store_config", "store_config_dict"]

PersonaMode = Literal["none", "world", "file"]


@dataclass(frozen=True)
class SimulationConfig:
    """One run: how many visits, on which store, with which limits.

    Args:
        shoppers: number of visits; visit `i` (0-based) is `v{i+1:05d}` and draws its randomness from
            `(seed, i)` alone, so a resumed or a differently batched run gives visit `i` the same shopper.
        seed: run seed (world shoppers, model sampling, catalog unless `catalog_seed` is set).
        store: what each page shows (the A/B knobs).
        max_steps: a visit that has taken this many actions without ending is cut (`end: step_cap`).
        max_retries: resamples of one step after an unusable completion before the visit ends
            (`end: invalid_output`); 2 means at most 3 samples per step.
        batch_size: visits live at once; one generate call (or one round of requests) per tick covers all.
        prompt: how prompts are built; must match the `data build` options the model was trained with.
        persona_mode: `none` (the paper's prompts, the default), `world` (the world's sampled persona and
            goal for visit `i`, as `data synth` writes them) or `file` (`personas[i % len(personas)]`).
    """

    shoppers: int
    seed: int = 0
    store: StoreConfig = field(default_factory=StoreConfig)
    max_steps: int = 30
    max_retries: int = 2
    batch_size: int = 8
    prompt: PromptConfig = field(default_factory=lambda: PromptConfig(include_persona=False))
    persona_mode: PersonaMode = "none"
    personas: tuple[Any, ...] = ()
    n_products: int = DEFAULT_N_PRODUCTS
    catalog_seed: int | None = None  # None: the run seed, as `data synth` does

    def __post_init__(self) -> None:
        if self.shoppers < 0:
            raise ValueError(f"shoppers must be >= 0, got {self.shoppers}")
        for name in ("max_steps", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")
        if self.persona_mode == "file" and not self.personas:
            raise ValueError("persona_mode 'file' needs at least one persona")

    @property
    def catalog(self) -> int:
        return self.seed if self.catalog_seed is None else self.catalog_seed

    def fingerprint(self) -> dict[str, Any]:
        """What must match for a rerun to resume this run's output (everything that changes a visit).

        Not `shoppers`: visit `i` depends on `(seed, i)` alone, so a rerun with more shoppers extends a run.
        Not `batch_size`: it changes how fast visits run, not which visits they are (world visits are
        identical at any batch size; a local model's too, each step sampling from its own seed, up to float
        differences in a differently padded batch, see docs/simulation.md).
        """
        return {
            "seed": self.seed, "store": store_config_dict(self.store),
            "max_steps": self.max_steps, "max_retries": self.max_retries,
            "prompt": {"context": self.prompt.context, "max_context_tokens": self.prompt.max_context_tokens,
                       "include_persona": self.prompt.include_persona},
            "persona_mode": self.persona_mode, "personas": len(self.personas),
            "n_products": self.n_products, "catalog_seed": self.catalog,
        }


def store_config_dict(config: StoreConfig) -> dict[str, Any]:
    items = dataclasses.asdict(config).items()
    return {key: list(value) if isinstance(value, tuple) else value for key, value in items}


def _convert(key: str, raw: str, kind: Any) -> Any:
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ShopR1Error(f"--store-config {key}={raw}: expected true or false")
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise ShopR1Error(f"--store-config {key}={raw}: expected an integer") from None
    # tuple[str, ...] (sorts): comma-separated
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def parse_store_config(pairs: Sequence[str], base: StoreConfig | None = None) -> StoreConfig:
    """`["results_per_page=8", "buy_now_button=false"]` -> a `StoreConfig`; unknown keys name the known ones.

    >>> parse_store_config(["results_per_page=5", "buy_now_button=off"]).results_per_page
    5
    """
    base = base or StoreConfig()
    hints = typing.get_type_hints(StoreConfig)
    known = [f.name for f in dataclasses.fields(StoreConfig)]
    changes: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep:
            raise ShopR1Error(f"--store-config {pair!r}: expected KEY=VALUE")
        if key not in known:
            raise ShopR1Error(f"--store-config: unknown key {key!r}; known: {', '.join(known)}")
        hint = hints[key]
        kind = bool if hint is bool else int if hint is int else tuple
        changes[key] = _convert(key, raw, kind)
    try:
        return dataclasses.replace(base, **changes)
    except ValueError as err:
        raise ShopR1Error(f"--store-config: {err}") from None
