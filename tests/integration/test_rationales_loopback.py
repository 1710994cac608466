"""`rationales synthesize` against a scripted teacher over real loopback HTTP, with injected faults.

Each test runs a few seconds (client timeouts of 0.5 s, backoff of tens of milliseconds), so none is
marked slow.
"""

import dataclasses
import json

import pytest
from typer.testing import CliRunner

from shop_r1.cli import app
from shop_r1.data.io import read_sessions, write_sessions
from shop_r1.data.opera import import_opera
from shop_r1.rationales import SynthesisConfig, synthesize_rationales
from shop_r1.rationales.client import RetryPolicy
from shop_r1.rationales.synthesize import default_cache_dir, failed_path
from tests.rationale_teacher import (
    Teacher,
    expected_rationale,
    expected_steps,
    teacher_behind_proxy,
    teacher_session,
)

runner = CliRunner()
FAST_RETRY = RetryPolicy(max_attempts=10, backoff=0.05, backoff_max=0.2)


def _sessions():
    """Five sessions to fill in (one partly filled already) and one complete session to skip."""
    return [
        teacher_session("s0", 3),
        teacher_session("s1", 5),
        teacher_session("s2", 2, keep=(0, 1)),  # complete: skipped, no call
        teacher_session("s3", 4, keep=(1,)),  # one existing rationale to keep
        teacher_session("s4", 1),
        teacher_session("s5", 3),
    ]


def _rationales(session):
    return [step.rationale for step in session.steps]


def test_faults_are_retried_and_the_output_is_complete_and_correct(tmp_path):
    schedule = ["500", "429", "bad-body", "bad-reply", "wrong-count", "timeout", "drop", "500"]
    sessions = _sessions()
    with teacher_behind_proxy(schedule, hang=1.0, retry_after=1) as (teacher, proxy):
        result = synthesize_rationales(sessions, SynthesisConfig(model="teacher"), base_url=proxy.url,
                                       cache_dir=tmp_path / "cache", timeout=0.5, concurrency=2, retry=FAST_RETRY)
    by_id = {s.session_id: s for s in result.sessions}
    assert [s.session_id for s in result.sessions] == [s.session_id for s in sessions]  # input order
    for original in sessions:
        assert _rationales(by_id[original.session_id]) == expected_steps(original)
        assert [st.action for st in by_id[original.session_id].steps] == [st.action for st in original.steps]
    assert _rationales(by_id["s3"])[1] == "reason 1" and _rationales(by_id["s2"]) == ["reason 0", "reason 1"]
    # Faults never reached the teacher: one call per session that needed one, none for the complete one.
    assert teacher.calls == {"s0": 1, "s1": 1, "s3": 1, "s4": 1, "s5": 1}
    summary = result.summary
    assert (summary.sessions, summary.done, summary.cached, summary.skipped, summary.failed) == (6, 5, 0, 1, [])
    assert summary.retries == len(schedule) and summary.requests == 5 + len(schedule)
    assert summary.total_tokens == teacher.usage["total_tokens"] > 0
    assert summary.prompt_tokens == teacher.usage["prompt_tokens"]
    # The retry after the 429 waited for its Retry-After (1 s) before asking again for that session.
    at, session_id, _ = next(entry for entry in proxy.log if entry[2] == "429")
    retry_at = next(t for t, sid, _ in proxy.log if sid == session_id and t > at)
    assert retry_at - at >= 1.0


def test_second_run_is_served_from_the_cache(tmp_path):
    sessions = _sessions()
    with Teacher() as teacher:
        kwargs = dict(base_url=teacher.url, cache_dir=tmp_path / "cache", retry=FAST_RETRY)
        first = synthesize_rationales(sessions, SynthesisConfig(model="teacher"), **kwargs)
        again = synthesize_rationales(sessions, SynthesisConfig(model="teacher"), **kwargs)
        assert teacher.calls.total() == 5
        # Overwrite asks the teacher the same question: served from the cache too, existing ones replaced.
        overwritten = synthesize_rationales(sessions, SynthesisConfig(model="teacher", overwrite=True), **kwargs)
        assert teacher.calls.total() == 5 + 1  # only s2 (skipped so far) is new
        other_model = synthesize_rationales(sessions[:1], SynthesisConfig(model="teacher-2"), **kwargs)
        assert teacher.calls.total() == 7
    assert (again.summary.done, again.summary.cached, again.summary.skipped, again.summary.requests) == (0, 5, 1, 0)
    assert [_rationales(s) for s in again.sessions] == [_rationales(s) for s in first.sessions]
    assert [_rationales(s) for s in overwritten.sessions] == [expected_steps(s, overwrite=True) for s in sessions]
    assert (overwritten.summary.done, overwritten.summary.cached) == (1, 5)
    assert other_model.summary.done == 1


def test_per_step_mode_asks_only_for_missing_steps(tmp_path):
    sessions = [teacher_session("s0", 3), teacher_session("s3", 4, keep=(1, 3)), teacher_session("s2", 2, keep=(0, 1))]
    schedule = ["500", "bad-reply", "timeout"]
    config = SynthesisConfig(model="teacher", mode="step")
    with teacher_behind_proxy(schedule, hang=1.0) as (teacher, proxy):
        result = synthesize_rationales(sessions, config, base_url=proxy.url, cache_dir=tmp_path / "cache",
                                       timeout=0.5, concurrency=3, retry=FAST_RETRY)
        again = synthesize_rationales(sessions, config, base_url=proxy.url, cache_dir=tmp_path / "cache",
                                      retry=FAST_RETRY)
    assert teacher.step_calls == {("s0", 1): 1, ("s0", 2): 1, ("s0", 3): 1, ("s3", 1): 1, ("s3", 3): 1}
    assert [_rationales(s) for s in result.sessions] == [expected_steps(s) for s in sessions]
    assert (result.summary.done, result.summary.skipped, result.summary.retries) == (2, 1, 3)
    assert (again.summary.cached, again.summary.requests) == (2, 0)
    assert [_rationales(s) for s in again.sessions] == [_rationales(s) for s in result.sessions]


