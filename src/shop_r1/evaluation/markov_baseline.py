"""A non-neural baseline: the most frequent next action given the page kind and the previous action.

Fitted on the training users' sessions, it answers "what does the language model add?": a simulator
that does not beat a frequency table has learned nothing the table did not. The paper reports no such
baseline (arXiv 2507.17842, Table 2 starts from zero-shot).

The context of step t is `(page kind of step t, previous action)`:
- the page kind is the first path segment of the step's URL (`/search?q=..` -> `search`, `/p/P0163` ->
  `p`, `/` -> `home`), or `unknown` for history-only logs without URLs;
- the previous action is its type and element name (`click:search_results.item_2`), or `start` at the
  first step; typed texts are left out, as they rarely repeat.

Unseen contexts back off to the page kind alone, then to the overall most frequent action. Ties go to
the action whose JSON sorts first, so a fit is deterministic.

>>> from shop_r1.schema import Action, Session, Step
>>> search = Step(action=Action("type_and_submit", name="search_input", text="socks"), url="https://s.example/")
>>> click = Step(action=Action("click", name="search_results.item_1"), url="https://s.example/search?q=socks")
>>> table = MarkovBaseline.fit([Session("s1", (search, click))])
>>> table.predict([search], "https://s.example/search?q=socks").to_json()
'{"type": "click", "name": "search_results.item_1"}'
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from shop_r1.data.split import split_sessions
from shop_r1.errors import ShopR1Error
from shop_r1.evaluation.records import prediction_row, step_key
from shop_r1.schema import Action, Session, Step

__all__ = ["MarkovBaseline", "baseline_prediction_rows", "build_baseline_predictions", "page_kind",
           "previous_action_key", "training_sessions"]

START = "start"
UNKNOWN_PAGE = "unknown"


def page_kind(url: str | None) -> str:
    """The page's kind from its URL: the first path segment, `home` for the root, `unknown` without a URL.

    >>> page_kind("https://shop.example/search?q=wool+socks"), page_kind("https://shop.example/"), page_kind(None)
    ('search', 'home', 'unknown')
    """
    if not url:
        return UNKNOWN_PAGE
    path = urlsplit(url).path.strip("/")
    return path.split("/", 1)[0] if path else "home"


def previous_action_key(history: Sequence[Step]) -> str:
    """The last action taken, as type and element name (texts left out), or `start` before any."""
    if not history:
        return START
    action = history[-1].action
    return f"{action.type.value}:{action.name}" if action.name else action.type.value


def _most_frequent(counts: Counter[str]) -> str:
    return min(counts.items(), key=lambda item: (-item[1], item[0]))[0]


@dataclass(frozen=True)
class MarkovBaseline:
    """The fitted table, with its two back-off levels. Actions are stored as their canonical JSON."""

    by_context: Mapping[tuple[str, str], str]
    by_page_kind: Mapping[str, str]
    overall: str

    @classmethod
    def fit(cls, sessions: Iterable[Session]) -> MarkovBaseline:
        by_context: defaultdict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        by_kind: defaultdict[str, Counter[str]] = defaultdict(Counter)
        overall: Counter[str] = Counter()
        for session in sessions:
            for index, step in enumerate(session.steps):
                action = step.action.to_json()
                kind = page_kind(step.url)
                by_context[(kind, previous_action_key(session.steps[:index]))][action] += 1
                by_kind[kind][action] += 1
                overall[action] += 1
        if not overall:
            raise ShopR1Error("the frequency baseline needs at least one training step to fit")
        return cls(by_context={key: _most_frequent(c) for key, c in by_context.items()},
                   by_page_kind={key: _most_frequent(c) for key, c in by_kind.items()},
                   overall=_most_frequent(overall))

    def predict(self, history: Sequence[Step], current_url: str | None) -> Action:
        """The most frequent next action after `history` on a page at `current_url`."""
        kind = page_kind(current_url)
        action = (self.by_context.get((kind, previous_action_key(history))) or self.by_page_kind.get(kind)
                  or self.overall)
        return Action.from_dict(json.loads(action))


def baseline_prediction_rows(
    rows: Iterable[Mapping[str, Any]], sessions: Mapping[str, Session], baseline: MarkovBaseline
) -> list[dict[str, Any]]:
    """Predictions-file rows (as `predict` writes them) for dataset rows, each answered by the table.

    `sessions` maps session ids to the held-out sessions the rows were built from: the table reads the
    structured history, not the prompt text.
    """
    out = []
    for row in rows:
        session_id, step_index = step_key(row)
        session = sessions.get(session_id)
        if session is None or not 0 <= step_index < len(session.steps):
            raise ShopR1Error(f"no step {step_index} of session {session_id!r} among the sessions given")
        action = baseline.predict(session.steps[:step_index], session.steps[step_index].url)
        completion = json.dumps({"rationale": "", "action": action.to_dict()}, ensure_ascii=False)
        out.append(prediction_row(row, completion, finish_reason="stop", completion_tokens=None,
                                  generation={"model": "markov-baseline", "backend": "frequency-table"}))
    return out


def training_sessions(sessions: Sequence[Session], manifest: Mapping[str, Any]) -> list[Session]:
    """The train split of a `data build`, recomputed from its sessions and its manifest's split settings.

    The split is a pure function of the sessions and (test_fraction, validation_fraction, seed), so the
    table is fitted on exactly the users the models were trained on; a sessions file that does not give
    the manifest's held-out users back is refused.
    """
    config = manifest.get("config", {})
    split = split_sessions(sessions, test_fraction=config.get("test_fraction", 0.2),
                           validation_fraction=config.get("validation_fraction", 0.0), seed=config.get("seed", 0))
    for name, part in (("test", split.test), ("validation", split.validation)):
        recorded = manifest.get(f"{name}_users")
        if recorded is not None and sorted({s.user_id for s in part if s.user_id}) != sorted(recorded):
            raise ShopR1Error(f"these sessions do not split into the build's {name} users: pass the sessions file "
                              "the datasets were built from")
    return split.train


def build_baseline_predictions(
    sessions: Sequence[Session], manifest: Mapping[str, Any], rows: Iterable[Mapping[str, Any]],
    *, extra_sessions: Sequence[Session] = (),
) -> tuple[MarkovBaseline, list[dict[str, Any]]]:
    """The table fitted on a build's training users, and its predictions rows for `rows` of that build.

    `extra_sessions`: held-out sessions outside the build that rows may also come from (never fitted on).
    """
    table = MarkovBaseline.fit(training_sessions(sessions, manifest))
    return table, baseline_prediction_rows(rows, {s.session_id: s for s in [*sessions, *extra_sessions]}, table)
