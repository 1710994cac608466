"""Seeds for independent random streams, derived from a base seed and labels.

Python's `hash()` of a string changes between processes, so it must never pick a seed; SHA-256 of
the labels does not. One stream per user (or per product) keeps the output of one independent of
how many others were generated before it.
"""

from __future__ import annotations

import hashlib
import random

__all__ = ["derive_seed", "stream"]


def derive_seed(*parts: object) -> int:
    """A 64-bit seed determined by `parts` alone.

    >>> derive_seed(0, "user", 3) == derive_seed(0, "user", 3) != derive_seed(0, "user", 4)
    True
    """
    digest = hashlib.sha256("\x1f".join(str(part) for part in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


def stream(*parts: object) -> random.Random:
    """A private `random.Random` seeded with `derive_seed(*parts)`."""
    return random.Random(derive_seed(*parts))
