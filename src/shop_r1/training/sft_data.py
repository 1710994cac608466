"""Stage 1 datasets: whole-session conversations tokenised with an assistant-token mask, or per-step rows.

The paper trains on whole sessions (section 2): one conversation per session, a user turn per page and
an assistant turn per step. The loss must fall on the assistant turns only. TRL's `assistant_only_loss`
needs `{% generation %}` markers in the chat template, which SmolLM2's (read from its GGUF) lacks, so
sessions are tokenised here instead: the template renders the conversation, each assistant turn's
character span is found by rendering the prefix that ends just before it (with the generation prompt)
and the prefix that ends just after it, and the tokens overlapping those spans get `assistant_masks = 1`.
`SFTTrainer` accepts such pre-tokenised rows and turns the mask into labels (-100 elsewhere).

The span covers the turn's content and its end-of-turn token (`<|im_end|>`: the model must learn to
stop), not the role header (`<|im_start|>assistant\\n`) nor the newline after the end token. Works for
any template whose rendering of a conversation prefix is a prefix of the whole rendering (ChatML,
Llama 3, ...); others are rejected with a pointer to the per-step format.

Per-step rows (`sft_format: step`) are conversational prompt/completion pairs, which TRL already trains
on the completion only.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from shop_r1.data.rebalance import rebalance_steps
from shop_r1.errors import ShopR1Error

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedTokenizerBase

    from shop_r1.training.configs import SFTDataArguments

logger = logging.getLogger(__name__)

Message = dict[str, str]


def _render(tokenizer: PreTrainedTokenizerBase, messages: list[Message], generation_prompt: bool) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)


def assistant_spans(messages: list[Message], tokenizer: PreTrainedTokenizerBase) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the `[start, end)` character span of every assistant turn's target."""
    text = _render(tokenizer, messages, False)
    spans = []
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = _render(tokenizer, messages[:index], True)
        through = _render(tokenizer, messages[: index + 1], False)
        if not (through.startswith(before) and text.startswith(through)):
            raise ShopR1Error(
                "this tokenizer's chat template does not render conversation prefixes as prefixes of the whole "
                "conversation, so assistant turns cannot be located; use --sft_format step"
            )
        # rstrip: the newline after the end-of-turn token separates turns, it is not part of the answer.
        spans.append((len(before), len(through.rstrip())))
    return text, spans


def tokenize_session(messages: list[Message], tokenizer: PreTrainedTokenizerBase) -> dict[str, list[int]]:
    """`input_ids` of the rendered conversation and `assistant_masks` (1 on assistant-turn tokens)."""
    if not getattr(tokenizer, "is_fast", False):
        raise ShopR1Error("whole-session SFT needs a fast tokenizer (character offsets); use --sft_format step")
    text, spans = assistant_spans(messages, tokenizer)
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    mask, span_index = [], 0
    for start, end in encoded["offset_mapping"]:
        # Spans and tokens are both in text order: advance past spans that end before this token.
        while span_index < len(spans) and spans[span_index][1] <= start:
            span_index += 1
        inside = span_index < len(spans) and max(end, start + 1) > spans[span_index][0]
        mask.append(int(inside))
    return {"input_ids": list(encoded["input_ids"]), "assistant_masks": mask}


def subset_rows(dataset: Dataset, limit: int | None, seed: int) -> Dataset:
    if limit is None or limit >= len(dataset):
        return dataset
    return dataset.shuffle(seed=seed).select(range(limit))


def completion_action_type(completion: list[Message]) -> str:
    """The action type a per-step SFT row teaches (its completion is the step's target JSON)."""
    return json.loads(completion[-1]["content"])["action"]["type"]


def rebalance_step_rows(dataset: Dataset, seed: int) -> Dataset:
    """Per-step rows subsampled toward the paper's near-uniform type mix (`data.rebalance`, section 2)."""
    types = [completion_action_type(completion) for completion in dataset["completion"]]
    kept = rebalance_steps(range(len(types)), key=types.__getitem__, seed=seed)
    logger.info("sft_mix rebalanced: %d of %d training rows kept", len(kept), len(types))
    return dataset.select(kept)


def load_jsonl(path: Any) -> Dataset:
    from datasets import load_dataset

    if not path.is_file():
        raise ShopR1Error(f"{path} is missing: build the datasets first with `shop-r1 data build SESSIONS "
                          f"{path.parent}` (or fix dataset_dir)")
    return load_dataset("json", data_files=str(path), split="train")


def load_sft_split(
    data_args: SFTDataArguments, tokenizer: PreTrainedTokenizerBase, *, split: str, seed: int,
    max_length: int | None = None,
) -> Dataset:
    """The `train` or `test` split, ready for `SFTTrainer` (tokenised sessions, or prompt/completion rows)."""
    path = data_args.train_file() if split == "train" else data_args.eval_file()
    limit = data_args.max_train_samples if split == "train" else data_args.max_eval_samples
    dataset = load_jsonl(path)
    if split == "train" and data_args.sft_mix == "rebalanced":
        dataset = rebalance_step_rows(dataset, seed)
    dataset = subset_rows(dataset, limit, seed)
    if data_args.sft_format == "step":
        return dataset.select_columns(["prompt", "completion"])
    dataset = dataset.map(
        lambda row: tokenize_session(row["messages"], tokenizer),
        remove_columns=dataset.column_names,
        desc=f"tokenising {split} sessions",
    )
    if max_length is not None:
        too_long = sum(len(ids) > max_length for ids in dataset["input_ids"])
        if too_long:
            logger.warning("%d of %d %s sessions exceed max_length=%d tokens; their later turns are cut off",
                           too_long, len(dataset), split, max_length)
    return dataset
