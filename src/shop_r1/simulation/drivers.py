"""What proposes each visit's next action: a model's completions (`ModelDriver`) or the world's policy.

`ModelDriver` builds every prompt with `shop_r1.prompts.next_action_prompt` from the pages this visit
saw and the actions it took, exactly as `data build` builds RL/evaluation prompts (no rationales in the
context), then sends all live visits' prompts to the generator in one call: a batched `generate` for a
local model, concurrent requests for an endpoint. `WorldDriver` asks each visit's rule-based shopper,
as `data synth` does, and is the ground truth of an A/B test.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from shop_r1.evaluation.generation import Generator
from shop_r1.parsing import parse_completion
from shop_r1.prompts import Page as PromptPage
from shop_r1.prompts import PromptConfig, PromptTooLongError, TokenCounter, next_action_prompt
from shop_r1.simulation.visit import Proposal, Visit
from shop_r1.world.reason_templates import write_rationale

__all__ = [
    "Driver", "ModelDriver", "SharedPrefillGenerator", "WorldDriver", "proposal_from_completion", "visit_prompt",
]


class Driver(Protocol):
    source: str

    def propose(self, visits: Sequence[Visit]) -> list[Proposal]: ...


def visit_prompt(visit: Visit, config: PromptConfig, count_tokens: TokenCounter | None = None) -> list[dict[str, str]]:
    """The chat prompt for `visit`'s next action: its steps so far, then the page in front of it."""
    prompt = next_action_prompt(visit.steps, PromptPage(visit.page.html, visit.page.url), persona=visit.persona,
                                config=config, count_tokens=count_tokens)
    return prompt.messages


def proposal_from_completion(text: str, finish_reason: str = "stop") -> Proposal:
    """A completion -> a proposal; unusable text becomes a failure kind, never an exception."""
    meta = {"finish_reason": finish_reason}
    if finish_reason.startswith("request_failed"):
        return Proposal(None, failure="request_failed", meta=meta, text=finish_reason)
    parsed = parse_completion(text)
    if parsed is None:
        return Proposal(None, failure="unparseable", meta=meta, text=text)
    action = parsed.action.to_action()
    if action is None:  # well formed, but a click without a name or a search without text
        return Proposal(None, parsed.rationale, failure="incomplete_action", meta=meta, text=text)
    return Proposal(action, parsed.rationale, meta=meta, text=text)


class ModelDriver:
    """Prompts -> one generator call per tick -> parsed proposals."""

    source = "model"

    def __init__(self, generator: Generator, prompt: PromptConfig, count_tokens: TokenCounter | None = None) -> None:
        self.generator = generator
        self.prompt = prompt
        self.count_tokens = count_tokens

    def propose(self, visits: Sequence[Visit]) -> list[Proposal]:
        proposals: list[Proposal | None] = [None] * len(visits)
        prompts, keys, rows = [], [], []
        for row, visit in enumerate(visits):
            try:
                prompts.append(visit_prompt(visit, self.prompt, self.count_tokens))
            except PromptTooLongError as err:
                proposals[row] = Proposal(None, failure="prompt_too_long", fatal=True, meta={"error": str(err)})
                continue
            # The key names the visit, the step and the attempt: a resample draws a fresh seed.
            keys.append((visit.visit_id, len(visit.steps), visit.samples))
            rows.append(row)
        for row, generation in zip(rows, self.generator.generate(prompts, keys), strict=True):
            proposals[row] = proposal_from_completion(generation.text, generation.finish_reason)
        return [p for p in proposals if p is not None]


class WorldDriver:
    """Each visit's own rule-based shopper decides (the visit carries it); never fails."""

    source = "world"

    def propose(self, visits: Sequence[Visit]) -> list[Proposal]:
        out = []
        for visit in visits:
            shopper = visit.shopper
            assert shopper is not None, "a world-driven visit carries its shopper"
            decision = shopper.decide(visit.page, len(visit.steps))
            slots = dict(decision.slots)
            rationale = write_rationale(decision.reason, slots, shopper.rng)
            out.append(Proposal(decision.action, rationale, meta={"reason": decision.reason, "slots": slots}))
        return out


class SharedPrefillGenerator:
    """An `HFGenerator` whose batches prefill each distinct prompt once (`shop_r1.shared_prefill`).

    Visits without personas all start on the same home page, and so share their first prompt exactly; a
    tick of such visits then runs that prompt's prefill once instead of once per visit. Later prompts
    differ per visit and go through unchanged. Same tokens as without it (the cache is the one `generate`
    would compute), fewer prompt FLOPs.
    """

    def __init__(self, inner: Generator) -> None:
        self.inner = inner
        self.backend = getattr(inner, "backend", "hf")

    def generate(self, prompts, keys):  # type: ignore[no-untyped-def]
        from shop_r1.shared_prefill import shared_prompt_prefill

        with shared_prompt_prefill(self.inner.model):  # type: ignore[attr-defined]
            return self.inner.generate(prompts, keys)
