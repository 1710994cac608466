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
