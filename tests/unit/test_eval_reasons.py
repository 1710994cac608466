"""The reason classifier: exact on template-written gold rationales, sensible on paraphrases."""

from __future__ import annotations

import pytest

from shop_r1.evaluation.reasons import ReasonClassifier, classify_reason
from shop_r1.world.reason_templates import REASONS


@pytest.fixture(scope="module")
def gold_rationales() -> list[tuple[str, str]]:
    from shop_r1.world.synth import synthesize_sessions

    return [(step.rationale, step.meta["reason"]) for session in synthesize_sessions(12, 3, 0)
            for step in session.steps]


def test_every_gold_rationale_is_classified_correctly(gold_rationales):
    assert len(gold_rationales) > 100
    wrong = [(text, reason, classify_reason(text)) for text, reason in gold_rationales
             if classify_reason(text) != reason]
    assert wrong == []


def test_keyword_stage_alone_recovers_most_gold_reasons(gold_rationales):
    keywords_only = ReasonClassifier(use_templates=False)
    hits = sum(keywords_only.classify(text) == reason for text, reason in gold_rationales)
    assert hits / len(gold_rationales) >= 0.95


def test_every_template_maps_back_to_its_own_reason():
    # Each template with placeholder-looking slot values must come back to its own code.
    from shop_r1.world.reason_templates import TEMPLATES, template_slots

    for reason, templates in TEMPLATES.items():
        for template in templates:
            text = template.format(**{slot: f"Foo {slot}" for slot in template_slots(template)})
            assert classify_reason(text) == reason, text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Let me limit the price to $25 to $50.", "filter_price"),
        ("let   me LIMIT the price to $25 to $50.", "filter_price"),
        ("I think I'll narrow the price range a bit.", "filter_price"),
        ("I want to read the reviews before buying.", "read_reviews"),
        ("This is too expensive, going back.", "reject_price"),
        ("Let me add the Coolcore bottle to my cart.", "add_to_cart"),
        ("I want to sort by price.", "sort_price"),
        ("Blue.", None),
        ("", None),
        (None, None),
    ],
    ids=["template", "template-case-spacing", "paraphrase-price", "paraphrase-reviews", "paraphrase-expensive",
         "paraphrase-cart", "paraphrase-sort", "no-keywords", "empty", "none"],
)
def test_classify(text, expected):
    assert classify_reason(text) == expected


def test_answers_are_known_codes():
    assert set(ReasonClassifier().reasons) == set(REASONS)
