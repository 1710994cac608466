"""Kill `shop-r1 rationales synthesize` (SIGKILL) mid-run, rerun it, and check nothing is asked twice or lost."""

import json
import os
import signal
import subprocess
import sys
import time

from shop_r1.data.io import read_sessions, write_sessions
from shop_r1.rationales.synthesize import default_cache_dir, failed_path
from tests.conftest import REPO_ROOT
from tests.rationale_teacher import Teacher, expected_steps, teacher_session

KEY = "sk-resume-test-4f1c9a7e"


def _run(args, env):
    return subprocess.Popen([sys.executable, "-m", "shop_r1", "rationales", "synthesize", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _cached_session_ids(cache_dir):
    return {json.loads(p.read_text())["session_id"] for p in cache_dir.rglob("*.json")}


def test_kill_then_rerun_finishes_without_repeating_finished_sessions(tmp_path):
    sessions = [teacher_session(f"s{i}", 2 + i % 3) for i in range(10)]
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_sessions(source, sessions)
    out.write_text("old complete output\n")
    cache_dir = default_cache_dir(out)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src"), "TEACHER_KEY": KEY}
    with Teacher(delay=0.4, required_key=KEY) as teacher:
        args = [str(source), str(out), "--base-url", teacher.url, "--model", "teacher", "--concurrency", "2",
                "--api-key-env", "TEACHER_KEY"]
        first = _run(args, env)
        deadline = time.monotonic() + 60
        while len(_cached_session_ids(cache_dir) if cache_dir.exists() else ()) < 4:
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "no cache entries appeared"
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first_out, first_err = first.communicate()
        assert first.returncode == -signal.SIGKILL
        cached_at_kill = _cached_session_ids(cache_dir)
        calls_at_kill = teacher.calls.copy()
        assert 4 <= len(cached_at_kill) < 10
        # Nothing was written over the old output, and no temp file was left beside it.
        assert out.read_text() == "old complete output\n"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "out.jsonl", "out.jsonl.cache"]

        teacher.delay = 0.0
        second = _run(args, env)
        second_out, second_err = second.communicate(timeout=120)
        assert second.returncode == 0, second_err
    for session_id in cached_at_kill:
        assert teacher.calls[session_id] == calls_at_kill[session_id] == 1
    assert set(teacher.calls) == {s.session_id for s in sessions}
    # Only calls in flight at the kill (at most --concurrency) can have been made twice.
    assert sum(teacher.calls.values()) <= len(sessions) + 2
    assert [[st.rationale for st in s.steps] for s in read_sessions(out)] == [expected_steps(s) for s in sessions]
    assert not failed_path(out).exists()
    assert set(teacher.auth_headers) == {f"Bearer {KEY}"}
    cache_text = "".join(p.read_text() for p in cache_dir.rglob("*.json"))
    for text in (first_out, first_err, second_out, second_err, cache_text, out.read_text()):
        assert KEY not in text
    assert "cached" in second_out and f"wrote 10 sessions to {out}" in second_out.replace("\n", "")
