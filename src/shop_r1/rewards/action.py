"""The action reward v(a) of Shop-R1 (arXiv 2507.17842, section 3, Table 1) and the exact-match test.

Hierarchical: nothing unless the predicted type equals the gold type; then the type reward, the
attribute (presence) reward and the value (similarity) reward:

| gold type       | type | attribute (presence)              | value                                        |
|-----------------|------|-----------------------------------|----------------------------------------------|
| terminate       | 0.3  | -                                 | -                                            |
| click           | 0.3  | +0.2 name non-empty               | + DARS x ROUGE-L(name), gated                |
| type_and_submit | 0.3  | +0.1 name, +0.1 text non-empty    | + 0.1 x ROUGE-L(name) + DARS x ROUGE-L(text) |

Choices where the paper leaves room (all in `RewardConfig`):
- "Non-empty" ignores surrounding whitespace: a name of blanks earns no presence reward.
- A gated term is paid when its ROUGE-L *exceeds* the threshold (the paper's word): a score of exactly
  0.75 earns nothing. This matters for sibling elements: `search_results.item_2` vs `..._item_3` scores
  exactly 0.75 and must not earn 750 for the wrong product. Exact match (evaluation, section 5) instead
  accepts a text at or above 0.75. Both comparisons allow 1e-12 of float noise, so a rational 3/4 that
  floats as 0.7499999999999999 counts as "at" the threshold.

>>> from shop_r1.rewards.config import RewardConfig
>>> gold = Action("click", name="add_to_cart.buy_now")
>>> action_score(PredictedAction(ActionType.CLICK, name="refinements.customer_reviews"), gold, config=RewardConfig())
ActionScore(type=0.3, attribute=0.2, value=0.0)
"""

from __future__ import annotations

from dataclasses import dataclass

from shop_r1.parsing import PredictedAction
from shop_r1.rewards.config import RewardConfig
from shop_r1.rewards.rouge import RougeTokenizer, rouge_l
from shop_r1.schema import Action, ActionType

__all__ = ["ActionScore", "action_reward", "action_score", "binary_action_score", "exact_match"]

# F-measures are ratios of small integers computed in floats; this absorbs their last-bit rounding.
_FLOAT_SLACK = 1e-12


@dataclass(frozen=True, slots=True)
class ActionScore:
    """The three parts of the hierarchical action reward; `total` is v(a)."""

    type: float = 0.0
    attribute: float = 0.0
    value: float = 0.0

    @property
    def total(self) -> float:
        return self.type + self.attribute + self.value


_NOTHING = ActionScore()


def _present(value: str | None) -> bool:
    return value is not None and value.strip() != ""


def _similarity(prediction: str | None, reference: str, tokenizer: RougeTokenizer) -> float:
    return rouge_l(prediction, reference, tokenizer) if prediction else 0.0


def _gate(score: float, threshold: float, gated: bool) -> float:
    if gated and not score > threshold + _FLOAT_SLACK:
        return 0.0
    return score


def action_score(pred: PredictedAction | Action, gold: Action, *, config: RewardConfig) -> ActionScore:
    """Hierarchical action reward v(a) of a well-formed prediction against the gold action."""
    if pred.type is not gold.type:
        return _NOTHING
    if gold.type is ActionType.TERMINATE:
        return ActionScore(type=config.type_reward)
    dars = config.effective_dars_factor
    gate_dars = config.threshold_scope != "none"
    threshold = config.similarity_threshold
    assert gold.name is not None  # guaranteed by Action for click and type_and_submit
    name_similarity = _similarity(pred.name, gold.name, config.rouge_tokenizer)
    if gold.type is ActionType.CLICK:
        return ActionScore(
            type=config.type_reward,
            attribute=config.click_name_reward if _present(pred.name) else 0.0,
            value=dars * _gate(name_similarity, threshold, gate_dars),
        )
    assert gold.text is not None
    attribute = (config.submit_name_reward if _present(pred.name) else 0.0) + (
        config.submit_text_reward if _present(pred.text) else 0.0
    )
    value = config.submit_name_similarity * _gate(
        name_similarity, threshold, config.threshold_scope == "all"
    ) + dars * _gate(_similarity(pred.text, gold.text, config.rouge_tokenizer), threshold, gate_dars)
    return ActionScore(type=config.type_reward, attribute=attribute, value=value)


def exact_match(pred: PredictedAction | Action, gold: Action, text_threshold: float | None = 0.75, *,
                tokenizer: RougeTokenizer = "unicode") -> bool:
    """The evaluation's exact action match (section 5), also the binary reward's test.

    click: same type and the full `name`; type_and_submit: the same `name` and a text of the same meaning,
    ROUGE-L(text) >= `text_threshold` with `tokenizer`'s tokens (`None` = strict string equality);
    terminate: the type.

    >>> exact_match(Action("type_and_submit", name="search_input", text="red running shoes"),
    ...             Action("type_and_submit", name="search_input", text="Red running shoes!"))
    True
    """
    if pred.type is not gold.type:
        return False
    if gold.type is ActionType.TERMINATE:
        return True
    if pred.name != gold.name:
        return False
    if gold.type is ActionType.CLICK:
        return True
    assert gold.text is not None
    if text_threshold is None:
        return pred.text == gold.text
    return _similarity(pred.text, gold.text, tokenizer) >= text_threshold - _FLOAT_SLACK


def binary_action_score(pred: PredictedAction | Action, gold: Action, *, config: RewardConfig) -> float:
    """The binary action reward (RL (Binary) baselines and Table 4's ablation): `binary_reward` on an exact match."""
    matched = exact_match(pred, gold, config.exact_match_threshold, tokenizer=config.rouge_tokenizer)
    return config.binary_reward if matched else 0.0


def action_reward(pred: PredictedAction | Action, gold: Action, *, config: RewardConfig) -> tuple[float, ActionScore]:
    """v(a) as `config` pays it, with its hierarchical parts: the one place the binary mode is decided.

    Under `binary_action` (Table 4's "binary action reward" ablation) v(a) is the exact-match payoff and
    the parts are all 0; otherwise v(a) is the hierarchical reward of Table 1 and its parts.
    """
    if config.binary_action:
        return binary_action_score(pred, gold, config=config), _NOTHING
    parts = action_score(pred, gold, config=config)
    return parts.total, parts
