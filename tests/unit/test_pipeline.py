import json

import pytest

from shop_r1.pipeline import STAGE_FILE, Pipeline, Stage, StageFailed, config_key


def _writer(calls, text="out"):
    def run(workdir):
        calls.append(workdir.name)
        (workdir / "result.txt").write_text(text)

    return run


def test_config_key_ignores_key_order_and_sees_values():
    assert config_key({"a": 1, "b": [1, 2]}) == config_key({"b": [1, 2], "a": 1})
    assert config_key({"a": 1}) != config_key({"a": 2})


def test_finished_stage_is_skipped_on_rerun_with_the_same_config(tmp_path):
    calls = []
    first = Pipeline(tmp_path).run(Stage("data", _writer(calls), {"users": 10}))
    again = Pipeline(tmp_path).run(Stage("data", _writer(calls), {"users": 10}))
    assert calls == ["data"] and not first.cached and again.cached
    assert json.loads((tmp_path / "data" / STAGE_FILE).read_text())["config"] == {"users": 10}


def test_changed_config_reruns_from_a_clean_directory(tmp_path):
    calls = []
    Pipeline(tmp_path).run(Stage("data", _writer(calls), {"users": 10}))
    (tmp_path / "data" / "stale.txt").write_text("old")
    result = Pipeline(tmp_path).run(Stage("data", _writer(calls, "new"), {"users": 20}))
    assert calls == ["data", "data"] and not result.cached
    assert not (tmp_path / "data" / "stale.txt").exists()
    assert (tmp_path / "data" / "result.txt").read_text() == "new"


def test_failed_stage_names_itself_and_is_not_marked_done(tmp_path):
    def broken(workdir):
        (workdir / "partial.txt").write_text("half")
        raise ValueError("no space left")

    pipeline = Pipeline(tmp_path)
    with pytest.raises(StageFailed, match=r"stage 'sft' failed: ValueError: no space left"):
        pipeline.run(Stage("sft", broken, {"lr": 1}))
    assert not (tmp_path / "sft" / STAGE_FILE).exists()
    calls = []
    assert not pipeline.run(Stage("sft", _writer(calls), {"lr": 1})).cached  # a rerun does the work again
    assert not (tmp_path / "sft" / "partial.txt").exists()


def test_downstream_key_changes_when_upstream_changes(tmp_path):
    calls = []
    pipeline = Pipeline(tmp_path)
    pipeline.run(Stage("data", _writer(calls), {"users": 1}))
    pipeline.run(Stage("train", _writer(calls), {"data": pipeline.key_of("data")}))
    pipeline.run(Stage("data", _writer(calls), {"users": 2}))
    pipeline.run(Stage("train", _writer(calls), {"data": pipeline.key_of("data")}))
    assert calls == ["data", "train", "data", "train"]


def test_events_report_progress(tmp_path):
    events = []
    pipeline = Pipeline(tmp_path, on_event=lambda event, stage, result: events.append((event, stage.name)))
    pipeline.run(Stage("a", _writer([]), {}))
    pipeline.run(Stage("a", _writer([]), {}))
    assert events == [("start", "a"), ("done", "a"), ("cached", "a")]


def test_a_finished_stage_with_the_same_key_is_linked_from_another_run(tmp_path):
    calls = []
    Pipeline(tmp_path / "base").run(Stage("sft", _writer(calls, "weights"), {"lr": 1}))
    events = []
    pipeline = Pipeline(tmp_path / "new", reuse_from=[tmp_path / "base"],
                        on_event=lambda event, stage, result: events.append((event, stage.name)))
    reused = pipeline.run(Stage("sft", _writer(calls, "retrained"), {"lr": 1}))
    assert calls == ["sft"] and reused.cached and events == [("reused", "sft")]
    assert (tmp_path / "new" / "sft" / "result.txt").read_text() == "weights"
    linked, original = tmp_path / "new" / "sft" / "result.txt", tmp_path / "base" / "sft" / "result.txt"
    assert linked.stat().st_ino == original.stat().st_ino
    # Later runs in the new folder see it as their own finished stage.
    assert Pipeline(tmp_path / "new").run(Stage("sft", _writer(calls), {"lr": 1})).cached and calls == ["sft"]


def test_a_stage_with_another_key_elsewhere_is_recomputed_and_the_other_run_is_untouched(tmp_path):
    calls = []
    Pipeline(tmp_path / "base").run(Stage("grpo", _writer(calls, "old"), {"lr": 1}))
    (tmp_path / "new" / ".grpo.partial").mkdir(parents=True)  # an interrupted link from before
    result = Pipeline(tmp_path / "new", reuse_from=[tmp_path / "base"]).run(Stage("grpo", _writer(calls, "new"),
                                                                                  {"lr": 2}))
    assert calls == ["grpo", "grpo"] and not result.cached
    assert (tmp_path / "new" / "grpo" / "result.txt").read_text() == "new"
    assert (tmp_path / "base" / "grpo" / "result.txt").read_text() == "old"
