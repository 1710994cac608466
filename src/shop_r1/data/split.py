"""Train / validation / test splits that never put one shopper in two parts.

The paper gives no split (arXiv 2507.17842, section 2); the project default splits by user when user
ids exist, else by session. Knobs are chosen on validation and test is scored once per configuration,
so validation is its own part of the users, never a slice of the test users.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import NamedTuple

from shop_r1.schema import Session


def split_key(session: Session) -> str:
    """The unit of splitting: the user when known, else the session itself."""
    return f"user:{session.user_id}" if session.user_id else f"session:{session.session_id}"


class SessionSplit(NamedTuple):
    train: list[Session]
    test: list[Session]
    unit: str  # "user", "session" or "user+session" (mixed data)
    validation: list[Session] = []


def _held_out_count(n_keys: int, fraction: float, available: int) -> int:
    """Groups for a held-out part, a `fraction` of all `n_keys`: at least one when asked for any, and at most
    `available - 1`, so that train keeps a group."""
    count = round(n_keys * fraction)
    if fraction > 0 and available >= 2:
        count = max(count, 1)
    return max(0, min(count, available - 1))


def split_sessions(
    sessions: Sequence[Session], *, test_fraction: float = 0.2, validation_fraction: float = 0.0, seed: int = 0
) -> SessionSplit:
    """Split by user (or by session where users are unknown), seeded, keeping file order within each part.

    Test takes the first groups of a seeded shuffle and validation the next ones, so adding a validation
    part leaves the test users of a seed unchanged. Train always keeps at least one group.
    """
    for name, fraction in (("test_fraction", test_fraction), ("validation_fraction", validation_fraction)):
        if not 0.0 <= fraction < 1.0:
            raise ValueError(f"{name} must be in [0, 1), got {fraction}")
    if test_fraction + validation_fraction >= 1.0:
        total = test_fraction + validation_fraction
        raise ValueError(f"test_fraction + validation_fraction must be below 1, got {total}")
    keys = sorted({split_key(s) for s in sessions})
    random.Random(seed).shuffle(keys)
    n_test = _held_out_count(len(keys), test_fraction, len(keys) - (validation_fraction > 0 and len(keys) > 2))
    n_validation = _held_out_count(len(keys), validation_fraction, len(keys) - n_test)
    test_keys, validation_keys = set(keys[:n_test]), set(keys[n_test:n_test + n_validation])
    train = [s for s in sessions if split_key(s) not in test_keys | validation_keys]
    test = [s for s in sessions if split_key(s) in test_keys]
    validation = [s for s in sessions if split_key(s) in validation_keys]
    with_user = sum(1 for s in sessions if s.user_id)
    unit = "user" if with_user == len(sessions) else "session" if with_user == 0 else "user+session"
    return SessionSplit(train, test, unit, validation)
