"""rationale_token_mask on real tokenizers: the embedded SmolLM2 byte-level BPE and a locally trained
SentencePiece-style Unigram (Metaspace, byte fallback), a different kind with other offsets and decoding."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from shop_r1.errors import ShopR1Error
from shop_r1.rewards import locate_rationale, rationale_token_mask
from shop_r1.rewards.token_mask import _decode, _marked_by_prefix_decoding

_CORPUS = [
    '{"rationale": "I want to compare prices before I buy the red running shoes.", '
    '"action": {"type": "click", "name": "search_results.item_2"}}',
    '{"rationale": "Searching for cheap headphones.", '
    '"action": {"type": "type_and_submit", "name": "search_input", "text": "wireless headphones"}}',
    '{"rationale": "Nothing here fits my budget, so I leave.", "action": {"type": "terminate"}}',
]


def _unigram_tokenizer() -> Any:
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.Unigram())
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=300, special_tokens=["<unk>", "</s>"], unk_token="<unk>")
    tok.train_from_iterator(_CORPUS * 20, trainer)
    # Byte fallback, as Llama / Mistral SentencePiece models have: characters never seen in training
    # (backslash, emoji, CJK) become <0xXX> byte pieces, so one character spans several tokens.
    spec = json.loads(tok.to_str())
    known = {piece for piece, _ in spec["model"]["vocab"]}
    spec["model"]["vocab"] += [[f"<0x{b:02X}>", -20.0] for b in range(256) if f"<0x{b:02X}>" not in known]
    spec["model"]["byte_fallback"] = True
    full = Tokenizer.from_str(json.dumps(spec))
    full.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Metaspace()])
    return PreTrainedTokenizerFast(tokenizer_object=full, unk_token="<unk>", eos_token="</s>")


@pytest.fixture(scope="module", params=["smollm2_bpe", "unigram_metaspace"])
def tokenizer(request: pytest.FixtureRequest) -> Any:
    if request.param == "unigram_metaspace":
        return _unigram_tokenizer()
    from shop_r1.models.tokenizers import load_tokenizer

    try:
        return load_tokenizer()
    except ShopR1Error as err:  # the embedded model's package is not installed
        pytest.skip(str(err))


def brute_force_spans(tokenizer: Any, ids: list[int], text: str) -> list[tuple[int, int]]:
    """Each token's characters, from the decode of every prefix (O(n^2): the test's independent reference)."""

    def covered(i: int) -> int:
        prefix = _decode(tokenizer, ids[:i])
        k = 0
        while k < min(len(prefix), len(text)) and prefix[k] == text[k]:
            k += 1
        return k

    bounds = [covered(i) for i in range(len(ids) + 1)]
    return list(zip(bounds, bounds[1:], strict=False))


def expected_mask(tokenizer: Any, ids: list[int], text: str, start: int, end: int) -> list[bool]:
    special = set(tokenizer.all_special_ids)
    # Overlap rule: a token holding any character of the value; a token that only completes part of a character
    # (zero width) belongs to that character.
    return [
        a < end and max(b, a + 1) > start and token not in special
        for (a, b), token in zip(brute_force_spans(tokenizer, ids, text), ids, strict=True)
    ]


CASES = {
    "plain": (
        '{"rationale": "I want to compare prices.", "action": {"type": "click", "name": "search_results.item_2"}}',
        "I want to compare prices.",
    ),
    "escaped_quotes_and_emoji": (
        '{"rationale": "I want \\"cheap\\" 😀 shoes.", "action": {"type": "click", "name": "a.b"}}',
        'I want \\"cheap\\" 😀 shoes.',
    ),
    "emoji_at_both_ends": ('{"rationale":"😀x😀","action":{"type":"terminate"}}', "😀x😀"),
    "accents_and_cjk": (
        '{"rationale": "Ich möchte 红色 Schuhe, naïve café.", "action": {"type": "terminate"}}',
        "Ich möchte 红色 Schuhe, naïve café.",
    ),
    "escaped_backslash_and_unicode_escape": (
        '{"rationale": "C:\\\\shoes \\u00e9 \\\\", "action": {"type": "terminate"}}',
        "C:\\\\shoes \\u00e9 \\\\",
    ),
    "rationale_after_action": ('{"action": {"type": "terminate"}, "rationale": "Leaving now."}', "Leaving now."),
    "spaces_around_colon": ('{ "rationale" :\n  "spaced out" , "action": {"type": "terminate"}}', "spaced out"),
    "escaped_key": ('{"\\u0072ationale": "still the key", "action": {"type": "terminate"}}', "still the key"),
    "prose_before_object": ('Sure! {"rationale": "Short one.", "action": {"type": "terminate"}}', "Short one."),
    "fenced": ('```json\n{"rationale": "Fenced.", "action": {"type": "terminate"}}\n```', "Fenced."),
    "truncated_inside_rationale": ('{"rationale": "I want to compare pri', "I want to compare pri"),
    "followed_by_eos": ('{"rationale": "Done here.", "action": {"type": "terminate"}}<EOS>', "Done here."),
}


def encode(tokenizer: Any, text: str) -> list[int]:
    """Token ids of `text`; a trailing `<EOS>` stands for the tokenizer's end-of-sequence token."""
    body = text.removesuffix("<EOS>")
    ids = tokenizer(body, add_special_tokens=False)["input_ids"]
    return [*ids, tokenizer.eos_token_id] if body != text else ids


