"""The session viewer's HTML (no browser here; tests/integration/test_viewer_browser.py runs one)."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from shop_r1.cli import app, main
from shop_r1.data import write_sessions
from shop_r1.schema import Action, Session, Step
from shop_r1.viewer import Pane, render_viewer, safe_json
from shop_r1.viewer.build import CSP

runner = CliRunner()
HOSTILE = '<body><a name="x.y">ok</a></script><script>alert(1)</script><!-- \u2028</body>'


def _session(session_id: str, html: str = HOSTILE) -> Session:
    steps = (Step(Action("click", name="x.y"), html=html, rationale="why"), Step(Action("terminate")))
    return Session(session_id, steps)


def _data(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="shop-r1-data">(.*?)</script>', page, re.S)
    assert match, "the data block is missing or was cut short"
    return json.loads(match.group(1))


def test_safe_json_cannot_end_a_script_element():
    text = safe_json({"html": HOSTILE})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"html": HOSTILE}


def test_page_embeds_every_step_intact_and_nothing_remote():
    page = render_viewer([Pane("real.jsonl", [_session("a"), _session("b")], total=5)])
    data = _data(page)
    assert data["panes"][0]["total"] == 5 and len(data["panes"][0]["sessions"]) == 2
    assert data["panes"][0]["sessions"][0]["steps"][0]["html"] == HOSTILE
    assert data["panes"][0]["sessions"][0]["steps"][1]["action"] == {"type": "terminate"}
    assert page.count("<script") == 2  # the data block and the viewer: the page's own script stays data
    assert f'content="{CSP}"' in page and "default-src 'none'" in CSP
    assert not re.search(r'(src|href)="https?:', page)  # no remote asset


def test_two_panes_and_no_more():
    page = render_viewer([Pane("real", [_session("a")]), Pane("sim", [_session("b")])])
    assert [p["label"] for p in _data(page)["panes"]] == ["real", "sim"]
    assert "choose the pane" in page
    with pytest.raises(ValueError):
        render_viewer([Pane(str(i), [_session("a")]) for i in range(3)])
    with pytest.raises(ValueError, match="no sessions"):
        Pane("empty", [])


def test_cli_view_caps_sessions_and_compares(tmp_path):
    real, sim, out = tmp_path / "real.jsonl", tmp_path / "sim.jsonl", tmp_path / "viewer.html"
    write_sessions(real, [_session(f"r{i}") for i in range(5)])
    write_sessions(sim, [_session("s0")])
    result = runner.invoke(app, ["view", str(real), "--out", str(out), "--compare", str(sim), "--max-sessions", "3"])
    assert result.exit_code == 0, result.output
    assert "3 of 5 visits from real.jsonl" in result.output
    panes = _data(out.read_text())["panes"]
    assert [(p["label"], p["total"], [s["id"] for s in p["sessions"]]) for p in panes] == [
        ("real.jsonl", 5, ["r0", "r1", "r2"]), ("sim.jsonl", 1, ["s0"])]


def test_cli_view_refuses_to_overwrite_its_input(tmp_path, capsys):
    real = tmp_path / "real.jsonl"
    write_sessions(real, [_session("r0")])
    with pytest.raises(SystemExit) as stop:
        main(["view", str(real), "--out", str(real)])
    assert stop.value.code == 1 and "same file" in capsys.readouterr().err
    assert "r0" in real.read_text()
