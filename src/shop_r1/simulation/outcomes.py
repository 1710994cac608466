"""Per-visit outcomes of a simulation's files: how far down the funnel each visit got, and its length.

Funnel stages, each counted once per visit:
- `search`: the visit acted on a search-results page (a query or a category click led there);
- `product`: it acted on a product page;
- `cart`: it acted on the cart or checkout page, or bought (a "Buy Now" purchase skips the cart but has
  committed to the product all the same);
- `purchase`: it ended in a purchase.
A purchase implies `product`; a visit without any step (it never produced a valid action) reached nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from shop_r1.schema import Session
from shop_r1.simulation.output import read_failed, read_out

__all__ = ["COUNT_COLUMNS", "Outcome", "outcome_matrix", "read_outcomes", "session_outcome"]

# The additive per-visit counts the A/B statistics are ratios of (see `outcome_matrix`).
COUNT_COLUMNS = ("visits", "search", "product", "cart", "purchase", "steps")


@dataclass(frozen=True, slots=True)
class Outcome:
    search: bool
    product: bool
    cart: bool
    purchase: bool
    steps: int

    def counts(self) -> list[float]:
        return [1.0, float(self.search), float(self.product), float(self.cart), float(self.purchase),
                float(self.steps)]


NO_STEPS = Outcome(False, False, False, False, 0)


def session_outcome(session: Session) -> Outcome:
    kinds = {step.meta.get("page") for step in session.steps}
    purchase = session.steps[-1].meta.get("end") == "purchase"
    return Outcome(
        search="search" in kinds,
        product="product" in kinds or purchase,
        cart=bool(kinds & {"cart", "checkout"}) or purchase,
        purchase=purchase,
        steps=len(session.steps),
    )


def read_outcomes(out: str | os.PathLike[str]) -> dict[str, Outcome]:
    """`visit id -> Outcome` for every visit in a run's files."""
    from pathlib import Path

    outcomes = {session.session_id: session_outcome(session) for session in read_out(Path(out))}
    for row in read_failed(out):
        outcomes[row["session_id"]] = NO_STEPS
    return outcomes


def outcome_matrix(outcomes: dict[str, Outcome], ids: list[str]) -> np.ndarray:
    """`(len(ids), len(COUNT_COLUMNS))` counts in the order of `ids` (the pairing of two arms)."""
    return np.asarray([outcomes[visit_id].counts() for visit_id in ids], dtype=float).reshape(len(ids),
                                                                                            len(COUNT_COLUMNS))