@pytest.mark.parametrize(("text", "value"), list(CASES.values()), ids=list(CASES))
def test_marks_exactly_the_rationale_value(tokenizer: Any, text: str, value: str) -> None:
    ids = encode(tokenizer, text)
    decoded = _decode(tokenizer, ids)
    start, end = locate_rationale(decoded)
    assert decoded[start:end] == value
    mask = rationale_token_mask(ids, tokenizer)
    assert mask == expected_mask(tokenizer, ids, decoded, start, end)
    assert any(mask)
    # The marked tokens are one contiguous run, and together they spell the value (plus straddled edges).
    marked = [i for i, flag in enumerate(mask) if flag]
    assert marked == list(range(marked[0], marked[-1] + 1))
    assert value in _decode(tokenizer, ids[marked[0] : marked[-1] + 1])


@pytest.mark.parametrize(("text", "value"), list(CASES.values()), ids=list(CASES))
def test_prefix_decoding_fallback_agrees_with_offsets(tokenizer: Any, text: str, value: str) -> None:
    ids = encode(tokenizer, text)
    decoded = _decode(tokenizer, ids)
    start, end = locate_rationale(decoded)
    special = set(tokenizer.all_special_ids)
    fallback = [
        f and t not in special
        for f, t in zip(_marked_by_prefix_decoding(tokenizer, ids, decoded, start, end), ids, strict=True)
    ]
    assert fallback == rationale_token_mask(ids, tokenizer)


@pytest.mark.parametrize(
    "text",
    [
        '{"action": {"type": "terminate"}}',
        '{"rationale": "", "action": {"type": "terminate"}}',
        '{"rationale": 5, "action": {"type": "terminate"}}',
        '{"action": {"type": "click", "name": "x", "rationale": "nested"}, "thought": "no"}',
        '{"thought": {"rationale": "nested"}, "action": {"type": "terminate"}}',
        'I would click buy now because "rationale": "it\'s cheap".',
        '{"rationale"',
    ],
    ids=[
        "no_rationale",
        "empty_rationale",
        "rationale_number",
        "key_in_action",
        "key_in_other_object",
        "prose",
        "cut_after_key",
    ],
)
def test_all_false_without_a_rationale_string(tokenizer: Any, text: str) -> None:
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert rationale_token_mask(ids, tokenizer) == [False] * len(ids)


def test_empty_completion(tokenizer: Any) -> None:
    assert rationale_token_mask([], tokenizer) == []


def split_tokens(tokenizer: Any, ids: list[int]) -> list[int]:
    """The same text in more, shorter tokens: every token whose piece splits into two known pieces is split."""
    vocab = tokenizer.get_vocab()
    out = []
    for token_id, piece in zip(ids, tokenizer.convert_ids_to_tokens(ids), strict=True):
        cut = next((k for k in range(1, len(piece)) if piece[:k] in vocab and piece[k:] in vocab), None)
        out += [token_id] if cut is None else [vocab[piece[:cut]], vocab[piece[cut:]]]
    return out


def test_non_canonical_tokenization_uses_the_fallback(tokenizer: Any) -> None:
    # A sampled sequence need not be the tokenizer's own segmentation of its text.
    text, value = CASES["escaped_quotes_and_emoji"]
    canonical = tokenizer(text, add_special_tokens=False)["input_ids"]
    ids = split_tokens(tokenizer, canonical)
    decoded = _decode(tokenizer, ids)
    assert decoded == _decode(tokenizer, canonical)
    assert len(ids) > len(canonical)  # so the offsets of a re-encoding cannot be used
    start, end = locate_rationale(decoded)
    assert decoded[start:end] == value
    assert rationale_token_mask(ids, tokenizer) == expected_mask(tokenizer, ids, decoded, start, end)


class SlowTokenizer:
    """A tokenizer without offsets (like a pure-Python one): only decode and the special ids."""

    is_fast = False

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.all_special_ids = inner.all_special_ids

    def decode(self, ids: list[int], **kwargs: Any) -> str:
        return self.inner.decode(ids, **kwargs)


@pytest.mark.parametrize(("text", "value"), list(CASES.values()), ids=list(CASES))
def test_tokenizer_without_offsets(tokenizer: Any, text: str, value: str) -> None:
    ids = encode(tokenizer, text)
    assert rationale_token_mask(ids, SlowTokenizer(tokenizer)) == rationale_token_mask(ids, tokenizer)


def test_smollm2_marks_the_expected_tokens() -> None:
    from shop_r1.models.tokenizers import load_tokenizer

    try:
        tokenizer = load_tokenizer()
    except ShopR1Error as err:
        pytest.skip(str(err))
    text = '{"rationale": "I want \\"cheap\\" 😀 shoes.", "action": {"type": "click", "name": "a.b"}}'
    ids = [*tokenizer(text, add_special_tokens=False)["input_ids"], tokenizer.eos_token_id]
    mask = rationale_token_mask(ids, tokenizer)
    marked = [token for token, flag in zip(tokenizer.convert_ids_to_tokens(ids), mask, strict=True) if flag]
    # 'Ġ"' (space, opening quote) is out; '.",' straddles the closing quote: in; so are both byte tokens of the emoji.
    assert marked == ["I", "Ġwant", 'Ġ\\"', "che", "ap", '\\"', "ĠðŁĺ", "Ģ", "Ġshoes", '.",']


def test_accepts_a_tensor_of_ids(tokenizer: Any) -> None:
    torch = pytest.importorskip("torch")
    text = CASES["plain"][0]
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert rationale_token_mask(torch.tensor(ids), tokenizer) == rationale_token_mask(ids, tokenizer)
