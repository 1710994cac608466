"""Whole-session SFT rows: the loss mask covers exactly the assistant turns (content + end-of-turn token)."""

import copy

import pytest

from shop_r1.errors import ShopR1Error
from shop_r1.prompts import PromptConfig, sft_conversation
from shop_r1.training.configs import SFTDataArguments
from shop_r1.training.sft_data import assistant_spans, load_sft_split, tokenize_session
from tests.conftest import make_session
from tests.training_support import build_synthetic_datasets


def _runs(ids, mask):
    """Maximal runs of consecutive masked token ids."""
    runs, current = [], []
    for token, bit in zip(ids, mask, strict=True):
        if bit:
            current.append(token)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return runs


@pytest.fixture(scope="module")
def conversation():
    return sft_conversation(make_session(n_steps=4, html_size=6), PromptConfig(max_context_tokens=None)).messages


def test_masked_tokens_are_exactly_the_assistant_turns(conversation, smollm2_tokenizer):
    row = tokenize_session(conversation, smollm2_tokenizer)
    assert len(row["input_ids"]) == len(row["assistant_masks"])
    answers = [m["content"] for m in conversation if m["role"] == "assistant"]
    runs = _runs(row["input_ids"], row["assistant_masks"])
    assert [smollm2_tokenizer.decode(run) for run in runs] == [a + "<|im_end|>" for a in answers]


def test_system_user_and_role_headers_are_not_trained_on(conversation, smollm2_tokenizer):
    row = tokenize_session(conversation, smollm2_tokenizer)
    unmasked = smollm2_tokenizer.decode([t for t, m in zip(row["input_ids"], row["assistant_masks"], strict=True)
                                         if not m])
    for message in conversation:
        assert (message["content"] in unmasked) == (message["role"] != "assistant")
    assert unmasked.count("<|im_start|>assistant\n") == 4  # headers stay in the prompt part


def test_tokens_equal_the_rendered_chat_template(conversation, smollm2_tokenizer):
    row = tokenize_session(conversation, smollm2_tokenizer)
    text = smollm2_tokenizer.apply_chat_template(conversation, tokenize=False)
    assert smollm2_tokenizer.decode(row["input_ids"]) == text


def test_template_whose_prefixes_differ_is_rejected(conversation, smollm2_tokenizer):
    odd = copy.deepcopy(smollm2_tokenizer)
    # A template that renders the last message differently cannot be split into turns by prefixes.
    odd.chat_template = ("{% for m in messages %}{% if loop.last %}LAST {% endif %}{{ m['role'] }}: "
                         "{{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant: {% endif %}")
    with pytest.raises(ShopR1Error, match="sft_format step"):
        assistant_spans(conversation, odd)


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    return build_synthetic_datasets(tmp_path_factory.mktemp("datasets"))


def test_load_session_split_is_pretokenised_with_masks(dataset_dir, smollm2_tokenizer):
    args = SFTDataArguments(dataset_dir=str(dataset_dir), max_train_samples=3)
    dataset = load_sft_split(args, smollm2_tokenizer, split="train", seed=0)
    assert dataset.column_names == ["input_ids", "assistant_masks"] and len(dataset) == 3
    assert all(0 < sum(m) < len(m) for m in dataset["assistant_masks"])


def test_load_step_split_keeps_prompt_completion(dataset_dir, smollm2_tokenizer):
    args = SFTDataArguments(dataset_dir=str(dataset_dir), sft_format="step")
    dataset = load_sft_split(args, smollm2_tokenizer, split="test", seed=0)
    assert dataset.column_names == ["prompt", "completion"]
    assert dataset[0]["completion"][0]["role"] == "assistant"


def test_missing_dataset_names_the_build_command(tmp_path, smollm2_tokenizer):
    args = SFTDataArguments(dataset_dir=str(tmp_path))
    with pytest.raises(ShopR1Error, match="shop-r1 data build"):
        load_sft_split(args, smollm2_tokenizer, split="train", seed=0)


def test_rebalanced_mix_follows_the_paper_ratios_and_leaves_test_alone(tmp_path, smollm2_tokenizer):
    from collections import Counter

    from shop_r1.data.build import BuildConfig, build_datasets
    from shop_r1.prompts import PromptConfig
    from shop_r1.training.sft_data import completion_action_type
    from tests.conftest import make_session

    # Click-heavy sessions: type, four clicks, terminate; four train users and one test user.
    sessions = [make_session(f"s{i}", f"u{i}", n_steps=6, html_size=4) for i in range(5)]
    build_datasets(sessions, tmp_path, BuildConfig(prompt=PromptConfig(max_context_tokens=None), test_fraction=0.2))

    def load(mix, split):
        args = SFTDataArguments(dataset_dir=str(tmp_path), sft_format="step", sft_mix=mix)
        return load_sft_split(args, smollm2_tokenizer, split=split, seed=0)

    def mix_of(dataset):
        return dict(Counter(map(completion_action_type, dataset["completion"])))

    assert mix_of(load("natural", "train")) == {"type_and_submit": 4, "click": 16, "terminate": 4}
    # PAPER_RATIOS 1.1 : 1.1 : 1 with 4 of the scarcest types: round(4 / 1.1 * 1.1) clicks are kept.
    assert mix_of(load("rebalanced", "train")) == {"type_and_submit": 4, "click": 4, "terminate": 4}
    assert mix_of(load("rebalanced", "test")) == {"type_and_submit": 1, "click": 4, "terminate": 1}


def test_rebalanced_mix_needs_step_rows(tmp_path):
    with pytest.raises(ValueError, match="sft_mix rebalanced needs sft_format step"):
        SFTDataArguments(dataset_dir=str(tmp_path), sft_mix="rebalanced")
