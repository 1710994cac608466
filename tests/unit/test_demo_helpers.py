import pytest

from shop_r1.demo import relative_improvement, select_eval_rows


def test_eval_rows_are_stratified_and_seeded():
    rows = [{"gold_action": {"type": kind}, "i": i} for i, kind in
            enumerate(["click"] * 20 + ["type_and_submit"] * 6 + ["terminate"] * 3)]
    chosen = select_eval_rows(rows, 9, seed=0)
    assert [r["gold_action"]["type"] for r in chosen].count("terminate") == 3
    assert [r["gold_action"]["type"] for r in chosen].count("type_and_submit") == 3
    assert chosen == select_eval_rows(rows, 9, seed=0) and chosen != select_eval_rows(rows, 9, seed=1)
    assert [r["i"] for r in chosen] == sorted(r["i"] for r in chosen)


def test_relative_improvement_is_relative_to_sft():
    table = {"sft": {"exact": 0.2, "type_acc": 0.5, "type_f1": 0.0},
             "shop_r1": {"exact": 0.3, "type_acc": 0.25, "type_f1": 0.1}}
    result = relative_improvement(table)
    assert result["exact"] == pytest.approx(0.5) and result["type_acc"] == pytest.approx(-0.5)
    assert result["type_f1"] is None  # no relative change from zero


def test_predict_batch_size_override_is_checked_and_leaves_the_size_alone():
    from shop_r1.demo import SIZES, DemoConfig
    from shop_r1.errors import ShopR1Error

    config = DemoConfig(size="medium", predict_batch_size=64)
    assert config.sizes == SIZES["medium"]  # the data and training stages' keys do not change
    assert config.resolved().predict_batch_size == 64
    with pytest.raises(ShopR1Error, match="predict_batch_size"):
        DemoConfig(predict_batch_size=0)
