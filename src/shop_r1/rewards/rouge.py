"""ROUGE-L F-measure over tokens, identical to Google's `rouge-score` (`RougeScorer(["rougeL"])`) but fast.

Shop-R1 (arXiv 2507.17842, section 3) scores element names and typed texts with ROUGE-L: the
F-measure of the longest common subsequence of *tokens*, not a character diff ratio. rouge-score's
default tokenizer lower-cases the text, turns every character outside [a-z0-9] into a separator
(so `add_to_cart.buy_now` is `add to cart buy now`, accented letters split words and CJK text has
no tokens at all) and does not stem. rouge-score computes the LCS with a pure-Python table (O(m*n),
~8 us for two short names); here the same tokens go through rapidfuzz's compiled bit-parallel LCS.
rouge-score is the test oracle only and is never imported by the package.

>>> rouge_l("add_to_cart.buy_now", "Add to cart / Buy now")
1.0
>>> round(rouge_l("search_results.item_2", "search_results.item_3"), 6)
0.75
"""

from __future__ import annotations

import re
from functools import lru_cache

from rapidfuzz.distance import LCSseq

__all__ = ["rouge_l", "rouge_tokens"]

# rouge-score: lower(), replace runs of [^a-z0-9] by a space, split, keep tokens matching ^[a-z0-9]+$.
# After that substitution the kept tokens are exactly the maximal [a-z0-9] runs, so one findall is equivalent.
_TOKEN = re.compile(r"[a-z0-9]+")
# Names and search texts repeat across a GRPO group; long texts are rare and would bloat the cache.
_CACHE_MAX_CHARS = 256


@lru_cache(maxsize=8192)
def _cached_tokens(text: str) -> tuple[str, ...]:
    return tuple(_TOKEN.findall(text.lower()))


def rouge_tokens(text: str) -> tuple[str, ...]:
    """rouge-score's default tokens (no stemming).

    >>> rouge_tokens("Nike Air-Max 90, size 10½")
    ('nike', 'air', 'max', '90', 'size', '10')
    """
    if len(text) <= _CACHE_MAX_CHARS:
        return _cached_tokens(text)
    return tuple(_TOKEN.findall(text.lower()))


def _lcs_length(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    # rapidfuzz compares non-string elements by hash(); map tokens to small distinct ints first so that two
    # different tokens can never compare equal through a hash collision (the result stays exact).
    ids: dict[str, int] = {}
    return LCSseq.similarity(
        [ids.setdefault(token, len(ids)) for token in a], [ids.setdefault(token, len(ids)) for token in b]
    )


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure, equal to `RougeScorer(["rougeL"]).score(reference, prediction).fmeasure`.

    0.0 when either side has no tokens (rouge-score's rule), 1.0 for identical token sequences.
    """
    pred = rouge_tokens(prediction)
    ref = rouge_tokens(reference)
    if not pred or not ref:
        return 0.0
    if pred == ref:
        return 1.0
    lcs = _lcs_length(pred, ref)
    # Same operations in the same order as rouge_score._score_lcs + scoring.fmeasure, so floats match bit for bit.
    precision = lcs / len(pred)
    recall = lcs / len(ref)
    if precision + recall > 0:
        return 2 * precision * recall / (precision + recall)
    return 0.0
