"""Stage 2 datasets: one conversational prompt per step with its gold action (`rl_{split}.jsonl`).

TRL 1.16 dropped `max_prompt_length`, so prompts longer than `max_prompt_tokens` (counted through the
chat template, as the trainer will tokenise them) are dropped here and counted. Every kept column
reaches the reward functions by name: `gold_action` for the action rewards, `session_id` and
`step_index` for the rollout log.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shop_r1.data.build import RL_ROW_COLUMNS
from shop_r1.errors import ShopR1Error
from shop_r1.prompts import chat_token_counter
from shop_r1.training.sft_data import load_jsonl, subset_rows

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedTokenizerBase

    from shop_r1.training.configs import GRPODataArguments

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PromptFilterReport:
    kept: int
    dropped_too_long: int
    max_prompt_tokens: int | None


def load_rl_split(
    data_args: GRPODataArguments, tokenizer: PreTrainedTokenizerBase, *, split: str, seed: int
) -> tuple[Dataset, PromptFilterReport]:
    """The `train` or `test` RL split with over-long prompts dropped, and how many were dropped."""
    path = data_args.train_file() if split == "train" else data_args.eval_file()
    limit = data_args.max_train_samples if split == "train" else data_args.max_eval_samples
    dataset = load_jsonl(path)
    missing = [c for c in ("prompt", "gold_action") if c not in dataset.column_names]
    if missing:
        raise ValueError(f"{path} lacks the column(s) {missing}: is it an rl_*.jsonl file from `shop-r1 data build`?")
    dataset = dataset.select_columns([c for c in RL_ROW_COLUMNS if c in dataset.column_names])
    before = len(dataset)
    budget = data_args.max_prompt_tokens
    if budget is not None:
        count = chat_token_counter(tokenizer)
        dataset = dataset.filter(lambda row: count(row["prompt"]) <= budget, desc=f"dropping {split} prompts > "
                                 f"{budget} tokens")
    dropped = before - len(dataset)
    if before and not len(dataset):
        raise ShopR1Error(f"none of the {before} {split} prompts in {path} fits max_prompt_tokens={budget}: raise it, "
                          "or rebuild the datasets with a smaller --max-context-tokens (or --context latest)")
    if dropped:
        logger.warning("dropped %d of %d %s prompts longer than max_prompt_tokens=%d", dropped, before, split, budget)
    dataset = subset_rows(dataset, limit, seed)  # after filtering: the limit counts usable prompts
    return dataset, PromptFilterReport(kept=len(dataset), dropped_too_long=dropped, max_prompt_tokens=budget)
