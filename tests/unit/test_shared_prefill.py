"""`shared_prompt_prefill`: one backbone pass per distinct prompt, and the same generations as without it."""

import pytest
import torch
from transformers import AutoModelForCausalLM, GenerationConfig

from shop_r1.shared_prefill import distinct_rows, shared_prompt_prefill
from tests.training_support import build_tiny_model


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return AutoModelForCausalLM.from_pretrained(build_tiny_model(tmp_path_factory.mktemp("tiny")),
                                                dtype=torch.float32).eval()


def _group_batch():
    """Two prompts of 30 and 22 tokens, left-padded, repeated as GRPO repeats them (a, a, b, b, a)."""
    generator = torch.Generator().manual_seed(0)
    a = torch.randint(5, 1000, (30,), generator=generator)
    b = torch.cat([torch.zeros(8, dtype=torch.long), torch.randint(5, 1000, (22,), generator=generator)])
    ids = torch.stack([a, a, b, b, a])
    mask = (torch.arange(30)[None] >= torch.tensor([0, 0, 8, 8, 0])[:, None]).long()
    return ids, mask


def _backbone_batch_sizes(model):
    sizes = []
    handle = model.base_model.register_forward_pre_hook(
        lambda module, args, kwargs: sizes.append(kwargs["input_ids"].shape), with_kwargs=True)
    return sizes, handle


def test_distinct_rows_keeps_first_seen_order_and_tells_padding_apart():
    ids = torch.tensor([[0, 5, 6], [7, 8, 9], [0, 5, 6], [0, 5, 6]])
    mask = torch.tensor([[0, 1, 1], [1, 1, 1], [0, 1, 1], [1, 1, 1]])  # the last row's 0 is a real token
    first, inverse = distinct_rows(ids, mask)
    assert first.tolist() == [0, 1, 3] and inverse.tolist() == [0, 1, 0, 2]


def test_same_tokens_and_scores_as_without_sharing(model):
    ids, mask = _group_batch()
    config = GenerationConfig(max_new_tokens=12, do_sample=False, pad_token_id=0, eos_token_id=None,
                              output_scores=True, return_dict_in_generate=True)
    stock = model.generate(input_ids=ids, attention_mask=mask, generation_config=config)
    with shared_prompt_prefill(model):
        shared = model.generate(input_ids=ids, attention_mask=mask, generation_config=config)
    assert torch.equal(shared.sequences, stock.sequences)
    for ours, theirs in zip(shared.scores, stock.scores, strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)


def test_the_prompt_is_processed_once_per_distinct_row(model):
    ids, mask = _group_batch()
    config = GenerationConfig(max_new_tokens=3, do_sample=False, pad_token_id=0, eos_token_id=None)
    sizes, handle = _backbone_batch_sizes(model)
    try:
        model.generate(input_ids=ids, attention_mask=mask, generation_config=config)
        stock = list(sizes)
        sizes.clear()
        with shared_prompt_prefill(model):
            model.generate(input_ids=ids, attention_mask=mask, generation_config=config)
    finally:
        handle.remove()
    assert stock[0] == (5, 30)  # the stock prefill: every row, whole prompt
    assert sizes[:2] == [(2, 29), (5, 1)]  # two distinct prompts but their last token, then each row's last token
    assert all(shape == (5, 1) for shape in sizes[2:]) and len(sizes) == len(stock) + 1


def test_distinct_prompts_and_own_caches_go_to_generate_unchanged(model):
    ids, mask = _group_batch()
    config = GenerationConfig(max_new_tokens=2, do_sample=False, pad_token_id=0, eos_token_id=None)
    sizes, handle = _backbone_batch_sizes(model)
    try:
        with shared_prompt_prefill(model):
            model.generate(input_ids=ids[1:3], attention_mask=mask[1:3], generation_config=config)
    finally:
        handle.remove()
    assert sizes[0] == (2, 30)
    assert "generate" not in vars(model)  # the class method is back


def _prefixed_rows():
    """Three prompts of 40-shared-token opening and own tails of 9, 3 and 14 tokens (a system prompt and pages)."""
    generator = torch.Generator().manual_seed(1)
    opening = torch.randint(5, 1000, (40,), generator=generator).tolist()
    return [opening + torch.randint(5, 1000, (n,), generator=generator).tolist() for n in (9, 3, 14)]


def _left_padded(rows):
    width = max(map(len, rows))
    ids = torch.tensor([[0] * (width - len(r)) + r for r in rows])
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
    return ids, mask


def test_common_prefix_layout_and_cache_give_the_tokens_and_scores_of_left_padding(model):
    from shop_r1.shared_prefill import PromptPrefixCache, prefix_layout

    rows = _prefixed_rows()
    config = GenerationConfig(max_new_tokens=10, do_sample=False, pad_token_id=0, eos_token_id=None,
                              output_scores=True, return_dict_in_generate=True)
    ids, mask = _left_padded(rows)
    stock = model.generate(input_ids=ids, attention_mask=mask, generation_config=config)
    length, cache = PromptPrefixCache(model).cache_for(rows)
    assert length == 40
    ids, mask = prefix_layout(rows, length, pad_id=0)
    shared = model.generate(input_ids=ids, attention_mask=mask, cache=cache, generation_config=config)
    assert torch.equal(shared.sequences[:, -10:], stock.sequences[:, -10:])
    for ours, theirs in zip(shared.scores, stock.scores, strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)


def test_the_prefix_is_prefilled_once_and_kept_while_batches_start_with_it(model):
    from shop_r1.shared_prefill import PromptPrefixCache

    rows = _prefixed_rows()
    prefixes = PromptPrefixCache(model)
    sizes, handle = _backbone_batch_sizes(model)
    try:
        assert prefixes.cache_for(rows)[0] == 40
        assert prefixes.cache_for(rows[1:])[0] == 40
        length, cache = prefixes.cache_for(rows[:1])  # one row that starts with the kept prefix still uses it
    finally:
        handle.remove()
    assert length == 40 and cache.get_seq_length() == 40 and prefixes.prefills == 1
    assert sizes == [(1, 40)]  # the only backbone pass: the prefix, once
    other = [[7] * 50 + [8], [7] * 50 + [9]]  # a batch with another opening replaces the kept prefix
    assert prefixes.cache_for(other)[0] == 50 and prefixes.prefills == 2


def test_short_openings_and_lone_new_rows_keep_the_stock_path(model):
    from shop_r1.shared_prefill import PromptPrefixCache

    prefixes = PromptPrefixCache(model, min_tokens=32)
    assert prefixes.cache_for([[1] * 20 + [2], [1] * 20 + [3]]) == (0, None)  # 20 shared tokens: not worth it
    assert prefixes.cache_for([[1] * 60]) == (0, None)  # a single row gains nothing from splitting its prefill
    assert prefixes.prefills == 0
