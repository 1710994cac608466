"""One simulated visit: the store tab, the steps taken so far, and how a proposed action advances it.

A proposal is checked twice: the driver says whether the completion gave a usable action at all
(`unparseable`, `incomplete_action`), then the store says whether it applies to the page in front of
the shopper (`invalid_action`: a name not on the page, typing into a button). Either failure costs one
sample; after `max_retries` resamples of the same step the visit ends as `invalid_output`. The store
never changes state on a refused action, so a resample sees exactly the same page.

Endings (`Visit.end`, and `meta["end"]` on the last step): `purchase`, `terminate`, `step_cap`,
`invalid_output`, `prompt_too_long`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from shop_r1.schema import Action, ActionType, Session, Step
from shop_r1.world.policy import Shopper
from shop_r1.world.store import InvalidActionError, Page, Store

__all__ = ["ENDINGS", "FAILURES", "Proposal", "Visit", "advance"]

ENDINGS = ("purchase", "terminate", "step_cap", "invalid_output", "prompt_too_long")
FAILURES = ("unparseable", "incomplete_action", "invalid_action", "request_failed")


@dataclass(frozen=True)
class Proposal:
    """What a driver proposes for a visit's next step.

    `action` is `None` when the completion gave no usable action; `failure` then says why. `fatal` ends the
    visit at once instead of resampling (a prompt that cannot fit the context budget will not fit next time).
    `meta` is copied into the step's meta (the world's reason code, a completion's finish reason).
    `text` is the raw completion, kept (shortened) when the visit ends on an unusable one.
    """

    action: Action | None
    rationale: str | None = None
    failure: str | None = None
    fatal: bool = False
    meta: dict[str, Any] = field(default_factory=dict)
    text: str | None = None


# How much of the last rejected completion is kept: enough to see what the model wrote, not a whole page.
REJECTED_CHARS = 500


@dataclass
class Visit:
    """A live visit. `samples` and `failures` are those of the step being decided now."""

    index: int
    visit_id: str
    user_id: str
    persona: str | dict[str, Any] | None
    store: Store
    page: Page
    source: str
    shopper: Shopper | None = None  # the world's policy, when the world drives
    steps: list[Step] = field(default_factory=list)
    samples: int = 0
    failures: list[str] = field(default_factory=list)
    total_samples: int = 0
    end: str | None = None
    last_rejected: str | None = None

    @property
    def done(self) -> bool:
        return self.end is not None

    def session(self) -> Session | None:
        """The finished visit in the native schema; `None` when it ended before any valid action."""
        if not self.steps:
            return None
        return Session(session_id=self.visit_id, steps=tuple(self.steps), user_id=self.user_id, persona=self.persona)

    def failed_record(self) -> dict[str, Any]:
        """What is kept of a visit without any step (`<out>.failed.jsonl`)."""
        return {"session_id": self.visit_id, "user_id": self.user_id, "end": self.end, "samples": self.samples,
                "failures": list(self.failures), "last_rejected": self.last_rejected}


def _finish(visit: Visit, end: str, **extra: Any) -> None:
    visit.end = end
    if visit.steps:  # the ending travels with the session: the last step says how the visit ended
        last = visit.steps[-1]
        visit.steps[-1] = replace(last, meta={**last.meta, "end": end, **extra})


def advance(visit: Visit, proposal: Proposal, *, max_retries: int, max_steps: int) -> str | None:
    """Apply `proposal` to `visit`; return the failure kind when it was not usable (else `None`)."""
    visit.samples += 1
    visit.total_samples += 1
    failure = proposal.failure
    next_page: Page | None = None
    if proposal.action is None and failure is None:
        failure = "unparseable"
    if failure is None and proposal.action is not None:
        try:
            next_page = visit.store.step(proposal.action)
        except InvalidActionError:
            failure = "invalid_action"
    if failure is not None:
        visit.failures.append(failure)
        visit.last_rejected = None if proposal.text is None else proposal.text[:REJECTED_CHARS]
        # The failures of the step that was never taken go on the last step that was.
        extra = {"next_step_failures": list(visit.failures), "last_rejected": visit.last_rejected} \
            if visit.steps else {}
        if proposal.fatal:
            _finish(visit, failure, **extra)
        elif visit.samples > max_retries:
            _finish(visit, "invalid_output", **extra)
        return failure
    assert proposal.action is not None and next_page is not None
    meta = {"source": visit.source, "page": visit.page.kind, "samples": visit.samples,
            "retries": visit.samples - 1, "failures": list(visit.failures), **proposal.meta}
    visit.steps.append(Step(action=proposal.action, html=visit.page.html, url=visit.page.url,
                            rationale=proposal.rationale, meta=meta))
    visit.samples = 0
    visit.failures = []
    store = visit.store
    if store.done:
        _finish(visit, "purchase" if store.purchased and proposal.action.type is not ActionType.TERMINATE
                else "terminate")
    elif len(visit.steps) >= max_steps:
        _finish(visit, "step_cap")
    else:
        visit.page = next_page
    return None
