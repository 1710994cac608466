"""`shop-r1 serve` wiring with the model load and uvicorn patched out: settings, startup lines, the API key."""

from __future__ import annotations

from unittest.mock import patch

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from shop_r1.cli import app
from shop_r1.cli.serve import API_KEY_ENV, default_served_name, is_loopback
from tests.unit.serve_fakes import ScriptedEngine

KEY = "s3cret-never-printed"
runner = CliRunner()


class LoadedEngine(ScriptedEngine):
    max_position_embeddings = 8192


def invoke(args: list[str], env: dict[str, str] | None = None):
    """Run `serve` with the model load and uvicorn.run patched; returns the result and uvicorn.run's call."""
    loads: list[dict] = []

    def fake_load(spec, **kwargs):
        loads.append({"spec": spec, **kwargs})
        return LoadedEngine()

    with patch("shop_r1.serve.engine.ModelEngine.load", side_effect=fake_load), patch("uvicorn.run") as run:
        result = runner.invoke(app, ["serve", *args], env=env or {})
    return result, run, loads


def test_serve_builds_the_app_and_binds_loopback_by_default():
    result, run, loads = invoke(["--model", "tiny-random:llama", "--port", "8123", "--max-context-tokens", "768",
                                 "--no-persona"])
    assert result.exit_code == 0, result.output
    (served,), kwargs = run.call_args
    assert kwargs["host"] == "127.0.0.1" and kwargs["port"] == 8123
    assert loads[0]["spec"] == "tiny-random:llama"
    assert loads[0]["prompt_config"].max_context_tokens == 768 and not loads[0]["prompt_config"].include_persona
    assert "serving tiny-random:llama on http://127.0.0.1:8123; no authentication" in result.output
    assert "warning" not in result.output
    client = TestClient(served)
    assert client.get("/v1/models").json()["data"][0]["id"] == "tiny-random:llama"


@pytest.mark.parametrize("source", ["flag", "env"])
def test_the_api_key_is_enforced_and_never_printed(source):
    args = ["--model", "tiny-random:llama", "--host", "0.0.0.0", "--served-model-name", "shopper"]
    env = {API_KEY_ENV: KEY} if source == "env" else {}
    result, run, _ = invoke(args + (["--api-key", KEY] if source == "flag" else []), env)
    assert result.exit_code == 0, result.output
    assert KEY not in result.output
    assert "a bearer token is required except on /health" in result.output
    assert "warning" not in result.output  # exposed, but protected
    client = TestClient(run.call_args.args[0])
    assert client.get("/v1/models").status_code == 401
    assert client.get("/v1/models", headers={"Authorization": f"Bearer {KEY}"}).json()["data"][0]["id"] == "shopper"


def test_binding_beyond_loopback_without_a_key_warns():
    result, _, _ = invoke(["--model", "tiny-random:llama", "--host", "0.0.0.0"])
    assert result.exit_code == 0, result.output
    assert "without an API key" in result.output


def test_help_never_shows_the_key_from_the_environment():
    result = runner.invoke(app, ["serve", "--help"], env={API_KEY_ENV: KEY})
    assert result.exit_code == 0
    assert KEY not in result.output and "--api-key" in result.output


@pytest.mark.parametrize(
    ("args", "needle"),
    [(["--context", "everything"], "--context"), (["--device", "tpu"], "--device"),
     (["--api-key", " "], "API key is empty")],
    ids=["context", "device", "blank-key"],
)
def test_bad_options_are_refused_before_loading(args, needle):
    result, run, loads = invoke(args)
    assert result.exit_code != 0 and needle in result.output
    assert loads == [] and not run.called


def test_served_name_from_the_model_spec(tmp_path):
    run_dir = tmp_path / "runs" / "grpo"
    (run_dir / "checkpoint-500").mkdir(parents=True)
    gguf = tmp_path / "model-q8.gguf"
    gguf.write_bytes(b"")
    assert default_served_name("embedded:smollm2-135m") == "embedded:smollm2-135m"
    assert default_served_name(str(run_dir)) == "grpo"
    assert default_served_name(str(run_dir / "checkpoint-500")) == "grpo/checkpoint-500"
    assert default_served_name(str(gguf)) == "model-q8"


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                                ("0.0.0.0", False), ("192.168.1.4", False), ("example.org", False)])
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback
