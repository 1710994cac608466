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


def test_recipe_overrides_replace_size_values_and_unknown_keys_are_refused():
    from shop_r1.demo import SIZES, DemoConfig, parse_override
    from shop_r1.errors import ShopR1Error

    config = DemoConfig(overrides=dict([parse_override("sft_mix=rebalanced"), parse_override("grpo_steps=12")]))
    assert config.sizes.sft_mix == "rebalanced" and config.sizes.grpo_steps == 12
    assert config.sizes.sft_steps == SIZES["small"].sft_steps
    with pytest.raises(ShopR1Error, match="unknown recipe key"):
        DemoConfig(overrides={"grpo_stepz": 3})
    with pytest.raises(ShopR1Error, match="grpo_steps takes a int"):
        parse_override("grpo_steps=many")
    with pytest.raises(ShopR1Error, match="expected KEY=VALUE"):
        parse_override("grpo_steps")


def test_cpu_size_is_small_with_the_recipe_and_shares_its_stages():
    from shop_r1.demo import SIZES, DemoConfig, parse_override, stage_keys

    recipe = ["sft_samples=128", "sft_steps=32", "grpo_steps=10", "grpo_batch_size=8", "num_generations=8",
              "grpo_beta=0.04", "eval_steps=300", "eval_users=60"]
    by_flags = DemoConfig(size="small", overrides=dict(map(parse_override, recipe)), bf16=False, dtype="float32")
    by_size = DemoConfig(size="cpu", bf16=False, dtype="float32")
    assert by_size.sizes == by_flags.sizes
    # Equal keys: a `--size cpu` run links in the stages of a `--size small --set ...` run, and back.
    assert stage_keys(by_size) == stage_keys(by_flags)
    assert stage_keys(by_size)["sft"] != stage_keys(DemoConfig(size="small", bf16=False, dtype="float32"))["sft"]
    assert (SIZES["cpu"].eval_steps, SIZES["cpu"].eval_users) == (300, 60)


def test_continued_sft_trains_as_many_sequences_as_the_rl_stage():
    from dataclasses import replace

    from shop_r1.demo import SIZES, continued_sft_steps

    small = SIZES["small"]  # 5 GRPO steps x 4 completions = 20 sequences = 5 SFT steps of 4 rows
    assert continued_sft_steps(small) == 5
    assert continued_sft_steps(replace(small, grpo_batch_size=8, sft_batch_size=3)) == 14  # ceil(40 / 3)


def test_significance_says_which_way_and_only_when_the_interval_excludes_zero():
    from shop_r1.demo import significance_sentence

    points = {"shop_r1_minus_sft": {"exact": 0.05}}
    assert significance_sentence({"shop_r1_minus_sft": {"exact": [0.01, 0.09]}}, points).startswith(
        "Shop-R1 is significantly better than SFT on exact action accuracy: +5.0 points, 95% interval [+1.0, +9.0]")
    assert "significantly worse" in significance_sentence(
        {"shop_r1_minus_sft": {"exact": [-0.09, -0.01]}}, {"shop_r1_minus_sft": {"exact": -0.05}})
    assert "not significant (the interval contains 0)" in significance_sentence(
        {"shop_r1_minus_sft": {"exact": [0.0, 0.09]}}, points)  # a bound at 0 does not exclude 0
    assert "no interval" in significance_sentence({"shop_r1_minus_sft": {"exact": [None, None]}},
                                                  {"shop_r1_minus_sft": {"exact": None}})


def test_significance_reads_the_metric_it_is_asked_about():
    from shop_r1.demo import significance_sentence

    # The rebalanced validation run's shape: exact inside the noise, type macro-F1 clear of it.
    paired = {"shop_r1_minus_sft": {"exact": [-0.05, 0.14], "type_f1": [0.017, 0.176]}}
    points = {"shop_r1_minus_sft": {"exact": 0.05, "type_f1": 0.089}}
    assert "on exact action accuracy is not significant" in significance_sentence(paired, points)
    assert significance_sentence(paired, points, metric="type_f1") == (
        "Shop-R1 is significantly better than SFT on action-type macro-F1: +8.9 points, 95% interval [+1.7, +17.6].")
    with pytest.raises(KeyError):
        significance_sentence(paired, points, metric="type_acc")  # only the two headline metrics have words


