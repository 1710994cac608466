import json

import pytest

from shop_r1.data.build import BuildConfig, build_datasets
from shop_r1.data.split import split_sessions
from shop_r1.data.stats import session_stats
from shop_r1.prompts import PromptConfig, chat_token_counter
from tests.conftest import make_session


def _population(n_users=10, per_user=3):
    return [
        make_session(f"u{u}-s{k}", f"u{u}", n_steps=2 + (u + k) % 4) for u in range(n_users) for k in range(per_user)
    ]


def test_split_by_user_never_shares_a_user_and_is_seeded():
    sessions = _population()
    train, test, unit, _ = split_sessions(sessions, test_fraction=0.2, seed=7)
    assert unit == "user"
    assert {s.user_id for s in train}.isdisjoint({s.user_id for s in test})
    assert len({s.user_id for s in test}) == 2 and len(train) + len(test) == 30
    again = split_sessions(sessions, test_fraction=0.2, seed=7)
    assert [s.session_id for s in again[1]] == [s.session_id for s in test]
    other_seeds = {tuple(sorted({s.user_id for s in split_sessions(sessions, seed=k)[1]})) for k in range(10)}
    assert len(other_seeds) > 1


def test_split_by_session_without_users_keeps_order():
    sessions = [make_session(f"s{i}", None) for i in range(10)]
    train, test, unit, _ = split_sessions(sessions, test_fraction=0.3, seed=0)
    assert unit == "session" and len(test) == 3
    assert [s.session_id for s in train] == [s.session_id for s in sessions if s not in test]


@pytest.mark.parametrize(
    ("n", "fraction", "expected_test"),
    [(2, 0.01, 1), (3, 0.0, 0), (1, 0.5, 0)],
    ids=["at-least-one", "zero-fraction", "single-group"],
)
def test_split_edge_sizes(n, fraction, expected_test):
    sessions = [make_session(f"s{i}", f"u{i}") for i in range(n)]
    assert len(split_sessions(sessions, test_fraction=fraction)[1]) == expected_test


def test_validation_is_its_own_users_and_leaves_the_test_users_of_a_seed_unchanged():
    sessions = _population(n_users=20)
    before = split_sessions(sessions, test_fraction=0.2, seed=3)
    split = split_sessions(sessions, test_fraction=0.2, validation_fraction=0.15, seed=3)
    users = {name: {s.user_id for s in getattr(split, name)} for name in ("train", "validation", "test")}
    assert len(users["test"]) == 4 and len(users["validation"]) == 3 and len(users["train"]) == 13
    assert users["test"] == {s.user_id for s in before.test}
    assert not users["train"] & users["validation"] and not users["validation"] & users["test"]
    assert len(split.train) + len(split.validation) + len(split.test) == len(sessions)
    assert split.validation == [s for s in sessions if s.user_id in users["validation"]]  # file order


def test_three_way_split_keeps_a_training_user_and_rejects_fractions_that_leave_none():
    sessions = [make_session(f"s{i}", f"u{i}") for i in range(3)]
    split = split_sessions(sessions, test_fraction=0.5, validation_fraction=0.4)
    assert (len(split.train), len(split.validation), len(split.test)) == (1, 1, 1)
    with pytest.raises(ValueError, match="must be below 1"):
        split_sessions(sessions, test_fraction=0.5, validation_fraction=0.5)


