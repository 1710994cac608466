"""`shop-r1 simulate` and `shop-r1 abtest` through the CLI: a tiny random model, the world, an HTTP endpoint."""

from __future__ import annotations

import json
import re
import time

from typer.testing import CliRunner

from shop_r1.cli import app
from shop_r1.data.io import read_sessions
from shop_r1.evaluation.generation import request_seed
from shop_r1.simulation.output import failed_path, summary_path
from tests.rationale_teacher import _completion, _Server
from tests.unit.sim_fakes import GARBAGE, page_names, page_shopper

runner = CliRunner()


def test_simulate_tiny_random_model(tmp_path):
    out = tmp_path / "sims.jsonl"
    args = ["simulate", "--model", "tiny-random:llama", "--shoppers", "3", "--out", str(out), "--max-new-tokens",
            "16", "--num-threads", "1", "--max-retries", "1", "--batch-size", "3"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(summary_path(out).read_text())
    # A random 2-layer model writes junk: every visit fails its first step twice (1 retry) and ends.
    assert summary["ends"] == {"invalid_output": 3}
    assert summary["failures"] == {"unparseable": 6} and summary["samples"] == 6 and summary["retries"] == 3
    assert summary["settings"]["model"] == "tiny-random:llama" and summary["settings"]["backend"] == "hf"
    assert len(failed_path(out).read_text().splitlines()) == 3
    assert "endings: invalid_output 3" in result.output
    # A rerun resumes: nothing is generated again.
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "0 this run, 3 already there" in again.output


def test_simulate_world_shoppers(tmp_path):
    out = tmp_path / "world.jsonl"
    result = runner.invoke(app, ["simulate", "--model", "world", "--shoppers", "5", "--out", str(out),
                                 "--store-config", "results_per_page=5"])
    assert result.exit_code == 0, result.output
    sessions = read_sessions(out)
    assert len(sessions) == 5 and all(s.steps[0].meta["source"] == "world" for s in sessions)
    summary = json.loads(summary_path(out).read_text())
    assert summary["settings"]["store"]["results_per_page"] == 5
    assert sum(summary["ends"].values()) == 5 and summary["retries"] == 0


def test_bad_store_key_is_one_line_error(tmp_path):
    result = runner.invoke(app, ["simulate", "--model", "world", "--shoppers", "1", "--out", str(tmp_path / "o"),
                                 "--store-config", "colour=red"])
    assert result.exit_code != 0 and "unknown key 'colour'" in str(result.exception)


def test_abtest_world(tmp_path):
    out = tmp_path / "ab"
    result = runner.invoke(app, ["abtest", "--model", "world", "--variant-b", "buy_now_button=false",
                                 "--shoppers", "60", "--out", str(out), "--resamples", "200"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "abtest.json").read_text())
    assert report["simulator_is_world"] and report["recovery"]["purchase_rate"]["sign_recovered"]
    assert report["world"]["difference"]["purchase_rate"]["estimate"] < 0
    assert re.search(r"purchase rate B - A: simulator -\d+\.\d% .* sign recovered", result.output)
    assert (out / "report.md").read_text().startswith("# A/B test")


class _Shop(_Server):
    """An OpenAI-compatible endpoint whose "model" is the page shopper; its first answer is junk."""

    def __init__(self) -> None:
        super().__init__()
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.seeds: list[int | None] = []

    def handle(self, handler, raw):  # type: ignore[no-untyped-def]
        body = json.loads(raw)
        with self.lock:
            self.requests += 1
            self.seeds.append(body.get("seed"))
            first = self.requests == 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        time.sleep(0.05)  # long enough for one tick's requests to overlap
        messages = body["messages"]
        step = len(re.findall(r"^Action \d+:", messages[-1]["content"], re.M))
        text = GARBAGE if first else page_shopper("v00002", step, 0, page_names(messages))
        with self.lock:
            self.in_flight -= 1
        self.reply(handler, 200, _completion(text, body["model"], None))


def test_simulate_against_an_endpoint(tmp_path):
    out = tmp_path / "sims.jsonl"
    with _Shop() as shop:
        result = runner.invoke(app, ["simulate", "--model", "shopper", "--base-url", shop.url, "--shoppers", "4",
                                     "--batch-size", "4", "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads(summary_path(out).read_text())
    # Every visit: search, open the first result, buy now (3 steps); one junk answer cost one retry.
    assert summary["ends"] == {"purchase": 4} and summary["steps"] == 12
    assert summary["retries"] == 1 and summary["failures"] == {"unparseable": 1}
    assert shop.requests == 13 and shop.max_in_flight >= 2
    assert summary["settings"]["backend"] == "endpoint"
    # Each request carried the seed of its visit, step and attempt (--seed 0), as a local model draws it:
    # what keeps A/B arms paired on a server that honours `seed`. The retried step's second draw has its own.
    expected = [request_seed(0, (session.session_id, index, attempt)) for session in read_sessions(out)
                for index, step in enumerate(session.steps) for attempt in range(step.meta["samples"])]
    assert len(expected) == 13 and sorted(shop.seeds) == sorted(expected) and len(set(expected)) == 13


class _Refusing(_Server):
    def handle(self, handler, raw):  # type: ignore[no-untyped-def]
        self.reply(handler, 404, b'{"error": {"message": "no such model"}}')


def test_endpoint_that_refuses_everything_stops_the_run(tmp_path):
    with _Refusing() as server:
        result = runner.invoke(app, ["simulate", "--model", "nope", "--base-url", server.url, "--shoppers", "2",
                                     "--out", str(tmp_path / "o.jsonl")])
    assert result.exit_code != 0
    assert "answered HTTP 404" in str(result.exception) and "no such model" in str(result.exception)
