"""Train/test splits that never put one shopper in both (project default, spec section 2)."""

from __future__ import annotations

import random
from collections.abc import Sequence

from shop_r1.schema import Session


def split_key(session: Session) -> str:
    """The unit of splitting: the user when known, else the session itself."""
    return f"user:{session.user_id}" if session.user_id else f"session:{session.session_id}"


def split_sessions(
    sessions: Sequence[Session], *, test_fraction: float = 0.2, seed: int = 0
) -> tuple[list[Session], list[Session], str]:
    """Split by user (or by session where users are unknown), seeded, keeping file order within each side.

    Returns `(train, test, unit)` where unit is "user", "session" or "user+session" (mixed data).
    """
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction}")
    keys = sorted({split_key(s) for s in sessions})
    random.Random(seed).shuffle(keys)
    n_test = round(len(keys) * test_fraction)
    if test_fraction > 0 and len(keys) >= 2:
        n_test = min(max(n_test, 1), len(keys) - 1)
    test_keys = set(keys[:n_test])
    train = [s for s in sessions if split_key(s) not in test_keys]
    test = [s for s in sessions if split_key(s) in test_keys]
    with_user = sum(1 for s in sessions if s.user_id)
    unit = "user" if with_user == len(sessions) else "session" if with_user == 0 else "user+session"
    return train, test, unit
