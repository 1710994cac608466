"""ROUGE-L F-measure over tokens, for any script; Google's `rouge-score` exactly with `tokenizer="rouge_score"`.

Shop-R1 (arXiv 2507.17842, section 3) scores element names and typed texts with ROUGE-L: the
F-measure of the longest common subsequence of *tokens*, not a character diff ratio. Two tokenizers:

- `"rouge_score"`: rouge-score's default tokenizer. It lower-cases the text and turns every character
  outside [a-z0-9] into a separator (so `add_to_cart.buy_now` is `add to cart buy now`), without
  stemming. Accented letters split words and text in other scripts has no tokens at all: the Chinese
  search text `平安扣` scores 0 even against itself. Kept to reproduce numbers computed with rouge-score
  (the paper's English ones); rouge-score itself is the test oracle and never imported by the package.
- `"unicode"` (the default): the same tokens for ASCII text, so English scores do not change. Other
  text is NFKC-normalised and lower-cased; words are runs of letters, digits and combining marks of any
  script, and each character of a script written without spaces between words (Chinese, Japanese,
  Thai, Lao, Khmer, Myanmar, Yi) is a token of its own. Two identical non-blank texts always score 1.

rouge-score computes the LCS with a pure-Python table (O(m*n), ~8 us for two short names); here the
tokens go through rapidfuzz's compiled bit-parallel LCS.

>>> rouge_l("add_to_cart.buy_now", "Add to cart / Buy now")
1.0
>>> round(rouge_l("search_results.item_2", "search_results.item_3"), 6)
0.75
>>> rouge_l("平安扣", "平安扣"), rouge_l("平安扣", "平安扣", tokenizer="rouge_score")
(1.0, 0.0)
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Literal, get_args

from rapidfuzz.distance import LCSseq

__all__ = ["TOKENIZERS", "RougeTokenizer", "rouge_l", "rouge_tokens", "unicode_tokens"]

# The one list of tokenizers: RewardConfig, the GRPO arguments, the evaluation and the CLI options read it.
RougeTokenizer = Literal["unicode", "rouge_score"]
TOKENIZERS: tuple[RougeTokenizer, ...] = get_args(RougeTokenizer)

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


# Scripts written without spaces between words: one token per character (a word segmenter would be a
# dependency and a language model of its own; character LCS is the usual ROUGE choice for them).
_UNSPACED = re.compile(
    "[\u0e00-\u0eff"  # Thai, Lao
    "\u1000-\u109f"  # Myanmar
    "\u1780-\u17ff\u19e0-\u19ff"  # Khmer
    "\u2e80-\u2fdf\u3005-\u3007\u3021-\u3029\u3031-\u3035\u3038-\u303c"  # CJK radicals, ideographic marks
    "\u3040-\u30ff\u31f0-\u31ff"  # Hiragana, Katakana
    "\u3100-\u312f\u31a0-\u31bf"  # Bopomofo
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK ideographs
    "\ua000-\ua4cf"  # Yi
    "\U00020000-\U0003134f]"  # CJK ideographs, extensions B and later
)


def _word_char(char: str) -> bool:
    return unicodedata.category(char)[0] in "LNM"


def _unicode_tokens(text: str) -> tuple[str, ...]:
    if text.isascii():  # the common case, and exactly rouge-score's tokens
        return tuple(_TOKEN.findall(text.lower()))
    tokens: list[str] = []
    word: list[str] = []
    for char in unicodedata.normalize("NFKC", text).lower():
        if _UNSPACED.match(char):
            if word:
                tokens.append("".join(word))
                word.clear()
            if _word_char(char):
                tokens.append(char)
        elif _word_char(char):
            word.append(char)
        elif word:
            tokens.append("".join(word))
            word.clear()
    if word:
        tokens.append("".join(word))
    return tuple(tokens)


_cached_unicode_tokens = lru_cache(maxsize=8192)(_unicode_tokens)


def unicode_tokens(text: str) -> tuple[str, ...]:
    """The default tokenizer's tokens (see the module docstring).

    >>> unicode_tokens("Café crème, 平安扣 size 10")
    ('café', 'crème', '平', '安', '扣', 'size', '10')
    """
    if len(text) <= _CACHE_MAX_CHARS:
        return _cached_unicode_tokens(text)
    return _unicode_tokens(text)


def _tokens(text: str, tokenizer: RougeTokenizer) -> tuple[str, ...]:
    if tokenizer == "unicode":
        return unicode_tokens(text)
    if tokenizer == "rouge_score":
        return rouge_tokens(text)
    raise ValueError(f"tokenizer must be one of {', '.join(TOKENIZERS)}, got {tokenizer!r}")


def _lcs_length(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    # rapidfuzz compares non-string elements by hash(); map tokens to small distinct ints first so that two
    # different tokens can never compare equal through a hash collision (the result stays exact).
    ids: dict[str, int] = {}
    return LCSseq.similarity(
        [ids.setdefault(token, len(ids)) for token in a], [ids.setdefault(token, len(ids)) for token in b]
    )


def rouge_l(prediction: str, reference: str, tokenizer: RougeTokenizer = "unicode") -> float:
    """ROUGE-L F-measure of the two texts' tokens (see the module docstring for the tokenizers).

    With `tokenizer="rouge_score"` it equals `RougeScorer(["rougeL"]).score(reference, prediction).fmeasure`.
    0.0 when either side has no tokens (rouge-score's rule), 1.0 for identical token sequences and, with
    the default tokenizer, for identical non-blank texts (`"!!!"` matches `"!!!"`).
    """
    if tokenizer == "unicode" and prediction == reference and prediction.strip():
        return 1.0
    pred = _tokens(prediction, tokenizer)
    ref = _tokens(reference, tokenizer)
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
