"""Turn sessions into the datasets the two training stages read (JSONL, loadable by `datasets`).

Files written to the output directory, each for the train and the test split (and a validation split
when `validation_fraction` > 0, for choosing knobs without touching the test users):
- `sft_{split}.jsonl`: whole-session conversations (`messages`), the paper's SFT data.
- `sft_steps_{split}.jsonl`: one prompt/completion row per step (conversational), the per-step SFT option.
- `rl_{split}.jsonl`: one prompt per step with its `gold_action` (no rationales in the context), for GRPO
  and evaluation.
- `manifest.json`: the configuration, the counts and what the token budget truncated or skipped.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from shop_r1.data.atomic import atomic_write
from shop_r1.data.io import write_jsonl
from shop_r1.data.publish import publish_directory
from shop_r1.data.rebalance import rebalance_steps
from shop_r1.data.split import split_sessions
from shop_r1.errors import ShopR1Error
from shop_r1.prompts import PromptConfig, PromptTooLongError, TokenCounter, rl_prompt, sft_conversation, target_json
from shop_r1.schema import Session

SPLITS = ("train", "validation", "test")
# Columns of every rl_*.jsonl row that prediction and GRPO read (rows carry more, e.g. gold_rationale).
RL_ROW_COLUMNS = ("prompt", "gold_action", "session_id", "step_index")
MANIFEST = "manifest.json"
_OUTPUT_NAME = re.compile(r"(?:sft|sft_steps|rl)_(?:train|validation|test)\.jsonl")


@dataclass(frozen=True)
class BuildConfig:
    prompt: PromptConfig = field(default_factory=PromptConfig)
    test_fraction: float = 0.2
    validation_fraction: float = 0.0
    seed: int = 0
    # Subsample RL rows toward the paper's near-uniform action mix (logs are click-heavy); SFT keeps all.
    rebalance_rl: bool = False


@dataclass
class SplitCounts:
    sessions: int = 0
    users: int = 0
    sft_sessions: int = 0
    sft_steps: int = 0
    rl_steps: int = 0
    truncated_step_prompts: int = 0
    truncated_conversations: int = 0
    skipped_too_long_steps: int = 0
    skipped_too_long_sessions: int = 0


@dataclass
class BuildReport:
    outdir: str
    split_unit: str
    splits: dict[str, SplitCounts]
    files: dict[str, str]

    def total(self, counter: str) -> int:
        return sum(getattr(c, counter) for c in self.splits.values())


def gold_action_column(session: Session, step_index: int) -> dict[str, str | None]:
    """The gold action with all three keys, so the Arrow column has one fixed struct type."""
    action = session.steps[step_index].action
    return {"type": action.type.value, "name": action.name, "text": action.text}


def sft_target(session: Session, step_index: int) -> dict[str, str]:
    return {"role": "assistant", "content": target_json(session.steps[step_index])}


def _ids(session: Session) -> dict[str, Any]:
    return {"session_id": session.session_id, "user_id": session.user_id}


def step_rows(
    session: Session, config: PromptConfig, count_tokens: TokenCounter | None, counts: SplitCounts
) -> tuple[list[dict], list[dict]]:
    """Per-step SFT rows and RL rows. Both share one prompt per step, so it is built (and counted) once."""
    sft_steps, rl = [], []
    for index, step in enumerate(session.steps):
        try:
            prompt = rl_prompt(session, index, config, count_tokens)
        except PromptTooLongError:
            counts.skipped_too_long_steps += 1
            continue
        counts.truncated_step_prompts += prompt.truncated
        common = {**_ids(session), "step_index": index, "truncated": prompt.truncated}
        sft_steps.append({"prompt": prompt.messages, "completion": [sft_target(session, index)], **common})
        rl.append({
            "prompt": prompt.messages,
            "gold_action": gold_action_column(session, index),
            "gold_rationale": step.rationale,
            "gold_reason": step.meta.get("reason") if isinstance(step.meta.get("reason"), str) else None,
            "num_steps": len(session.steps),
            **common,
        })
    return sft_steps, rl


def sft_session_row(
    session: Session, config: PromptConfig, count_tokens: TokenCounter | None, counts: SplitCounts
) -> dict | None:
    try:
        prompt = sft_conversation(session, config, count_tokens)
    except PromptTooLongError:
        counts.skipped_too_long_sessions += 1
        return None
    counts.truncated_conversations += prompt.truncated
    return {"messages": prompt.messages, **_ids(session), "truncated": prompt.truncated}


def rebalance_rl_rows(rows: list[dict], config: BuildConfig) -> list[dict]:
    """RL rows subsampled toward the paper's action mix when `config.rebalance_rl`, else as they are."""
    if not config.rebalance_rl:
        return rows
    return rebalance_steps(rows, key=lambda row: row["gold_action"]["type"], seed=config.seed)


