"""rouge_l(tokenizer="rouge_score") must equal Google's rouge-score RougeScorer(["rougeL"]) (the oracle, a dev
dependency only); the default tokenizer must give the same values on English (ASCII) text."""

from __future__ import annotations

import random
from functools import partial

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rouge_score import rouge_scorer

from shop_r1.rewards.rouge import _lcs_length, rouge_l, rouge_tokens

rouge_score_l = partial(rouge_l, tokenizer="rouge_score")

ORACLE = rouge_scorer.RougeScorer(["rougeL"])
TOLERANCE = 1e-9


def oracle(prediction: str, reference: str) -> float:
    return ORACLE.score(reference, prediction)["rougeL"].fmeasure


ADVERSARIAL = {
    "both_empty": ("", ""),
    "empty_prediction": ("", "red shoes"),
    "empty_reference": ("red shoes", ""),
    "punctuation_only": ("!!! ... ???", "---"),
    "punctuation_vs_words": ("...", "red shoes"),
    "whitespace_only": (" \t\n ", "red"),
    "identical": ("add_to_cart.buy_now", "add_to_cart.buy_now"),
    "case_and_separators": ("Add To Cart / Buy-Now", "add_to_cart.buy_now"),
    "figure1_names": ("refinements.customer_reviews", "add_to_cart.buy_now"),
    "sibling_items": ("search_results.item_2", "search_results.item_3"),
    "reordered": ("shoes red running", "red running shoes"),
    "repeats_in_prediction": ("the the the the the", "the cat sat on the mat"),
    "repeats_in_both": ("a a a b b b", "b b a a"),
    "single_token_repeat": ("a " * 300, "a"),
    "long_repeats": ("x y " * 200, "y x " * 150),
    "digits": ("size 10 1/2", "size 10.5"),
    "accents_split_words": ("Café crème brûlée", "cafe creme brulee"),
    "cjk_has_no_tokens": ("红色跑鞋", "红色跑鞋"),
    "cjk_mixed": ("nike 跑鞋 42", "nike shoes 42"),
    "emoji": ("😀 shoes 😀", "shoes"),
    "kelvin_sign_lowercases_to_k": ("\u212a", "k"),
    "dotted_capital_i": ("\u0130stanbul", "istanbul"),
    "sharp_s": ("straße", "strasse"),
    "arabic_indic_digits": ("\u0661\u0662\u0663", "123"),
    "fullwidth_letters": ("\uff41\uff42\uff43", "abc"),
    "underscores_and_dots": ("a_b.c-d/e", "a b c d e"),
    "newlines_and_tabs": ("red\nrunning\tshoes", "red running shoes"),
    "lone_surrogate": ("red \ud800 shoes", "red shoes"),
    "nul_bytes": ("red\x00shoes", "red shoes"),
    "long_text": (
        "I want to see what other buyers say first before I commit to buying these running shoes.",
        "I would like to read what other buyers say before buying the shoes.",
    ),
}


@pytest.mark.parametrize(("prediction", "reference"), list(ADVERSARIAL.values()), ids=list(ADVERSARIAL))
def test_adversarial_pairs_match_rouge_score(prediction: str, reference: str) -> None:
    assert rouge_score_l(prediction, reference) == pytest.approx(oracle(prediction, reference), abs=TOLERANCE)


@pytest.mark.parametrize(
    ("prediction", "reference", "expected"),
    [
        ("add_to_cart.buy_now", "Add to cart / Buy now", 1.0),
        ("refinements.customer_reviews", "add_to_cart.buy_now", 0.0),
        ("search_results.item_2", "search_results.item_3", 0.75),
        ("red running shoes", "red running shoes for women", 0.75),
        ("red running shoes for men", "red running shoes for women", 0.8),
        ("", "", 0.0),
    ],
    ids=["separators", "disjoint", "sibling_item", "subset", "one_substitution", "empty"],
)
def test_known_values(prediction: str, reference: str, expected: float) -> None:
    assert rouge_l(prediction, reference) == pytest.approx(expected, abs=1e-12)
    assert rouge_score_l(prediction, reference) == pytest.approx(expected, abs=1e-12)


def test_identical_cjk_matches_by_default_and_scores_zero_as_rouge_score() -> None:
    assert rouge_l("红色跑鞋", "红色跑鞋") == 1.0
    assert rouge_score_l("红色跑鞋", "红色跑鞋") == 0.0


