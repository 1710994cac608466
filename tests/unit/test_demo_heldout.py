"""The held-out stage: which steps every setting is scored on, and how `eval_users` adds new shoppers."""

import json

import pytest

from shop_r1.demo import (
    HELDOUT_FILE,
    DemoConfig,
    _data_stage,
    _heldout_stage,
    _markov_stage,
    select_eval_rows,
)
from shop_r1.evaluation.predict import load_rl_rows


def _config(split="test", **overrides):
    return DemoConfig(size="tiny", model="tiny-random:llama", split=split, overrides=overrides).resolved()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "data"
    out.mkdir()
    _data_stage(_config())(out)
    return out


def _heldout(tmp_path, data_dir, name, config):
    out = tmp_path / name
    out.mkdir()
    _heldout_stage(config, data_dir)(out)
    return load_rl_rows(out / HELDOUT_FILE), out


def _users(rows):
    return {row["user_id"] for row in rows}


def test_without_extra_users_the_split_users_steps_are_scored(tmp_path, data_dir):
    rows, _ = _heldout(tmp_path, data_dir, "test", _config())
    own = load_rl_rows(data_dir / "datasets" / "rl_test.jsonl")
    assert rows == select_eval_rows(own, 6, 0)
    assert len(rows) == 6


def test_extra_users_are_new_shoppers_and_each_split_gets_its_own(tmp_path, data_dir):
    config = _config(eval_steps=60, eval_users=3)
    test_rows, test_dir = _heldout(tmp_path, data_dir, "test", config)
    validation_rows, _ = _heldout(tmp_path, data_dir, "validation", _config("validation", eval_steps=60, eval_users=3))
    own_test = load_rl_rows(data_dir / "datasets" / "rl_test.jsonl")
    trained = _users(load_rl_rows(data_dir / "datasets" / "rl_train.jsonl"))
    # The tiny world's 12 users are u0001-u0012; test adds u0013-u0015, validation u0016-u0018.
    assert _users(test_rows) - _users(own_test) <= {"u0013", "u0014", "u0015"}
    assert _users(test_rows) & {"u0013", "u0014", "u0015"}
    assert _users(validation_rows) & {"u0016", "u0017", "u0018"}
    assert not _users(test_rows) & _users(validation_rows)
    assert not (_users(test_rows) | _users(validation_rows)) & trained
    assert len(test_rows) > len(own_test)  # more steps to score than the split's own users hold
    # Every type is present, balanced as far as the terminates allow.
    counts = {kind: sum(row["gold_action"]["type"] == kind for row in test_rows)
              for kind in ("click", "type_and_submit", "terminate")}
    assert min(counts.values()) > 0
    # The frequency table answers the extra shoppers' steps too (it reads their sessions).
    markov = tmp_path / "markov"
    markov.mkdir()
    _markov_stage(config, data_dir, test_dir)(markov)
    predicted = [json.loads(line) for line in (markov / "predictions.jsonl").read_text().splitlines()]
    assert [(p["session_id"], p["step_index"]) for p in predicted] == [
        (r["session_id"], r["step_index"]) for r in test_rows]
