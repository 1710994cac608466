"""Resuming a killed simulation: finished visits are kept byte for byte, the rest are redone, N in total."""

from __future__ import annotations

import json

import pytest

from shop_r1.errors import ShopR1Error
from shop_r1.prompts import PromptConfig
from shop_r1.simulation.config import SimulationConfig
from shop_r1.simulation.drivers import ModelDriver, WorldDriver
from shop_r1.simulation.loop import simulate
from shop_r1.simulation.output import failed_path
from tests.unit.sim_fakes import GARBAGE, SEARCH, TERMINATE, ScriptedGenerator

CONFIG = SimulationConfig(shoppers=6, seed=2, batch_size=2)


def _lines(path):
    return path.read_bytes().splitlines(keepends=True)


def test_resume_after_kill_keeps_finished_visits(tmp_path):
    reference = tmp_path / "full.jsonl"
    simulate(CONFIG, WorldDriver(), reference)
    full = _lines(reference)
    assert len(full) == 6

    # A run killed while writing its fourth visit: three whole lines and half of the next.
    out = tmp_path / "sims.jsonl"
    out.write_bytes(b"".join(full[:3]) + full[3][: len(full[3]) // 2])
    summary = simulate(CONFIG, WorldDriver(), out).summary
    resumed = _lines(out)
    assert resumed[:3] == full[:3]  # byte-identical
    assert len(resumed) == 6
    ids = [json.loads(line)["session_id"] for line in resumed]
    assert sorted(ids) == [f"v{i:05d}" for i in range(1, 7)]
    # The world visits redone from scratch are the same visits as in the uninterrupted run.
    assert sorted(resumed) == sorted(full)
    assert summary["this_run"] == {**summary["this_run"], "visits": 3, "already_done": 3}
    assert summary["visits"] == 6
    assert any("half-written" in note for note in summary["repairs"])


def test_rerun_of_a_complete_run_does_nothing(tmp_path):
    out = tmp_path / "sims.jsonl"
    simulate(CONFIG, WorldDriver(), out)
    before = out.read_bytes()
    summary = simulate(CONFIG, WorldDriver(), out).summary
    assert out.read_bytes() == before
    assert summary["this_run"]["visits"] == 0 and summary["this_run"]["already_done"] == 6


def test_visits_without_steps_are_not_redone(tmp_path):
    prompt = PromptConfig(include_persona=False, max_context_tokens=None)
    script = lambda visit, step, attempt: GARBAGE if visit == "v00002" else (SEARCH if step == 0 else TERMINATE)  # noqa: E731
    config = SimulationConfig(shoppers=3, prompt=prompt)
    simulate(config, ModelDriver(ScriptedGenerator(script), prompt), tmp_path / "o.jsonl")
    assert failed_path(tmp_path / "o.jsonl").read_text().count("\n") == 1
    again = ScriptedGenerator(script)
    summary = simulate(config, ModelDriver(again, prompt), tmp_path / "o.jsonl").summary
    assert again.batch_sizes == []  # nothing left to generate
    assert summary["visits"] == 3 and summary["visits_without_steps"] == 1


def test_resume_with_other_settings_is_refused(tmp_path):
    out = tmp_path / "sims.jsonl"
    simulate(CONFIG, WorldDriver(), out)
    with pytest.raises(ShopR1Error, match=r"other settings \(catalog_seed, seed differ\)"):
        simulate(SimulationConfig(shoppers=6, seed=3, batch_size=2), WorldDriver(), out)


def test_more_shoppers_extend_a_run(tmp_path):
    out = tmp_path / "sims.jsonl"
    simulate(SimulationConfig(shoppers=3, seed=2), WorldDriver(), out)
    first = _lines(out)
    summary = simulate(CONFIG, WorldDriver(), out).summary
    assert _lines(out)[:3] == first and summary["visits"] == 6 and summary["this_run"]["visits"] == 3