def build_datasets(
    sessions: Sequence[Session],
    outdir: str | os.PathLike[str],
    config: BuildConfig = BuildConfig(),
    count_tokens: TokenCounter | None = None,
    on_session: Callable[[], None] | None = None,
) -> BuildReport:
    """Split the sessions, build every dataset, and replace the datasets in `outdir` with them at once."""
    split = split_sessions(sessions, test_fraction=config.test_fraction,
                           validation_fraction=config.validation_fraction, seed=config.seed)
    parts = {"train": split.train, "test": split.test}
    if config.validation_fraction > 0:
        parts["validation"] = split.validation
    out = Path(outdir)
    whole_session = config.prompt.context != "latest"
    counts: dict[str, SplitCounts] = {}
    files: dict[str, str] = {}
    pending: dict[str, list[dict]] = {}
    for name in (n for n in SPLITS if n in parts):
        part = parts[name]
        c = counts[name] = SplitCounts(sessions=len(part), users=len({s.user_id for s in part if s.user_id}))
        sft, steps, rl = [], [], []
        for session in part:
            if whole_session and (row := sft_session_row(session, config.prompt, count_tokens, c)) is not None:
                sft.append(row)
            session_steps, session_rl = step_rows(session, config.prompt, count_tokens, c)
            steps.extend(session_steps)
            rl.extend(session_rl)
            if on_session is not None:
                on_session()
        rl = rebalance_rl_rows(rl, config)
        c.sft_sessions, c.sft_steps, c.rl_steps = len(sft), len(steps), len(rl)
        outputs = {f"sft_steps_{name}": steps, f"rl_{name}": rl}
        if whole_session:
            outputs[f"sft_{name}"] = sft
        for file_name, rows in outputs.items():
            files[file_name] = str(out / f"{file_name}.jsonl")
            pending[files[file_name]] = rows
    report = BuildReport(outdir=str(out), split_unit=split.unit, splits=counts, files=files)
    manifest = {
        "config": {"prompt": asdict(config.prompt), "test_fraction": config.test_fraction,
                   "validation_fraction": config.validation_fraction, "seed": config.seed,
                   "rebalance_rl": config.rebalance_rl},
        "split_unit": split.unit,
        "splits": {name: asdict(c) for name, c in counts.items()},
        "test_users": sorted({s.user_id for s in split.test if s.user_id}),
        "validation_users": sorted({s.user_id for s in split.validation if s.user_id}),
        "files": {name: Path(path).name for name, path in files.items()},
        "whole_session_sft": whole_session,
    }

    def fill(staging: Path) -> None:
        for path, rows in pending.items():
            write_jsonl(staging / Path(path).name, rows)
        # Last: a directory with a manifest is a complete build (readers check for it).
        with atomic_write(staging / MANIFEST) as handle:
            json.dump(manifest, handle, indent=2, ensure_ascii=False)

    # Rows are all built before anything is written, and the files are swapped in together: a failure
    # or Ctrl-C at any point leaves the previous build whole (see shop_r1.data.publish).
    publish_directory(out, fill, owned=is_build_output)
    return report


def is_build_output(name: str) -> bool:
    """Whether a file name in a dataset directory is one `build_datasets` writes (and so replaces)."""
    return name == MANIFEST or _OUTPUT_NAME.fullmatch(name) is not None or name.endswith(".tmp")


def require_manifest(dataset_dir: str | os.PathLike[str]) -> Path:
    """The manifest of a complete build in `dataset_dir`; `ShopR1Error` when there is none."""
    path = Path(dataset_dir) / MANIFEST
    if not path.is_file():
        raise ShopR1Error(f"{path} is missing, so {dataset_dir} is not a complete `shop-r1 data build` output "
                          "(an interrupted or older build?): run `shop-r1 data build SESSIONS "
                          f"{dataset_dir}` again")
    return path
