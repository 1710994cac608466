"""`RewardConfig`: every constant of Shop-R1's reward (arXiv 2507.17842, section 3 / Table 1) and its ablations.

Defaults reproduce the paper: format 0.5; type 0.3; click name presence 0.2; type_and_submit name and
text presence 0.1 each plus 0.1 x ROUGE-L(name); DARS factor 1000 on the long-text value terms, paid
only when their ROUGE-L exceeds 0.75; self-certainty weight alpha = 0.005. The ablation switches match
the paper's Table 4 rows: no format reward, no DARS (factor 1), no self-certainty, binary action reward.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Literal, get_args

from shop_r1.parsing import ParseConfig
from shop_r1.rewards.rouge import TOKENIZERS, RougeTokenizer

__all__ = ["SELF_CERTAINTY_FORMS", "RewardConfig", "SelfCertaintyForm", "ThresholdScope"]

# kl_u_p: KL(U || p), the form of the works the paper cites (project default);
# kl_p_u: KL(p || U) = log|V| - H(p); paper_eq3: the paper's printed Eq. 3, KL(p || U) / |V|.
SelfCertaintyForm = Literal["kl_u_p", "kl_p_u", "paper_eq3"]
SELF_CERTAINTY_FORMS: tuple[SelfCertaintyForm, ...] = get_args(SelfCertaintyForm)
# Which value terms the similarity threshold gates: the two DARS terms (project default), every
# ROUGE-L term (adds the 0.1 x ROUGE-L(name) of type_and_submit), or none.
ThresholdScope = Literal["dars", "all", "none"]

# Shared instances: the property below is read once per scored completion.
_STRICT = ParseConfig()
_FENCED = ParseConfig(allow_code_fence=True)


@dataclass(frozen=True, slots=True)
class RewardConfig:
    """Weights, thresholds and ablation switches of the Shop-R1 reward. Immutable; use `dataclasses.replace`.

    Args:
        format_reward (`float`, defaults to `0.5`): paid for a well-formed completion.
        type_reward (`float`, defaults to `0.3`): predicted type equals the gold type.
        click_name_reward (`float`, defaults to `0.2`): click with a non-empty `name`.
        submit_name_reward (`float`, defaults to `0.1`): type_and_submit with a non-empty `name`.
        submit_text_reward (`float`, defaults to `0.1`): type_and_submit with a non-empty `text`.
        submit_name_similarity (`float`, defaults to `0.1`): weight of ROUGE-L(name) for type_and_submit.
        dars_factor (`float`, defaults to `1000.0`): difficulty-aware scale of ROUGE-L(click name) and
            ROUGE-L(typed text).
        similarity_threshold (`float`, defaults to `0.75`): a gated value term is paid only when its ROUGE-L
            is strictly above this ("exceeds", section 3).
        threshold_scope (`str`, defaults to `"dars"`): which value terms the threshold gates, see `ThresholdScope`.
        alpha (`float`, defaults to `0.005`): weight of the self-certainty rationale reward.
        self_certainty_form (`str`, defaults to `"kl_u_p"`): see `SelfCertaintyForm`.
        use_format_reward (`bool`, defaults to `True`): `False` = ablation "no format reward" (format pays 0;
            an invalid completion still earns nothing else, since it cannot be scored).
        use_dars (`bool`, defaults to `True`): `False` = ablation "no DARS" (factor 1).
        use_self_certainty (`bool`, defaults to `True`): `False` = ablation "no self-certainty" (alpha 0).
        binary_action (`bool`, defaults to `False`): `True` = ablation "binary action reward": the action
            reward is `binary_reward` for an exact match (the evaluation's definition), else 0.
        binary_reward (`float`, defaults to `1.0`): the exact-match payoff of the binary reward.
        exact_match_threshold (`float`, defaults to `0.75`): ROUGE-L(text) at or above which typed texts
            match in `exact_match` (evaluation, section 5).
        allow_code_fence (`bool`, defaults to `False`): parse leniently (accept one ```json fence).
        rouge_tokenizer (`str`, defaults to `"unicode"`): the tokens of every ROUGE-L (value terms and
            exact match), see `rewards.rouge`; `"rouge_score"` reproduces the rouge-score package, under
            which text outside [a-z0-9] (Chinese, say) has no tokens and scores 0.
    """

    format_reward: float = 0.5
    type_reward: float = 0.3
    click_name_reward: float = 0.2
    submit_name_reward: float = 0.1
    submit_text_reward: float = 0.1
    submit_name_similarity: float = 0.1
    dars_factor: float = 1000.0
    similarity_threshold: float = 0.75
    threshold_scope: ThresholdScope = "dars"
    alpha: float = 0.005
    self_certainty_form: SelfCertaintyForm = "kl_u_p"
    use_format_reward: bool = True
    use_dars: bool = True
    use_self_certainty: bool = True
    binary_action: bool = False
    binary_reward: float = 1.0
    exact_match_threshold: float = 0.75
    allow_code_fence: bool = False
    rouge_tokenizer: RougeTokenizer = "unicode"

    def __post_init__(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            if isinstance(value, float | int) and not isinstance(value, bool):
                if not math.isfinite(value) or value < 0:
                    raise ValueError(f"RewardConfig.{spec.name} must be a finite number >= 0, got {value!r}")
        for name in ("similarity_threshold", "exact_match_threshold"):
            if getattr(self, name) > 1:
                raise ValueError(f"RewardConfig.{name} is a ROUGE-L F-measure in [0, 1], got {getattr(self, name)!r}")
        if self.threshold_scope not in get_args(ThresholdScope):
            raise ValueError(
                f"RewardConfig.threshold_scope must be one of {get_args(ThresholdScope)}, got {self.threshold_scope!r}"
            )
        if self.rouge_tokenizer not in TOKENIZERS:
            raise ValueError(f"RewardConfig.rouge_tokenizer must be one of {TOKENIZERS}, got {self.rouge_tokenizer!r}")
        if self.self_certainty_form not in SELF_CERTAINTY_FORMS:
            raise ValueError(
                f"RewardConfig.self_certainty_form must be one of {SELF_CERTAINTY_FORMS}, "
                f"got {self.self_certainty_form!r}"
            )

    @property
    def effective_format_reward(self) -> float:
        return self.format_reward if self.use_format_reward else 0.0

    @property
    def effective_dars_factor(self) -> float:
        return self.dars_factor if self.use_dars else 1.0

    @property
    def effective_alpha(self) -> float:
        return self.alpha if self.use_self_certainty else 0.0

    @property
    def parse_config(self) -> ParseConfig:
        return _FENCED if self.allow_code_fence else _STRICT
