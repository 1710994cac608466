"""Which completion tokens belong to the rationale: the tokens that self-certainty averages over.

Shop-R1 (arXiv 2507.17842, Eq. 3) averages self-certainty over "the tokens of the generated
rationale". Here that means the tokens whose characters fall inside the JSON string *value* of the
top-level `rationale` key: not the key, not the quotes around the value, not the action. In

    {"rationale": "I want \\"cheap\\" shoes 😀", "action": {"type": "terminate"}}

the value is `I want \\"cheap\\" shoes 😀` exactly as written, escapes included (they are text the
model generated).

Rules:
- The completion text is `tokenizer.decode(completion_ids)` with special tokens kept and no
  clean-up, so character positions line up with the tokens; special tokens are never marked.
- A token is marked when any of its characters lies inside the value, so a token that straddles the
  boundary (`"I`, `."`) counts; a token that is only the quote does not. A token that is only part
  of a character (one byte of a multi-byte emoji in byte-level BPE) belongs to that character.
- The value is located by a small JSON scanner, not by the parser: the first `rationale` key whose
  value is a string, at the top level of an object not nested in another (nested `rationale` keys,
  e.g. inside the action, never count). This also works on completions that do not parse (a
  truncated string runs to the end of the text; prose around the object is skipped). Their reward
  is 0 anyway, but the mask stays meaningful for logging. All-False when there is no such string
  or it is empty.

Speed (called on every rollout): fast tokenizers re-encode the decoded text once with offsets; when
that re-encoding gives back the same ids (the usual case) the offsets are used directly. Otherwise
(slow tokenizers, or a sampled non-canonical tokenization) the two boundary tokens are found by
binary search over prefix decodes: O(log n) decodes instead of one per token. Only the tokenizer
object is used: this module imports neither torch nor transformers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["locate_rationale", "rationale_token_mask"]

# A JSON string from its opening quote: body (escapes kept), then the closing quote if there is one.
_STRING = re.compile(r'"(?P<body>[^"\\]*(?:\\.[^"\\]*)*)(?P<close>"?)', re.DOTALL)
_WS = re.compile(r"[ \t\n\r]*")
_STRUCTURE = re.compile(r'[{}\[\],"]')


def _is_rationale_key(raw: str) -> bool:
    if raw == '"rationale"':
        return True
    if "\\" not in raw:
        return False
    try:  # an escaped spelling such as "\u0072ationale" is the same key
        return json.loads(raw) == "rationale"
    except ValueError:
        return False


def locate_rationale(text: str) -> tuple[int, int] | None:
    """Character span `[start, end)` of the raw value of the first top-level `rationale` string, or `None`.

    >>> text = '{"rationale": "Cheap.", "action": {"type": "terminate"}}'
    >>> start, end = locate_rationale(text)
    >>> text[start:end]
    'Cheap.'
    >>> locate_rationale('{"rationale": "Cut of') == (15, 21)
    True
    """
    n = len(text)
    pos = text.find("{")
    while 0 <= pos < n:
        # Inside one top-level object; pos is at its "{".
        depth, expect_key, pos = 1, True, pos + 1
        while depth and pos < n:
            found = _STRUCTURE.search(text, pos)
            if found is None:
                return None
            char, pos = found.group(), found.start()
            if char == '"':
                string = _STRING.match(text, pos)
                assert string is not None  # the pattern matches any text that starts with a quote
                closed = string.group("close") == '"'
                if depth == 1 and expect_key and closed and _is_rationale_key(string.group()):
                    colon = _WS.match(text, string.end()).end()
                    if colon < n and text[colon] == ":":
                        value = _WS.match(text, colon + 1).end()
                        if value < n and text[value] == '"':
                            body = _STRING.match(text, value)
                            assert body is not None
                            start = body.start("body")
                            return start, (body.end("body") if body.group("close") else n)
                expect_key = False
                pos = string.end() if closed else n
                continue
            if char in "{[":
                depth += 1
            elif char in "}]":
                depth -= 1
            expect_key = depth == 1 and char == ","
            pos += 1
        pos = text.find("{", pos)
    return None


def _ids(completion_ids: Any) -> list[int]:
    return completion_ids.tolist() if hasattr(completion_ids, "tolist") else list(completion_ids)


def _decode(tokenizer: Any, ids: Sequence[int]) -> str:
    return tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)


def _offsets_if_canonical(tokenizer: Any, ids: list[int], text: str) -> list[tuple[int, int]] | None:
    if not getattr(tokenizer, "is_fast", False):
        return None
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:  # the Rust tokenizer directly: a fraction of the wrapper's per-call overhead
        encoding = backend.encode(text, add_special_tokens=False)
        ids_again, offsets = encoding.ids, encoding.offsets
    else:
        encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        ids_again, offsets = encoded["input_ids"], encoded["offset_mapping"]
    if list(ids_again) != ids:
        return None
    return [(int(a), int(b)) for a, b in offsets]


def _marked_from_offsets(offsets: list[tuple[int, int]], start: int, end: int) -> list[bool]:
    # A zero-width span stands for (part of) the character at its position.
    return [a < end and max(b, a + 1) > start for a, b in offsets]


def _first_true(lo: int, hi: int, predicate: Callable[[int], bool]) -> int:
    """Smallest i in [lo, hi) with predicate(i) (monotone: false then true), or hi."""
    while lo < hi:
        mid = (lo + hi) // 2
        if predicate(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def _marked_by_prefix_decoding(tokenizer: Any, ids: list[int], text: str, start: int, end: int) -> list[bool]:
    cache: dict[int, int] = {0: 0, len(ids): len(text)}

    def covered(i: int) -> int:
        """How many characters of `text` the first i tokens produce: the common prefix of their decode and text.

        A prefix that ends inside a multi-byte character decodes to a replacement character that `text` lacks,
        so that character is not counted until its last token.
        """
        if i not in cache:
            prefix = _decode(tokenizer, ids[:i])
            if text.startswith(prefix):
                cache[i] = len(prefix)
            else:
                # Longest common prefix, by binary search on startswith (monotone, unlike comparing one index).
                limit = min(len(prefix), len(text))
                cache[i] = _first_true(0, limit, lambda k: not text.startswith(prefix[: k + 1]))
        return cache[i]

    # Token i covers [covered(i), covered(i + 1)); both bounds only grow with i, so the marked tokens are the
    # contiguous run between the first token that reaches past `start` and the first one that begins at `end`.
    n = len(ids)
    first = _first_true(0, n, lambda i: max(covered(i + 1), covered(i) + 1) > start)
    stop = _first_true(first, n, lambda i: covered(i) >= end)
    return [first <= i < stop for i in range(n)]


def rationale_token_mask(completion_ids: Sequence[int] | Any, tokenizer: Any) -> list[bool]:
    """One flag per completion token: true when the token carries characters of the rationale value.

    Args:
        completion_ids (`Sequence[int]` or a 1-D tensor): the generated token ids (no prompt, no padding).
        tokenizer (`PreTrainedTokenizerBase`): the policy's tokenizer.
    """
    ids = _ids(completion_ids)
    if not ids:
        return []
    text = _decode(tokenizer, ids)
    span = locate_rationale(text)
    if span is None or span[0] == span[1]:
        return [False] * len(ids)
    start, end = span
    offsets = _offsets_if_canonical(tokenizer, ids, text)
    if offsets is not None:
        marked = _marked_from_offsets(offsets, start, end)
    else:
        marked = _marked_by_prefix_decoding(tokenizer, ids, text, start, end)
    special = set(getattr(tokenizer, "all_special_ids", ()) or ())
    if special:
        marked = [flag and token not in special for flag, token in zip(marked, ids, strict=True)]
    return marked
