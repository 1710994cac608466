"""Descriptive statistics of a session file: what a user checks before training on it."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable
from typing import Any

from shop_r1.schema import ACTION_TYPES, Session

LENGTH_BUCKETS: tuple[tuple[int, int | None], ...] = ((1, 3), (4, 7), (8, 15), (16, 31), (32, None))


def _quantile(sorted_values: list[int], q: float) -> float:
    if len(sorted_values) == 1:
        return float(sorted_values[0])
    return float(statistics.quantiles(sorted_values, n=100, method="inclusive")[round(q * 100) - 1])


def session_stats(sessions: Iterable[Session]) -> dict[str, Any]:
    """Counts, action-type mix, how sessions end, length distribution, element names, rationale coverage."""
    sessions = list(sessions)
    types: Counter[str] = Counter()
    endings: Counter[str] = Counter()
    names: Counter[str] = Counter()
    lengths: list[int] = []
    with_rationale = with_html = steps = 0
    for session in sessions:
        lengths.append(len(session.steps))
        last = session.steps[-1].action
        endings["terminate" if last.type.value == "terminate" else "other"] += 1
        for step in session.steps:
            steps += 1
            types[step.action.type.value] += 1
            if step.action.name:
                names[step.action.name] += 1
            with_rationale += bool(step.rationale and step.rationale.strip())
            with_html += bool(step.html)
    lengths.sort()
    buckets = {}
    for low, high in LENGTH_BUCKETS:
        label = f"{low}-{high}" if high else f"{low}+"
        buckets[label] = sum(1 for n in lengths if n >= low and (high is None or n <= high))
    return {
        "sessions": len(sessions),
        "users": len({s.user_id for s in sessions if s.user_id}),
        "steps": steps,
        "action_types": {t: types[t] for t in ACTION_TYPES},
        "action_type_share": {t: (types[t] / steps if steps else 0.0) for t in ACTION_TYPES},
        "sessions_ending_in_terminate": endings["terminate"],
        "sessions_ending_otherwise": endings["other"],
        "session_length": {
            "min": lengths[0] if lengths else 0,
            "p25": _quantile(lengths, 0.25) if lengths else 0.0,
            "median": float(statistics.median(lengths)) if lengths else 0.0,
            "mean": statistics.fmean(lengths) if lengths else 0.0,
            "p75": _quantile(lengths, 0.75) if lengths else 0.0,
            "max": lengths[-1] if lengths else 0,
            "histogram": buckets,
        },
        "distinct_element_names": len(names),
        "top_element_names": names.most_common(10),
        "rationale_share": with_rationale / steps if steps else 0.0,
        "html_share": with_html / steps if steps else 0.0,
        "sessions_with_persona": sum(1 for s in sessions if s.persona is not None),
    }
