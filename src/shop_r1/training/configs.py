"""Argument dataclasses of the two stages: one per concern, parsed by `trl.TrlParser` with TRL's configs.

A recipe is a flat YAML file whose keys are field names of these dataclasses or of TRL's `SFTConfig` /
`GRPOConfig`; `--key value` flags override it and unknown keys are errors (typos must not be silently
ignored). Names are unique across the dataclasses because TrlParser's namespace is flat, which is why
the reward knobs carry a `reward_` prefix.

Paper constants (section 4) are the defaults: alpha 0.005, DARS 1000 and threshold 0.75 in
`RewardArguments`; beta 0.001 and sampling temperature 0.6 in `ShopR1GRPOConfig`, which changes only
those two defaults of TRL's `GRPOConfig` (TRL's are 0.0 and 1.0).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from trl import GRPOConfig

from shop_r1.models.options import ATTN_IMPLEMENTATIONS, TRAINING_DTYPES
from shop_r1.rewards.config import SELF_CERTAINTY_FORMS
from shop_r1.rewards.rouge import TOKENIZERS as ROUGE_TOKENIZERS

if TYPE_CHECKING:
    from peft import LoraConfig

    from shop_r1.rewards import RewardConfig

SFT_FORMATS = ("session", "step")
SFT_MIXES = ("natural", "rebalanced")
SELF_CERTAINTY_SOURCES = ("auto", "generation", "forward")


@dataclass
class ShopR1GRPOConfig(GRPOConfig):
    """TRL's GRPOConfig with the paper's KL weight and sampling temperature as defaults; no new fields."""

    beta: float = field(default=0.001, metadata={
        "help": "KL coefficient (Shop-R1: 0.001; TRL's default is 0.0, which skips the reference model)."})
    temperature: float = field(default=0.6, metadata={"help": "Sampling temperature of the rollouts (Shop-R1: 0.6)."})


@dataclass(frozen=True)
class RewardMode:
    """A named reward setting: which TRL reward functions run, and which `RewardConfig` switches change."""

    reward_funcs: tuple[str, ...]
    switches: tuple[tuple[str, bool], ...] = ()


# The paper's settings: full Shop-R1, the RL (Binary) baselines, and the Table 4 ablations.
REWARD_MODES: dict[str, RewardMode] = {
    "shop_r1": RewardMode(("format", "action", "rationale")),
    "binary": RewardMode(("action_binary",)),
    "no_format": RewardMode(("format", "action", "rationale"), (("use_format_reward", False),)),
    "no_self_certainty": RewardMode(("format", "action"), (("use_self_certainty", False),)),
    "no_dars": RewardMode(("format", "action", "rationale"), (("use_dars", False),)),
    "binary_action": RewardMode(("format", "action", "rationale"), (("binary_action", True),)),
}


@dataclass
class ModelArguments:
    """Which model to train, in which dtype, and whether to train a LoRA adapter instead of all weights."""

    model_name_or_path: str = field(
        default="embedded:smollm2-135m",
        metadata={"help": "embedded:smollm2-135m, tiny-random:llama|qwen2, a .gguf file, a model directory or a "
                          "hub id (see shop_r1.models.specs)."},
    )
    dtype: str = field(default="auto", metadata={
        "help": "Parameter dtype. auto: float32 (bf16/fp16 training autocasts over it), half precision only for a "
                "LoRA base on an accelerator. Set bfloat16 for large models under DeepSpeed/FSDP.",
        "choices": list(TRAINING_DTYPES)})
    attn_implementation: str = field(default="auto", metadata={
        "help": "auto: flash_attention_2 on CUDA when installed, else sdpa.", "choices": list(ATTN_IMPLEMENTATIONS)})
    use_peft: bool = field(default=False, metadata={"help": "Train a LoRA adapter (peft) instead of all weights."})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA scaling alpha."})
    lora_dropout: float = field(default=0.05, metadata={"help": "LoRA dropout."})
    lora_target_modules: str = field(
        default="all-linear", metadata={"help": "Comma-separated module names, or all-linear."})
    merge_lora: bool = field(default=True, metadata={
        "help": "With use_peft, save the final model with the adapter merged into its weights, so the next stage "
                "and the evaluation load an ordinary checkpoint (checkpoints keep the adapter). Not under "
                "DeepSpeed / FSDP, where the adapter is saved as is."})

    def __post_init__(self) -> None:
        if self.lora_r < 1:
            raise ValueError(f"lora_r must be >= 1, got {self.lora_r}")
        if not 0 <= self.lora_dropout < 1:
            raise ValueError(f"lora_dropout must be in [0, 1), got {self.lora_dropout}")

    def peft_config(self) -> LoraConfig | None:
        if not self.use_peft:
            return None
        from peft import LoraConfig

        targets = self.lora_target_modules.strip()
        modules = targets if targets == "all-linear" else [t.strip() for t in targets.split(",") if t.strip()]
        return LoraConfig(
            task_type="CAUSAL_LM",
            r=self.lora_r,
            lora_alpha=self.lora_alpha,
            lora_dropout=self.lora_dropout,
            target_modules=modules,
            bias="none",
        )


@dataclass
class _DatasetArguments:
    """Where the datasets built by `shop-r1 data build` are, and how much of them to use (shared by both stages)."""

    dataset_dir: str | None = field(default=None, metadata={
        "help": "Output directory of `shop-r1 data build` (holds sft_*.jsonl, rl_*.jsonl, manifest.json)."})
    max_train_samples: int | None = field(default=None, metadata={
        "help": "Use only this many training rows (a seeded random subset); all when unset."})
    max_eval_samples: int | None = field(default=None, metadata={
        "help": "Use only this many test rows when evaluating during training (eval_strategy != no)."})

    def __post_init__(self) -> None:
        if not self.dataset_dir:
            raise ValueError("dataset_dir is required: the output directory of `shop-r1 data build` "
                             "(set it in the recipe or pass --dataset_dir)")
        for name in ("max_train_samples", "max_eval_samples"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1 or unset, got {value}")

    def split_path(self, stem: str) -> Path:
        return Path(self.dataset_dir).expanduser() / f"{stem}.jsonl"


@dataclass
class SFTDataArguments(_DatasetArguments):
    """Stage 1 data: whole sessions (the paper's SFT) or one prompt/completion row per step."""

    sft_format: str = field(default="session", metadata={
        "help": "session: whole-session conversations, loss on every assistant turn (paper); "
                "step: one prompt/completion row per step.", "choices": list(SFT_FORMATS)})

    sft_mix: str = field(default="natural", metadata={
        "help": "natural: every training row; rebalanced (step rows only): subsample toward the paper's "
                "near-uniform action-type mix, the mix of the GRPO prompts.", "choices": list(SFT_MIXES)})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.sft_format not in SFT_FORMATS:
            raise ValueError(f"sft_format must be one of {', '.join(SFT_FORMATS)}, got {self.sft_format!r}")
        if self.sft_mix not in SFT_MIXES:
            raise ValueError(f"sft_mix must be one of {', '.join(SFT_MIXES)}, got {self.sft_mix!r}")
        if self.sft_mix == "rebalanced" and self.sft_format != "step":
            raise ValueError("sft_mix rebalanced needs sft_format step: a whole session cannot be rebalanced by type")

    def train_file(self) -> Path:
        return self.split_path("sft_train" if self.sft_format == "session" else "sft_steps_train")

    def eval_file(self) -> Path:
        return self.split_path("sft_test" if self.sft_format == "session" else "sft_steps_test")


@dataclass
class GRPODataArguments(_DatasetArguments):
    """Stage 2 data: one prompt per step with its gold action (`rl_*.jsonl`)."""

    max_prompt_tokens: int | None = field(default=None, metadata={
        "help": "Drop (and count) prompts longer than this many tokens after the chat template; "
                "TRL 1.16 has no max_prompt_length any more."})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_prompt_tokens is not None and self.max_prompt_tokens < 1:
            raise ValueError(f"max_prompt_tokens must be >= 1 or unset, got {self.max_prompt_tokens}")

    def train_file(self) -> Path:
        return self.split_path("rl_train")

    def eval_file(self) -> Path:
        return self.split_path("rl_test")


@dataclass
class RewardArguments:
    """The Shop-R1 reward (section 3) and the trainer's guards around it.

    `reward_std_floor` guards GRPO's group normalisation: when the discrete rewards of a group tie, the
    only spread left is alpha x self-certainty (~1e-3), which (r - mean) / (std + 1e-4) would blow up to
    full-size advantages of pure noise. Dividing by max(std, floor) instead keeps those advantages at
    their true, small scale while leaving every group with a real reward gap (>= 0.1 in Table 1)
    untouched in practice. 0 restores TRL's behaviour.
    """

    reward_mode: str = field(default="shop_r1", metadata={
        "help": "shop_r1 (format + hierarchical action with DARS + self-certainty); binary (exact match 0/1, the "
                "RL (Binary) baselines); Table 4 ablations: no_format, no_self_certainty, no_dars, binary_action.",
        "choices": list(REWARD_MODES)})
    reward_alpha: float = field(default=0.005, metadata={"help": "Weight of the self-certainty reward (paper 0.005)."})
    reward_dars_factor: float = field(default=1000.0, metadata={
        "help": "Difficulty-aware scale of the long-text value terms (paper 1000)."})
    reward_similarity_threshold: float = field(default=0.75, metadata={
        "help": "ROUGE-L a DARS value term must exceed to be paid (paper 0.75)."})
    reward_self_certainty_form: str = field(default="kl_u_p", metadata={
        "help": "kl_u_p: KL(U||p) (cited works, default); kl_p_u: KL(p||U); paper_eq3: KL(p||U)/|V| as printed.",
        "choices": list(SELF_CERTAINTY_FORMS)})
    reward_std_floor: float = field(default=0.1, metadata={
        "help": "Group reward std below this is replaced by it when advantages are scaled (0 = TRL's std + 1e-4)."})
    reward_rouge_tokenizer: str = field(default="unicode", metadata={
        "help": "Tokens of the ROUGE-L value terms. unicode: words of any script, one token per CJK/Thai "
                "character; rouge_score: the rouge-score package's [a-z0-9] words (non-Latin text scores 0).",
        "choices": list(ROUGE_TOKENIZERS)})

    def __post_init__(self) -> None:
        if self.reward_mode not in REWARD_MODES:
            raise ValueError(f"reward_mode must be one of {', '.join(REWARD_MODES)}, got {self.reward_mode!r}")
        if self.reward_self_certainty_form not in SELF_CERTAINTY_FORMS:
            raise ValueError(f"reward_self_certainty_form must be one of {', '.join(SELF_CERTAINTY_FORMS)}, "
                             f"got {self.reward_self_certainty_form!r}")
        if self.reward_std_floor < 0:
            raise ValueError(f"reward_std_floor must be >= 0, got {self.reward_std_floor}")
        if self.reward_rouge_tokenizer not in ROUGE_TOKENIZERS:
            raise ValueError(f"reward_rouge_tokenizer must be one of {', '.join(ROUGE_TOKENIZERS)}, "
                             f"got {self.reward_rouge_tokenizer!r}")

    @property
    def mode(self) -> RewardMode:
        return REWARD_MODES[self.reward_mode]

    @property
    def reward_funcs(self) -> list[str]:
        return list(self.mode.reward_funcs)

    @property
    def needs_self_certainty(self) -> bool:
        return "rationale" in self.mode.reward_funcs

    def reward_config(self) -> RewardConfig:
        from shop_r1.rewards import RewardConfig

        return RewardConfig(
            alpha=self.reward_alpha,
            dars_factor=self.reward_dars_factor,
            similarity_threshold=self.reward_similarity_threshold,
            self_certainty_form=self.reward_self_certainty_form,
            rouge_tokenizer=self.reward_rouge_tokenizer,
            **dict(self.mode.switches),
        )


@dataclass
class RolloutArguments:
    """How the GRPO trainer observes its rollouts: where s(r) comes from, the reward-hacking monitor, the log."""

    self_certainty_source: str = field(default="auto", metadata={
        "help": "Where the rationale's next-token distributions come from. auto: the sampler's own logits when "
                "generating with transformers, else the policy forward shared with the old-log-prob pass; "
                "generation / forward: force one.", "choices": list(SELF_CERTAINTY_SOURCES)})
    self_certainty_chunk_size: int = field(default=256, metadata={
        "help": "Rationale positions projected through the LM head at a time in the forward source "
                "(bounds the (chunk, vocab) logits held at once)."})
    rollout_type_share_bound: float = field(default=0.8, metadata={
        "help": "Warn and record when one action type's share of the rollouts exceeds this (reward hacking: the "
                "paper's 0.5B model collapsed to terminate). 1 disables the monitor."})
    save_rollouts: bool = field(default=True, metadata={
        "help": "Append every rollout (ids, completion, rewards) to <output_dir>/rollouts.jsonl."})
    shared_prefill: bool = field(default=True, metadata={
        "help": "Process each prompt once for its num_generations rollouts and share the key/value cache: in "
                "transformers generation, and in the policy's log-prob and training passes (same samples, "
                "log-probs and gradients within float tolerance, 1/G of the prompt work)."})

    def __post_init__(self) -> None:
        if self.self_certainty_source not in SELF_CERTAINTY_SOURCES:
            raise ValueError(f"self_certainty_source must be one of {', '.join(SELF_CERTAINTY_SOURCES)}, "
                             f"got {self.self_certainty_source!r}")
        if self.self_certainty_chunk_size < 1:
            raise ValueError(f"self_certainty_chunk_size must be >= 1, got {self.self_certainty_chunk_size}")
        if not 0 < self.rollout_type_share_bound <= 1:
            raise ValueError(f"rollout_type_share_bound must be in (0, 1], got {self.rollout_type_share_bound}")
