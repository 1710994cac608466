import json
from unittest import mock

from typer.testing import CliRunner

from shop_r1.cli import app
from shop_r1.data.io import read_sessions, write_sessions
from shop_r1.rationales import RationalePromptConfig, SynthesisConfig, SynthesisMode
from shop_r1.rationales.client import GenerationSettings
from shop_r1.rationales.synthesize import SessionFailure, SynthesisResult, SynthesisSummary
from tests.conftest import make_session

runner = CliRunner()


def _fake_result(sessions, failed=()):
    summary = SynthesisSummary(sessions=len(sessions) + len(failed), done=len(sessions), failed=list(failed),
                               requests=7, retries=2)
    return SynthesisResult(list(sessions), summary)


def test_options_reach_the_library_and_out_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv("MY_KEY", "sk-abc")
    sessions = [make_session("a"), make_session("b")]
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_sessions(source, sessions)
    with mock.patch("shop_r1.rationales.synthesize_rationales", return_value=_fake_result(sessions)) as run:
        result = runner.invoke(app, [
            "rationales", "synthesize", str(source), str(out), "--base-url", "http://h:1/v1", "--model", "m",
            "--per-step", "--overwrite", "--no-persona", "--max-prompt-chars", "5000", "--temperature", "0.2",
            "--max-tokens", "300", "--concurrency", "3", "--timeout", "9", "--max-attempts", "2",
            "--api-key-env", "MY_KEY"])
    assert result.exit_code == 0, result.output
    args, kwargs = run.call_args
    assert args[0] == sessions
    assert args[1] == SynthesisConfig(model="m", mode=SynthesisMode.STEP, overwrite=True,
                                      prompt=RationalePromptConfig(max_prompt_chars=5000, include_persona=False),
                                      generation=GenerationSettings(temperature=0.2, max_tokens=300))
    assert kwargs["base_url"] == "http://h:1/v1" and kwargs["api_key"] == "sk-abc"
    assert kwargs["cache_dir"] == tmp_path / "out.jsonl.cache"
    assert (kwargs["concurrency"], kwargs["timeout"], kwargs["retry"].max_attempts) == (3, 9.0, 2)
    assert read_sessions(out) == sessions
    assert "requests sent" in result.output and "tokens" in result.output
    assert "sk-abc" not in result.output


def test_failures_exit_1_with_a_sidecar_and_reasons_grouped(tmp_path):
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_sessions(source, [make_session("a"), make_session("b"), make_session("c")])
    failures = [SessionFailure("b", "HTTP 503", "HTTP 503: busy (after 5 attempts)", 5),
                SessionFailure("c", "HTTP 503", "HTTP 503: busy (after 5 attempts)", 5)]
    with mock.patch("shop_r1.rationales.synthesize_rationales",
                    return_value=_fake_result([make_session("a")], failures)):
        result = runner.invoke(app, ["rationales", "synthesize", str(source), str(out), "--base-url",
                                     "http://h:1", "--model", "m", "--cache-dir", str(tmp_path / "c")])
    assert result.exit_code == 1
    assert [s.session_id for s in read_sessions(out)] == ["a"]
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl.failed.jsonl").read_text().splitlines()]
    assert rows == [f.to_dict() for f in failures]
    assert "2 session(s) failed" in result.output
    reason_rows = [line for line in result.output.splitlines() if "HTTP 503" in line and "│ 2" in line]
    assert len(reason_rows) == 1  # one group of two, not two rows


def test_bad_base_url_fails_before_any_work(tmp_path):
    source = tmp_path / "in.jsonl"
    write_sessions(source, [make_session("a")])
    with mock.patch("shop_r1.rationales.synthesize_rationales") as run:
        result = runner.invoke(app, ["rationales", "synthesize", str(source), str(tmp_path / "o.jsonl"),
                                     "--base-url", "localhost:8000", "--model", "m"])
    assert result.exit_code != 0 and "--base-url" in str(result.exception)
    run.assert_not_called()