def _cli(args, env=None):
    return runner.invoke(app, ["rationales", "synthesize", *args], env=env, catch_exceptions=False)


def test_failed_sessions_go_to_the_sidecar_and_a_rerun_retries_only_them(tmp_path, monkeypatch):
    key = "sk-test-0123456789-secret"
    monkeypatch.setenv("TEACHER_KEY", key)
    sessions = _sessions()
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_sessions(source, sessions)
    args = [str(source), str(out), "--model", "teacher", "--api-key-env", "TEACHER_KEY", "--concurrency", "1",
            "--max-attempts", "3", "--backoff", "0.01", "--timeout", "5"]
    # The first session meets three 503s whose body echoes the Authorization header; s5 always gets a short reply.
    with teacher_behind_proxy(["503-echo-auth"] * 3) as (teacher, proxy):
        teacher.bad_for = {"s5"}
        first = _cli([*args, "--base-url", proxy.url])
        assert first.exit_code == 1, first.output
        failures = [json.loads(line) for line in failed_path(out).read_text().splitlines()]
        assert [(f["session_id"], f["kind"], f["attempts"]) for f in failures] == [
            ("s0", "HTTP 503", 3), ("s5", "invalid reply", 3)]
        assert "expected 3 rationales, got 2" in failures[1]["reason"]
        assert "Bearer ***" in failures[0]["reason"]  # echoed, then redacted
        assert [s.session_id for s in read_sessions(out)] == ["s1", "s2", "s3", "s4"]
        assert "2 session(s) failed" in first.output and "HTTP 503" in first.output
        assert teacher.calls == {"s1": 1, "s3": 1, "s4": 1, "s5": 3}

        teacher.bad_for = set()
        second = _cli([*args, "--base-url", proxy.url])
        assert second.exit_code == 0, second.output
        assert teacher.calls == {"s0": 1, "s1": 1, "s3": 1, "s4": 1, "s5": 4}
        assert set(teacher.auth_headers) == {f"Bearer {key}"}
    assert not failed_path(out).exists()
    assert [_rationales(s) for s in read_sessions(out)] == [expected_steps(s) for s in sessions]
    assert "cached" in second.output
    stored = [p.read_text() for p in default_cache_dir(out).rglob("*.json")]
    assert len(stored) == 5
    for text in [first.output, second.output, out.read_text(), *stored]:
        assert key not in text


def test_a_wrong_key_stops_the_run_with_one_line(tmp_path, monkeypatch, capsys):
    from shop_r1.cli import main

    monkeypatch.setenv("TEACHER_KEY", "sk-wrong-key-abcdef")
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_sessions(source, _sessions())
    with Teacher(required_key="sk-right") as teacher, pytest.raises(SystemExit) as exit_info:
        main(["rationales", "synthesize", str(source), str(out), "--base-url", teacher.root, "--model", "t",
              "--api-key-env", "TEACHER_KEY"])
    assert exit_info.value.code == 1
    captured = capsys.readouterr()
    assert "HTTP 401" in captured.err and "check the key in --api-key-env" in captured.err
    assert "sk-wrong-key-abcdef" not in captured.err + captured.out
    assert not out.exists() and not failed_path(out).exists()
    assert len(teacher.auth_headers) <= 4  # refused at once, not retried


def test_api_key_env_must_name_a_set_variable(tmp_path, monkeypatch):
    source = tmp_path / "in.jsonl"
    write_sessions(source, _sessions())
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    base = [str(source), str(tmp_path / "out.jsonl"), "--base-url", "http://127.0.0.1:9/v1", "--model", "t"]
    result = runner.invoke(app, ["rationales", "synthesize", *base, "--api-key-env", "NOT_SET_ANYWHERE"])
    assert result.exit_code != 0 and "NOT_SET_ANYWHERE is not set" in str(result.exception)
    result = runner.invoke(app, ["rationales", "synthesize", *base, "--api-key-env", "sk-live-abc-123"])
    assert result.exit_code == 2 and "sk-live-abc-123" not in result.output


def test_real_opera_sessions_with_rationales_stripped_from_every_other_session(tmp_path, opera_actions_path):
    opera, _ = import_opera(opera_actions_path)
    stripped = [dataclasses.replace(s, steps=tuple(dataclasses.replace(st, rationale=None) for st in s.steps))
                if n % 2 == 0 else s for n, s in enumerate(opera)]
    with Teacher() as teacher:
        result = synthesize_rationales(stripped, SynthesisConfig(model="teacher"), base_url=teacher.url,
                                       cache_dir=tmp_path / "cache", concurrency=4, retry=FAST_RETRY)
    assert teacher.calls == {"unknown": 45}  # OPeRA rows carry no URL for the teacher to tell sessions apart
    assert (result.summary.done, result.summary.skipped, result.summary.failed) == (45, 45, [])
    assert [s.session_id for s in result.sessions] == [s.session_id for s in opera]
    for n, (before, after) in enumerate(zip(opera, result.sessions, strict=True)):
        if n % 2:
            assert after == before
        else:
            assert _rationales(after) == [expected_rationale("unknown", k, st.action.type.value)
                                          for k, st in enumerate(before.steps, start=1)]
