"""`shop-r1 realism` through the CLI: files written, values, errors; and on the real OPeRA test split."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from shop_r1.cli import app, main
from shop_r1.data import write_sessions
from tests.unit.test_realism import REAL, SIM

runner = CliRunner()


@pytest.fixture
def files(tmp_path):
    real, sim = tmp_path / "real.jsonl", tmp_path / "sim.jsonl"
    write_sessions(real, REAL)
    write_sessions(sim, SIM)
    return real, sim


def test_realism_writes_json_report_and_figures(files, tmp_path):
    real, sim = files
    out = tmp_path / "out"
    result = runner.invoke(app, ["realism", str(real), str(sim), "--out", str(out), "--resamples", "100"])
    assert result.exit_code == 0, result.output
    assert "mean JS" in result.output and "3 figure(s)" in result.output
    data = json.loads((out / "realism.json").read_text())
    assert data["session_length"]["wasserstein"]["value"] == pytest.approx(0.5)
    assert data["bootstrap"]["n_resamples"] == 100
    low, high = data["purchase_rate"]["real"]["ci_low"], data["purchase_rate"]["real"]["ci_high"]
    assert 0.0 <= low <= 1 / 3 <= high <= 1.0
    assert data["real"]["source"] == str(real)
    for name in ("mixes.png", "funnel.png", "distributions.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (out / "report.md").read_text()
    assert "![funnel](funnel.png)" in report and "| review | 25.0 " in report


def test_realism_without_plots_or_intervals(files, tmp_path):
    real, sim = files
    out = tmp_path / "out"
    result = runner.invoke(app, ["realism", str(real), str(sim), "--out", str(out), "--resamples", "0",
                                 "--no-plots"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["realism.json", "report.md"]
    assert json.loads((out / "realism.json").read_text())["session_length"]["ks"]["ci_low"] is None


def test_realism_bad_input_is_one_line(tmp_path, files, capsys):
    real, _ = files
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"session_id": "x", "steps": []}\n')
    with pytest.raises(SystemExit) as stop:
        main(["realism", str(real), str(bad), "--out", str(tmp_path / "out")])
    assert stop.value.code == 1
    err = capsys.readouterr().err
    assert "bad.jsonl:1" in err and "steps" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_realism_with_everything_skipped_says_so(tmp_path, files, capsys):
    real, _ = files
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    with pytest.raises(SystemExit):
        main(["realism", str(real), str(bad), "--skip-invalid", "--out", str(tmp_path / "out")])
    assert "no valid sessions" in capsys.readouterr().err


def test_opera_against_the_world_reproduces_the_known_gaps(opera_actions_path, tmp_path):
    """The real OPeRA test split against the embedded world's shoppers (docs/embedded-world.md)."""
    from shop_r1.data.opera import import_opera
    from shop_r1.realism import compare_sessions
    from shop_r1.world.synth import synthesize_sessions

    real, _ = import_opera(opera_actions_path)
    world = list(synthesize_sessions(40, 3, seed=0))
    result = compare_sessions(real, world, n_resamples=0)
    # OPeRA: 188 review and 30 filter clicks of 992 actions
    assert result.get("click_target_per_action.real.review").value == pytest.approx(188 / 992)
    assert result.get("click_target_per_action.real.filter").value == pytest.approx(30 / 992)
    assert result.get("purchase_rate.real").value == pytest.approx(50 / 90)
    assert result.get("session_length.real.mean").value == pytest.approx(992 / 90)
    # the world's shoppers read far fewer reviews and filter far more
    assert result.get("click_target_per_action.simulated.review").value < 0.08
    assert result.get("click_target_per_action.simulated.filter").value > 0.08