@pytest.mark.parametrize(("kind", "size", "seed"), [("words", 800, 1), ("edited_reference", 500, 4)])
def test_default_tokenizer_equals_rouge_score_on_ascii_text(kind: str, size: int, seed: int) -> None:
    def ascii_only(text: str) -> str:  # the corpora's non-ASCII separators become "?"
        return text.encode("ascii", "replace").decode("ascii")

    pairs = [(ascii_only(p), ascii_only(r)) for p, r in _corpus(kind, size, seed)]
    assert len({score for p, r in pairs for score in [rouge_score_l(p, r)]}) > 10  # real spread of values
    assert [rouge_l(p, r) for p, r in pairs] == [rouge_score_l(p, r) for p, r in pairs]


class CollidingToken(str):
    """A token whose hash collides with every other one's, as two real tokens' 64-bit hashes could."""

    def __hash__(self) -> int:
        return 1


def test_lcs_is_exact_even_when_token_hashes_collide() -> None:
    a = tuple(CollidingToken(t) for t in ("red", "running", "shoes"))
    b = tuple(CollidingToken(t) for t in ("blue", "walking", "boots", "now"))
    assert _lcs_length(a, b) == 0
    assert _lcs_length(a, a[::-1]) == 1


def test_tokens_follow_rouge_score_tokenizer() -> None:
    assert rouge_tokens("Nike Air-Max 90, size 10½ Café") == ("nike", "air", "max", "90", "size", "10", "caf")


# Seeded corpora, 2,400 pairs in all: each corpus is one property ("every pair agrees with the oracle").
_WORDS = ["red", "shoes", "running", "the", "a", "for", "women", "men", "size", "10", "nike", "buy", "now", "cart"]
_SEPARATORS = [" ", "  ", "_", ".", "-", "/", ", ", "\n", "!", "é", "😀", "中"]
_NOISE = "aZ9 _.-/!?\"'\\\t\n\x00éÉßİ\u212a中文😀\u0661\uff41\ud800"


def _words_text(rng: random.Random, vocab: list[str], max_words: int) -> str:
    words = [rng.choice(vocab) for _ in range(rng.randint(0, max_words))]
    pieces = []
    for word in words:
        pieces.append(word.upper() if rng.random() < 0.2 else word)
        pieces.append(rng.choice(_SEPARATORS))
    return "".join(pieces)


def _corpus(kind: str, size: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    pairs = []
    for _ in range(size):
        if kind == "words":
            pairs.append((_words_text(rng, _WORDS, 25), _words_text(rng, _WORDS, 25)))
        elif kind == "small_vocab_repeats":
            pairs.append((_words_text(rng, ["a", "b"], 40), _words_text(rng, ["a", "b", "c"], 40)))
        elif kind == "noise":
            pairs.append(tuple("".join(rng.choice(_NOISE) for _ in range(rng.randint(0, 60))) for _ in range(2)))
        elif kind == "edited_reference":
            reference = _words_text(rng, _WORDS, 12)
            tokens = reference.split()
            for _ in range(rng.randint(0, 3)):
                if tokens and rng.random() < 0.5:
                    del tokens[rng.randrange(len(tokens))]
                else:
                    tokens.insert(rng.randint(0, len(tokens)), rng.choice(_WORDS))
            pairs.append((" ".join(tokens), reference))
    return pairs


@pytest.mark.parametrize(
    ("kind", "size", "seed"),
    [("words", 800, 1), ("small_vocab_repeats", 500, 2), ("noise", 600, 3), ("edited_reference", 500, 4)],
    ids=["words", "small_vocab_repeats", "noise", "edited_reference"],
)
def test_random_corpus_matches_rouge_score(kind: str, size: int, seed: int) -> None:
    mismatches = [
        (p, r, rouge_score_l(p, r), oracle(p, r))
        for p, r in _corpus(kind, size, seed)
        if abs(rouge_score_l(p, r) - oracle(p, r)) > TOLERANCE
    ]
    assert mismatches == []


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80), st.text(max_size=80))
def test_arbitrary_text_matches_rouge_score(prediction: str, reference: str) -> None:
    assert rouge_score_l(prediction, reference) == pytest.approx(oracle(prediction, reference), abs=TOLERANCE)