def _read(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_build_writes_trl_ready_files(tmp_path, smollm2_tokenizer):
    sessions = _population(n_users=5, per_user=2)
    config = BuildConfig(prompt=PromptConfig(max_context_tokens=4096), test_fraction=0.2, seed=0)
    report = build_datasets(sessions, tmp_path, config, chat_token_counter(smollm2_tokenizer))
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    test_users = set(manifest["test_users"])
    assert len(test_users) == 1 and report.split_unit == "user"
    steps_total = sum(len(s.steps) for s in sessions)
    rl_train, rl_test = _read(tmp_path / "rl_train.jsonl"), _read(tmp_path / "rl_test.jsonl")
    assert len(rl_train) + len(rl_test) == steps_total
    assert {r["user_id"] for r in rl_test} == test_users and not test_users & {r["user_id"] for r in rl_train}
    row = rl_train[0]
    assert row["prompt"][0]["role"] == "system" and row["prompt"][1]["role"] == "user"
    assert row["gold_action"] == {"type": "type_and_submit", "name": "search_input", "text": "query 0"}
    assert row["step_index"] == 0 and row["gold_rationale"] == "reason 0"
    sft = _read(tmp_path / "sft_train.jsonl")
    assert len(sft) == report.splits["train"].sft_sessions == 8
    assert sft[0]["messages"][-1]["role"] == "assistant"
    steps = _read(tmp_path / "sft_steps_test.jsonl")
    assert steps[0]["completion"][0]["role"] == "assistant" and steps[0]["prompt"] == rl_test[0]["prompt"]
    assert manifest["splits"]["train"]["rl_steps"] == len(rl_train)


def test_built_files_load_with_datasets(tmp_path):
    import datasets

    build_datasets(
        _population(n_users=4, per_user=1), tmp_path, BuildConfig(prompt=PromptConfig(max_context_tokens=None))
    )
    rl = datasets.load_dataset("json", data_files=str(tmp_path / "rl_train.jsonl"), split="train")
    assert rl.num_rows > 0 and set(rl.features["gold_action"]) == {"type", "name", "text"}
    sft = datasets.load_dataset("json", data_files=str(tmp_path / "sft_train.jsonl"), split="train")
    assert sft.num_rows == 3


def test_build_with_latest_context_skips_whole_session_sft(tmp_path):
    report = build_datasets(
        _population(n_users=3, per_user=1),
        tmp_path,
        BuildConfig(prompt=PromptConfig(context="latest", max_context_tokens=None)),
    )
    assert not (tmp_path / "sft_train.jsonl").exists()
    assert report.splits["train"].sft_steps > 0


def test_build_counts_truncated_prompts(tmp_path, smollm2_tokenizer):
    sessions = [make_session(f"s{i}", f"u{i}", n_steps=6, html_size=120) for i in range(3)]
    report = build_datasets(
        sessions,
        tmp_path,
        BuildConfig(prompt=PromptConfig(max_context_tokens=1200)),
        chat_token_counter(smollm2_tokenizer),
    )
    assert report.total("truncated_step_prompts") > 0
    rows = _read(tmp_path / "rl_train.jsonl")
    assert sum(r["truncated"] for r in rows) == report.splits["train"].truncated_step_prompts


def test_stats_on_the_real_fixture(opera_actions_path):
    from shop_r1.data.opera import import_opera

    sessions, _ = import_opera(opera_actions_path)
    stats = session_stats(sessions)
    assert stats["sessions"] == 90 and stats["steps"] == 992 and stats["users"] == 15
    assert stats["action_types"] == {"click": 845, "type_and_submit": 107, "terminate": 40}
    assert stats["sessions_ending_in_terminate"] == 40 and stats["sessions_ending_otherwise"] == 50
    assert stats["session_length"]["min"] == 3 and stats["session_length"]["max"] == 54
    assert round(stats["session_length"]["mean"], 1) == 11.0
    assert sum(stats["session_length"]["histogram"].values()) == 90
    assert stats["distinct_element_names"] == 368
    assert stats["rationale_share"] == 1.0 and stats["html_share"] == 0.0


def test_rebalanced_rl_rows_follow_the_paper_mix(tmp_path):
    from collections import Counter

    from shop_r1.world.synth import synthesize_sessions

    sessions = list(synthesize_sessions(30, 2, seed=1))
    config = BuildConfig(prompt=PromptConfig(max_context_tokens=None), test_fraction=0.0, rebalance_rl=True)
    report = build_datasets(sessions, tmp_path, config)
    mix = Counter(row["gold_action"]["type"] for row in _read(tmp_path / "rl_train.jsonl"))
    terminate = sum(s.steps[-1].action.type == "terminate" for s in sessions)
    assert mix["terminate"] == terminate  # the scarcest type is kept whole
    assert mix["click"] == mix["type_and_submit"] == round(1.1 * terminate)
    assert report.splits["train"].sft_steps == sum(len(s.steps) for s in sessions)  # SFT is not subsampled


def test_build_with_validation_writes_validation_files_of_its_own_users(tmp_path):
    sessions = _population(n_users=10, per_user=2)
    config = BuildConfig(prompt=PromptConfig(max_context_tokens=None), test_fraction=0.2, validation_fraction=0.2)
    report = build_datasets(sessions, tmp_path, config)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert list(report.splits) == ["train", "validation", "test"]
    assert manifest["files"]["rl_validation"] == "rl_validation.jsonl"
    rows = {split: _read(tmp_path / f"rl_{split}.jsonl") for split in ("train", "validation", "test")}
    users = {split: {row["user_id"] for row in part} for split, part in rows.items()}
    assert users["validation"] == set(manifest["validation_users"]) and len(users["validation"]) == 2
    assert not users["validation"] & (users["train"] | users["test"])
    assert sum(map(len, rows.values())) == sum(len(s.steps) for s in sessions)
