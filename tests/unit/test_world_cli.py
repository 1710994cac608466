"""The `data synth` and `html simplify` commands, run through typer's CliRunner."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from shop_r1.cli.html import app as html_app
from shop_r1.cli.synth import synth
from shop_r1.data import read_sessions

runner = CliRunner()


def _synth_app() -> typer.Typer:
    app = typer.Typer()
    app.command()(synth)
    return app


def test_synth_writes_identical_files(tmp_path: Path) -> None:
    outputs = []
    for name in ("a.jsonl", "b.jsonl"):
        out = tmp_path / name
        result = runner.invoke(_synth_app(), [str(out), "--users", "3", "--sessions-per-user", "2", "--seed", "5"])
        assert result.exit_code == 0, result.output
        assert "wrote 6 sessions" in result.output and "end in terminate" in result.output
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    sessions = read_sessions(tmp_path / "a.jsonl")
    assert [s.session_id for s in sessions][:2] == ["u0001-s01", "u0001-s02"]


def test_synth_results_per_page(tmp_path: Path) -> None:
    out = tmp_path / "s.jsonl"
    args = [str(out), "--users", "2", "--sessions-per-user", "1", "--results-per-page", "5"]
    assert runner.invoke(_synth_app(), args).exit_code == 0
    pages = [step.html for s in read_sessions(out) for step in s.steps if "search_results.item_" in step.html]
    assert pages and all("search_results.item_5" in html for html in pages if "pagination.next" in html)


def test_html_simplify_file(tmp_path: Path) -> None:
    page = tmp_path / "in.html"
    page.write_text('<div class="x"><script>t()</script><a href="/a">Go there</a></div>', encoding="utf-8")
    result = runner.invoke(html_app, ["simplify", str(page)])
    assert result.exit_code == 0
    assert result.output.strip() == '<body><a name="go_there">Go there</a></body>'


def test_html_simplify_stdin_and_cap() -> None:
    result = runner.invoke(html_app, ["simplify", "-", "--max-chars", "60"], input="<p>" + "word " * 500 + "</p>")
    assert result.exit_code == 0 and len(result.output.strip()) <= 60


def test_html_simplify_missing_file() -> None:
    result = runner.invoke(html_app, ["simplify", "/nonexistent/page.html"])
    assert result.exit_code != 0 and "no such file" in str(result.exception)
