"""`shop-r1 serve` as a real process on 127.0.0.1 with the tiny random model, driven over HTTP and the openai client.

The model's output is junk (random weights), so the checks are about the serving contract: shapes, counts,
status codes, reproducibility, concurrency, and that the API key never reaches the server's output.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai
import pytest

from tests.conftest import make_session

pytestmark = pytest.mark.slow

KEY = "integration-k3y-4b9e7c"
MODEL = "tiny-random:llama"
MAX_BODY = 4 * 1024 * 1024  # the server's default limit


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, base_url: str, process: subprocess.Popen, log: Path) -> None:
        self.base_url = base_url
        self.process = process
        self.log = log

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("serve") / "server.log"
    env = {**os.environ, "SHOP_R1_API_KEY": KEY}
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    with log.open("wb") as sink:
        # stdout and stderr both go to the log: the key must appear in neither.
        process = subprocess.Popen(
            [sys.executable, "-m", "shop_r1", "serve", "--model", MODEL, "--port", str(port),
             "--max-new-tokens", "8", "--num-threads", "2"],
            stdout=sink, stderr=subprocess.STDOUT, env=env,
        )
    running = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                pytest.fail(f"the server exited with {process.returncode}:\n{running.output()}")
            try:
                if httpx.get(f"{running.base_url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not answer /health within 90 s:\n{running.output()}")
            time.sleep(0.25)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert KEY not in running.output()  # shutdown lines included


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=60) as c:
        yield c


def pending_session() -> dict:
    data = make_session(n_steps=3, html_size=20).to_dict()
    del data["steps"][-1]["action"]
    data["steps"][-1].pop("rationale")
    return data


def test_predict_returns_the_raw_completion(client):
    response = client.post("/v1/predict", json={"session": pending_session(), "max_tokens": 6})
    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body["raw_completion"], str) and body["raw_completion"]
    assert len(body["samples"]) == 1 and body["samples"][0]["raw_completion"] == body["raw_completion"]
    assert body["model"] == MODEL and body["prompt"]["has_current_page"] is True
    assert 0 < body["samples"][0]["completion_tokens"] <= 6
    assert body["usage"]["prompt_tokens"] == body["prompt"]["tokens"] > 0


def test_n_samples_and_their_distribution_are_reproducible_with_a_seed(client):
    request = {"session": pending_session(), "n": 4, "seed": 1234, "temperature": 1.0}
    body = client.post("/v1/predict", json=request).json()
    assert len(body["samples"]) == 4
    dist = body["distribution"]
    assert dist["n"] == 4
    assert sum(t["count"] for t in dist["action_types"].values()) + dist["parse_failures"] == 4
    assert len({s["raw_completion"] for s in body["samples"]}) > 1  # sampled independently
    again = client.post("/v1/predict", json=request).json()
    assert [s["raw_completion"] for s in again["samples"]] == [s["raw_completion"] for s in body["samples"]]


def test_a_fully_acted_session_is_predicted_from_its_history(client):
    body = client.post("/v1/predict", json={"session": make_session(n_steps=2).to_dict()}).json()
    assert body["prompt"]["has_current_page"] is False and isinstance(body["raw_completion"], str)


def test_the_openai_client_works_against_the_server(server):
    api = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=KEY, max_retries=0, timeout=60)
    assert [m.id for m in api.models.list().data] == [MODEL]
    completion = api.chat.completions.create(
        model=MODEL, messages=[{"role": "system", "content": "You shop."}, {"role": "user", "content": "Hi"}],
        max_tokens=5, n=2, temperature=0.8, seed=7,
    )
    assert completion.model == MODEL and completion.object == "chat.completion"
    assert len(completion.choices) == 2 and [c.index for c in completion.choices] == [0, 1]
    assert all(c.finish_reason in ("stop", "length") and c.message.role == "assistant" for c in completion.choices)
    usage = completion.usage
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{server.base_url}/v1", api_key="wrong", max_retries=0).models.list()
    with pytest.raises(openai.BadRequestError, match="streaming is not supported"):
        api.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Hi"}], stream=True)


def test_models_endpoint(client):
    body = client.get("/v1/models").json()
    assert body["object"] == "list" and [m["id"] for m in body["data"]] == [MODEL]


def test_bad_inputs_get_4xx_with_a_message(client, server):
    malformed = client.post("/v1/predict", content=b'{"session": {', headers={"content-type": "application/json"})
    assert malformed.status_code == 400 and "malformed JSON" in malformed.json()["error"]["message"]

    session = pending_session()
    session["steps"][1]["action"] = {"type": "hover", "name": "x"}
    unknown = client.post("/v1/predict", json={"session": session})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["message"].startswith("session.steps[1].action.type: ")
    assert "'hover'" in unknown.json()["error"]["message"]

    big = json.dumps({"session": {**pending_session(), "user_id": "x" * MAX_BODY}}).encode()
    too_large = client.post("/v1/predict", content=big, headers={"content-type": "application/json"})
    assert too_large.status_code == 413 and "too large" in too_large.json()["error"]["message"]
    chunked = client.post("/v1/predict", content=iter([big[i:i + 65536] for i in range(0, len(big), 65536)]),
                          headers={"content-type": "application/json"})
    assert chunked.status_code == 413

    for headers in ({}, {"Authorization": "Bearer not-the-key"}):
        refused = httpx.post(f"{server.base_url}/v1/predict", json={"session": pending_session()}, headers=headers)
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    assert httpx.get(f"{server.base_url}/health").status_code == 200


def test_eight_concurrent_requests_all_succeed(client):
    def call(i: int) -> httpx.Response:
        if i % 2:
            return client.post("/v1/chat/completions", json={
                "model": MODEL, "messages": [{"role": "user", "content": f"request {i}"}], "max_tokens": 4})
        return client.post("/v1/predict", json={"session": pending_session(), "max_tokens": 4, "seed": i})

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(call, range(8)))
    assert [r.status_code for r in responses] == [200] * 8, [r.text for r in responses]
    assert all(r.json()["usage"]["completion_tokens"] > 0 for r in responses)


def test_the_rationale_synthesizer_talks_to_the_server(server, tmp_path):
    """`rationales synthesize` against `shop-r1 serve`: every call is accepted (200 with usage), and the random
    model's junk replies are reported as failed sessions, never written as rationales."""
    from dataclasses import replace

    from shop_r1.data.io import write_sessions

    sessions = [make_session(f"s{i}", n_steps=2, html_size=10) for i in range(3)]
    write_sessions(tmp_path / "in.jsonl", [
        replace(s, steps=tuple(replace(step, rationale=None) for step in s.steps)) for s in sessions])
    out = tmp_path / "out.jsonl"
    env = {**os.environ, "OPENAI_API_KEY": KEY, "PYTHONPATH": os.pathsep.join(
        p for p in (str(Path(__file__).resolve().parents[2] / "src"), os.environ.get("PYTHONPATH")) if p)}
    done = subprocess.run(
        [sys.executable, "-m", "shop_r1", "rationales", "synthesize", str(tmp_path / "in.jsonl"), str(out),
         "--base-url", f"{server.base_url}/v1", "--model", MODEL, "--max-attempts", "2", "--backoff", "0",
         "--max-tokens", "8", "--concurrency", "3"],
        capture_output=True, text=True, env=env, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output  # every session failed validation
    failures = [json.loads(line) for line in (tmp_path / "out.jsonl.failed.jsonl").read_text().splitlines()]
    assert sorted(f["session_id"] for f in failures) == ["s0", "s1", "s2"]
    assert all(f["attempts"] == 2 and f["kind"] != "http" for f in failures), failures
    assert "requests sent" in output and "completion tokens" in output  # the server reported usage
    assert KEY not in output
    assert not out.exists() or all(
        step.get("rationale") is None for line in out.read_text().splitlines() for step in json.loads(line)["steps"])


def test_the_key_never_appears_in_the_server_output(server):
    output = server.output()
    assert "serving tiny-random:llama on http://127.0.0.1:" in output
    assert "POST /v1/predict" in output  # the access log is on, and still carries no key
    assert KEY not in output
    # Every bad request above was a known problem: none reached the catch-all 500.
    assert "Traceback" not in output and "unhandled error" not in output
