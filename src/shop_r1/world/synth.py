"""Synthetic shopping sessions from the embedded world, in the native session schema.

For each user: a persona and a first goal, then `sessions_per_user` visits to a fresh store tab. A
visit that ends without a purchase usually keeps the same need for the next visit (a returning
shopper); after a purchase, or sometimes anyway, a new goal is drawn.

Every step records the page the action was taken on (`url`, simplified `html`), the action, the
true reason (`meta = {"reason": code, "slots": {...}}`) and a rationale written from it.

Determinism: user `i` draws everything from its own stream `stream(seed, "user", i)`, and the
catalog from `stream(catalog_seed, ...)`; nothing depends on global random state, set order or
`hash()`. The same arguments give the same sessions, byte for byte once serialised.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from shop_r1.schema import ActionType, Session, Step
from shop_r1.world.catalog import DEFAULT_N_PRODUCTS, build_catalog
from shop_r1.world.personas import sample_goal, sample_persona
from shop_r1.world.policy import PolicyConfig, Shopper
from shop_r1.world.reason_templates import write_rationale
from shop_r1.world.rng import stream
from shop_r1.world.search import SearchEngine
from shop_r1.world.store import Store, StoreConfig

__all__ = ["SynthConfig", "synthesize_sessions"]


@dataclass(frozen=True)
class SynthConfig:
    store: StoreConfig = field(default_factory=StoreConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    n_products: int = DEFAULT_N_PRODUCTS
    catalog_seed: int | None = None  # None: the synthesis seed
    keep_goal_rate: float = 0.7  # chance a shopper who did not buy comes back for the same need


def synthesize_sessions(
    users: int, sessions_per_user: int, seed: int, config: SynthConfig | None = None, *, first_user: int = 0
) -> Iterator[Session]:
    """Yield `users * sessions_per_user` sessions, user by user; ids `u0001-s01`, `u0001-s02`, ...

    `first_user` starts at a later user index: the users a longer run would have simulated after the first
    `first_user`, byte for byte (new shoppers of the same world, e.g. more held-out users for scoring).
    """
    if users < 0 or sessions_per_user < 0 or first_user < 0:
        raise ValueError(f"users, sessions_per_user and first_user must be >= 0, got {users}, {sessions_per_user} "
                         f"and {first_user}")
    config = config or SynthConfig()
    catalog = build_catalog(seed if config.catalog_seed is None else config.catalog_seed, config.n_products)
    engine = SearchEngine(catalog)
    store = Store(catalog, config.store, engine=engine)
    for index in range(first_user, first_user + users):
        rng = stream(seed, "user", index)
        user_id = f"u{index + 1:04d}"
        persona = sample_persona(user_id, rng)
        favourites: dict[str, str | None] = {}
        goal = sample_goal(rng)
        for number in range(1, sessions_per_user + 1):
            if goal.category not in favourites:
                brands = goal.spec.brands
                favourites[goal.category] = rng.choice(brands) if rng.random() < persona.brand_loyalty else None
            favourite = favourites[goal.category]
            store.shopper = persona.name
            shopper = Shopper(persona, goal, rng, favourite_brand=favourite, config=config.policy)
            steps = _visit(store, shopper)
            yield Session(
                session_id=f"{user_id}-s{number:02d}",
                steps=tuple(steps),
                user_id=user_id,
                persona=persona.to_dict(goal, favourite),
            )
            if store.purchased or rng.random() >= config.keep_goal_rate:
                goal = sample_goal(rng)


def _visit(store: Store, shopper: Shopper) -> list[Step]:
    page = store.reset()
    steps: list[Step] = []
    while True:
        decision = shopper.decide(page, len(steps))
        slots = {k: v for k, v in decision.slots.items()}
        steps.append(
            Step(
                action=decision.action,
                html=page.html,
                url=page.url,
                rationale=write_rationale(decision.reason, slots, shopper.rng),
                meta={"reason": decision.reason, "slots": slots},
            )
        )
        if decision.action.type is ActionType.TERMINATE:
            return steps
        page = store.step(decision.action)
        if store.done:  # a purchase click ends the visit
            return steps