def test_paired_intervals_compare_shop_r1_with_each_setting_on_the_same_sessions():
    import json

    from shop_r1.demo import paired_intervals
    from shop_r1.evaluation.records import PredictionRecord
    from shop_r1.evaluation.runs import MetricsConfig
    from shop_r1.schema import Action

    gold = Action("click", name="buy_now")
    right = json.dumps({"rationale": "", "action": {"type": "click", "name": "buy_now"}})
    wrong = json.dumps({"rationale": "", "action": {"type": "terminate"}})

    def run(hits):
        return [PredictionRecord(f"s{i}", 0, right if hit else wrong, gold) for i, hit in enumerate(hits)]

    runs = {"sft": run([True] + [False] * 9), "shop_r1": run([True] * 10)}
    intervals, points = paired_intervals(runs, MetricsConfig(n_resamples=200, seed=0))
    assert set(intervals) == {"shop_r1_minus_sft"}
    assert points["shop_r1_minus_sft"]["exact"] == pytest.approx(0.9)
    low, high = intervals["shop_r1_minus_sft"]["exact"]
    assert 0.6 <= low <= 0.9 <= high <= 1.0


def _changed(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value * 2 if value else 0.5
    return {"natural": "rebalanced", "rebalanced": "natural", "latest": "full", "full": "latest"}[value]


def test_a_recipe_change_changes_the_key_of_every_stage_it_reaches_and_no_other(tmp_path):
    """For each DemoSize field: if the flags or build config a stage runs with change, its key changes."""
    from dataclasses import fields

    from shop_r1.demo import SIZES, DemoConfig, build_config, grpo_argv, sft_argv, stage_keys

    base = DemoConfig().resolved()
    d, m = tmp_path / "data", tmp_path / "model"

    def inputs(config):
        return {"data": repr(build_config(config)),
                "heldout": (config.sizes.eval_steps, config.sizes.eval_users),
                "sft": sft_argv(config, d, m),
                "sft_continued": sft_argv(config, d, m, start_from=m),
                "grpo": grpo_argv(config, d, m, m, "shop_r1"),
                "predict": config.sizes.max_new_tokens}

    reached = {}
    for field in fields(SIZES["small"]):
        if field.name == "predict_batch_size":  # batching is deliberately not part of any key
            continue
        changed = DemoConfig(overrides={field.name: _changed(getattr(SIZES["small"], field.name))}).resolved()
        old, new = inputs(base), inputs(changed)
        old_keys, new_keys = stage_keys(base), stage_keys(changed)
        for stage in old:
            if old[stage] != new[stage]:
                assert old_keys[stage] != new_keys[stage], (field.name, stage)
        reached[field.name] = sorted(stage for stage in old_keys if old_keys[stage] != new_keys[stage])
    assert reached["grpo_learning_rate"] == ["grpo"]  # a GRPO knob keeps the datasets and the SFT model
    assert reached["sft_mix"] == ["sft", "sft_continued"]
    assert reached["grpo_steps"] == ["grpo", "sft_continued"]  # continued SFT matches the RL stage's budget
    assert reached["users"] == ["data"]  # downstream stages see it through the data stage's key
    # More scored steps or users retrain nothing: only the held-out stage (and, through its key, the scoring).
    assert reached["eval_steps"] == reached["eval_users"] == ["heldout"]
    # Continued SFT depends on the RL budget, not its shape: 20 steps of 4 rollouts and 5 of 16 share it.
    narrow = stage_keys(DemoConfig(overrides={"grpo_steps": 20, "grpo_batch_size": 4}).resolved())
    wide = stage_keys(DemoConfig(overrides={"grpo_steps": 5, "grpo_batch_size": 16}).resolved())
    assert narrow["sft_continued"] == wide["sft_continued"] and narrow["grpo"] != wide["grpo"]
    assert reached["max_new_tokens"] == ["grpo", "predict", "sft", "sft_continued"]


def test_the_comparison_counts_what_each_setting_answered_and_flags_one_type_everywhere():
    import json

    from shop_r1.demo import collapse_sentences, comparison_table
    from shop_r1.evaluation.records import PredictionRecord
    from shop_r1.evaluation.runs import MetricsConfig, evaluate_runs
    from shop_r1.schema import Action

    golds = [Action("click", name="buy_now"), Action("terminate"), Action("type_and_submit", name="q", text="x")] * 4
    terminate = json.dumps({"rationale": "", "action": {"type": "terminate"}})
    click = json.dumps({"rationale": "", "action": {"type": "click", "name": "buy_now"}})
    answers = {"shop_r1": [terminate] * 11 + ["not json"],  # 11 of 12 terminate: over three quarters
               "sft": [click, terminate, "not json"] * 4}  # a third each
    runs = {name: [PredictionRecord(f"s{i}", 0, text, gold)
                   for i, (text, gold) in enumerate(zip(texts, golds, strict=True))]
            for name, texts in answers.items()}
    table = comparison_table(evaluate_runs(runs, MetricsConfig(n_resamples=20, seed=0)).to_dict())
    assert table["shop_r1"]["answered"] == {"click": 0, "type_and_submit": 0, "terminate": 11, "invalid": 1}
    assert table["sft"]["answered"] == {"click": 4, "type_and_submit": 0, "terminate": 4, "invalid": 4}
    [sentence] = collapse_sentences(table)
    assert sentence.startswith("Shop-R1 answered terminate on 11 of 12 steps")
