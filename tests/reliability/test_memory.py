"""Class 5: memory stays bounded on hostile sizes (asserted with RLIMIT_AS in a subprocess, not by timing)."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from unittest.mock import patch

from typer.testing import CliRunner

from shop_r1.limits import GRACEFUL_SHUTDOWN_S, KEEP_ALIVE_TIMEOUT_S, MAX_CONNECTIONS, MAX_LINE_BYTES
from tests.reliability.conftest import snapshot

SRC = Path(__file__).resolve().parents[2] / "src"


def _run_capped(args: list[str], limit_bytes: int, cwd: Path) -> subprocess.CompletedProcess:
    """`python -m shop_r1 args` with its address space capped: growing past it is a MemoryError, not a slow test."""

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))

    env = {**os.environ, "PYTHONPATH": str(SRC), "COLUMNS": "400"}
    return subprocess.run([sys.executable, "-m", "shop_r1", *args], cwd=cwd, env=env, preexec_fn=cap,
                          capture_output=True, text=True, timeout=600)


def test_html_simplify_stays_small_on_a_page_nested_200000_deep(tmp_path):
    depth = 200_000
    deep = tmp_path / "deep.html"
    deep.write_text("<html><body>" + "<div>" * depth + '<a href="/x">Buy</a>' + "</div>" * depth + "</body></html>")
    wide = tmp_path / "wide.html"  # 50,000 empty siblings: used to build strings of quadratic total size
    wide.write_text("<html><body>" + "<div></div>" * 50_000 + '<a href="/x">Buy</a></body></html>')
    before = snapshot(tmp_path)
    # Before the fix these needed ~11 GB and ~1.2 GB; 512 MB of address space is the interpreter plus a margin.
    result = _run_capped(["html", "simplify", str(deep)], 512 * 1024 * 1024, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout == ('<body><p>[page nested deeper than 512 levels: the rest is flattened]</p>'
                             '<a name="buy">Buy</a></body>\n')
    result = _run_capped(["html", "simplify", str(wide)], 512 * 1024 * 1024, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout == '<body><a name="buy">Buy</a></body>\n'
    assert snapshot(tmp_path) == before


def test_a_50_mb_session_is_refused_with_the_documented_cap_in_bounded_memory(tmp_path):
    sessions = tmp_path / "sessions.jsonl"
    page = "<p>" + "x" * 1_000_000 + "</p>"
    record = {"session_id": "huge", "user_id": "u", "steps": [{"html": page, "action": {"type": "click",
                                                                                         "name": "n"}}] * 50}
    sessions.write_text(json.dumps(record) + "\n" + json.dumps({**record, "session_id": "s2", "steps": [
        {"action": {"type": "terminate"}}]}) + "\n")
    assert sessions.stat().st_size > 50_000_000
    before = snapshot(tmp_path)
    result = _run_capped(["data", "validate", str(sessions), "--all"], 1024 * 1024 * 1024, tmp_path)
    assert result.returncode == 1, result.stderr[-2000:]
    assert f"{sessions}:1: line longer than {MAX_LINE_BYTES} bytes" in result.stdout.replace("\n", "")
    assert "1 invalid record(s); 1 valid session(s)" in result.stdout  # the line after it is still read
    result = _run_capped(["data", "build", str(sessions), str(tmp_path / "datasets")], 1024 * 1024 * 1024, tmp_path)
    assert result.returncode == 1
    assert f"error: {sessions}:1: line longer than {MAX_LINE_BYTES} bytes" in result.stderr.replace("\n", "")
    assert snapshot(tmp_path) == before


def test_serve_bounds_connections_and_sets_its_timeouts():
    from shop_r1.cli import app
    from tests.unit.serve_fakes import ScriptedEngine

    class Engine(ScriptedEngine):
        max_position_embeddings = 8192

    with patch("shop_r1.serve.engine.ModelEngine.load", return_value=Engine()), patch("uvicorn.run") as run:
        result = CliRunner().invoke(app, ["serve", "--model", "tiny-random:llama"], env={})
    assert result.exit_code == 0, result.output
    kwargs = run.call_args.kwargs
    assert (kwargs["limit_concurrency"], kwargs["timeout_keep_alive"], kwargs["timeout_graceful_shutdown"]) == (
        MAX_CONNECTIONS, KEEP_ALIVE_TIMEOUT_S, GRACEFUL_SHUTDOWN_S) == (64, 5, 30)
