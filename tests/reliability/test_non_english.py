"""Class 4: real OPeRA search texts that are not English are compared by their words or characters."""

from __future__ import annotations

import itertools
import json

import pytest

from shop_r1.rewards.rouge import rouge_l


@pytest.fixture(scope="module")
def typed_texts(opera_actions_path) -> list[str]:
    rows = [json.loads(line) for line in opera_actions_path.read_text(encoding="utf-8").splitlines()]
    return [row["input_text"] for row in rows if row["action_type"] == "input"]


def test_the_fixture_holds_chinese_search_texts(typed_texts):
    chinese = sorted({text for text in typed_texts if not text.isascii()})
    assert len(typed_texts) == 107
    assert chinese == ["apple watch 表带 light gray nylon", "apple watch 表带 silver light gray nylon", "平安扣",
                       "平安扣 silver", "平安扣 银", "汽车抬头显示", "汽车抬头现实", "衬衫", "衬衫 丝绸", "阿萨姆奶茶",
                       "高领毛衣"]


def test_every_real_text_matches_itself_and_rouge_score_mode_keeps_the_old_zero(typed_texts):
    assert all(rouge_l(text, text) == 1.0 for text in typed_texts)
    zero_in_rouge_score = sorted({t for t in typed_texts if rouge_l(t, t, tokenizer="rouge_score") == 0.0})
    assert zero_in_rouge_score == ["平安扣", "平安扣 银", "汽车抬头显示", "汽车抬头现实", "衬衫", "衬衫 丝绸",
                                   "阿萨姆奶茶", "高领毛衣"]


@pytest.mark.parametrize(
    ("prediction", "reference", "unicode", "rouge_score"),
    [
        ("汽车抬头现实", "汽车抬头显示", 4 / 6, 0.0),  # a real typo in the logs (现实 for 显示): 4 of 6 agree
        ("平安扣 银", "平安扣", 2 * 0.75 / 1.75, 0.0),
        ("平安扣 silver", "平安扣 银", 2 * 0.75 * 0.75 / 1.5, 0.0),
        ("apple watch 表带 silver light gray nylon", "apple watch 表带 light gray nylon", 2 * 0.875 / 1.875, 10 / 11),
        ("衬衫 丝绸", "高领毛衣", 0.0, 0.0),
    ],
)
def test_real_non_english_pairs(prediction, reference, unicode, rouge_score):
    assert rouge_l(prediction, reference) == pytest.approx(unicode, abs=1e-12)
    assert rouge_l(prediction, reference, tokenizer="rouge_score") == pytest.approx(rouge_score, abs=1e-12)


def test_english_texts_score_the_same_with_both_tokenizers(typed_texts):
    english = sorted({text for text in typed_texts if text.isascii()})
    assert len(english) > 50
    pairs = list(itertools.product(english[:40], repeat=2))
    assert [rouge_l(p, r) for p, r in pairs] == [rouge_l(p, r, tokenizer="rouge_score") for p, r in pairs]


def test_the_reward_cli_pays_an_identical_chinese_search(cli):
    completion = json.dumps({"rationale": "我想找平安扣。", "action": {"type": "type_and_submit",
                                                                  "name": "search_input", "text": "平安扣"}},
                            ensure_ascii=False)
    gold = json.dumps({"type": "type_and_submit", "name": "search_input", "text": "平安扣"}, ensure_ascii=False)
    result = cli("reward", "--completion", completion, "--gold", gold)
    assert result.code == 0
    breakdown = json.loads(result.out)
    assert breakdown["exact_match"] is True
    # name 0.1 + DARS 1000 x ROUGE-L 1.0 for the text (rouge-score's tokens gave 0.1: the text was never paid)
    assert (breakdown["value"], breakdown["total"]) == (pytest.approx(1000.1), pytest.approx(1001.1))
