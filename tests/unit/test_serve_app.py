"""The HTTP layer with a scripted engine: responses, error mapping, auth, body limits, serialised generation."""

from __future__ import annotations

import asyncio
import json
import logging

import httpx
import pytest
from fastapi.testclient import TestClient

from shop_r1.prompts import PromptConfig, rl_prompt
from shop_r1.serve.app import ServeSettings, create_app
from tests.conftest import make_session
from tests.unit.serve_fakes import CLICK, TERMINATE, ScriptedEngine

NAME = "shopper-1"
KEY = "k3y-that-must-never-show"


def client_for(engine: ScriptedEngine, **settings) -> TestClient:
    return TestClient(create_app(engine, ServeSettings(model_name=NAME, **settings)))


def pending_session(n_steps: int = 3) -> dict:
    data = make_session(n_steps=n_steps).to_dict()
    del data["steps"][-1]["action"]
    data["steps"][-1].pop("rationale")
    return data


def error_of(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    return body["error"]


# /v1/predict


def test_predict_returns_the_first_sample_every_sample_and_their_distribution():
    engine = ScriptedEngine([CLICK, "not an answer", TERMINATE, CLICK])
    response = client_for(engine).post("/v1/predict", json={"session": pending_session(), "n": 4, "seed": 3})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == NAME and body["seed"] == 3
    assert body["raw_completion"] == CLICK
    assert body["action"] == {"type": "click", "name": "search_results.item_2"}
    assert body["rationale"] == "That one looks right."
    assert [s["raw_completion"] for s in body["samples"]] == [CLICK, "not an answer", TERMINATE, CLICK]
    assert body["samples"][1]["action"] is None and body["samples"][1]["rationale"] is None
    dist = body["distribution"]
    assert dist["n"] == 4 and dist["parse_failures"] == 1
    assert {k: v["count"] for k, v in dist["action_types"].items()} == {"click": 2, "type_and_submit": 0,
                                                                        "terminate": 1}
    assert dist["actions"][0] == {"action": {"type": "click", "name": "search_results.item_2"}, "count": 2,
                                  "share": 0.5}
    completion = sum(len(t.split()) for t in [CLICK, "not an answer", TERMINATE, CLICK])  # the fake's token count
    assert body["usage"] == {"prompt_tokens": 11, "completion_tokens": completion, "total_tokens": 11 + completion}
    assert [s["completion_tokens"] for s in body["samples"]] == [len(t.split()) for t in
                                                                 [CLICK, "not an answer", TERMINATE, CLICK]]
    assert body["prompt"]["has_current_page"] is True
    # The engine was asked for the training prompt of the pending step.
    sent = engine.calls[0]["prompt"].messages
    assert sent == rl_prompt(make_session(n_steps=3), 2, PromptConfig(max_context_tokens=None)).messages


def test_predict_uses_the_server_defaults_unless_the_request_overrides_them():
    engine = ScriptedEngine()
    client = client_for(engine, max_new_tokens=40)
    client.post("/v1/predict", json={"session": pending_session()})
    client.post("/v1/predict", json={"session": pending_session(), "temperature": 0, "top_p": 0.5,
                                     "max_tokens": 7, "n": 2, "seed": 11})
    default, custom = (call["sampling"] for call in engine.calls)
    assert (default.n, default.temperature, default.top_p, default.max_new_tokens) == (1, 0.6, 1.0, 40)
    assert (custom.n, custom.temperature, custom.top_p, custom.max_new_tokens, custom.seed) == (2, 0.0, 0.5, 7, 11)


def test_unseeded_requests_get_a_fresh_seed_that_is_reported():
    engine = ScriptedEngine()
    client = client_for(engine)
    seeds = [client.post("/v1/predict", json={"session": pending_session()}).json()["seed"] for _ in range(3)]
    assert seeds == [call["sampling"].seed for call in engine.calls]
    assert len(set(seeds)) == 3


def test_a_fully_acted_session_is_predicted_from_its_history():
    engine = ScriptedEngine()
    body = client_for(engine).post("/v1/predict", json={"session": make_session().to_dict()}).json()
    assert body["prompt"]["has_current_page"] is False
    assert "Current page" not in engine.calls[0]["prompt"].messages[1]["content"]


# /v1/chat/completions, /v1/models, /health


def test_chat_completion_in_openai_shape():
    engine = ScriptedEngine(["one two", "three"])
    response = client_for(engine).post("/v1/chat/completions", json={
        "model": NAME, "n": 2, "max_completion_tokens": 5, "stop": ["\n"],
        "messages": [{"role": "developer", "content": "Be brief."},
                     {"role": "user", "content": [{"type": "text", "text": "Hel"}, {"type": "text", "text": "lo"}]}],
    })
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-") and body["model"] == NAME
    assert [c["message"] for c in body["choices"]] == [{"role": "assistant", "content": "one two"},
                                                       {"role": "assistant", "content": "three"}]
    assert [c["index"] for c in body["choices"]] == [0, 1]
    assert all(c["finish_reason"] == "stop" for c in body["choices"])
    assert body["usage"] == {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}
    call = engine.calls[0]
    assert call["payload"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}]
    assert call["sampling"].stop == ("\n",) and call["sampling"].max_new_tokens == 5


def test_max_completion_tokens_wins_over_max_tokens():
    engine = ScriptedEngine()
    client_for(engine).post("/v1/chat/completions", json={
        "model": NAME, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 9, "max_completion_tokens": 4})
    assert engine.calls[0]["sampling"].max_new_tokens == 4


def test_models_and_health():
    client = client_for(ScriptedEngine())
    models = client.get("/v1/models").json()
    assert models["object"] == "list" and [m["id"] for m in models["data"]] == [NAME]
    assert models["data"][0]["object"] == "model"
    assert client.get("/health").json() == {"status": "ok", "model": NAME}


# Errors: always a JSON error body naming the problem, never a 500 for bad input.

CHAT = {"model": NAME, "messages": [{"role": "user", "content": "hi"}]}


def _predict(**changes):
    return {"session": pending_session(), **changes}


def _session(mutate):
    data = pending_session()
    mutate(data)
    return {"session": data}


@pytest.mark.parametrize(
    ("path", "body", "status", "needle"),
    [
        ("/v1/predict", _session(lambda s: s["steps"][1]["action"].update(type="hover")), 422,
         "session.steps[1].action.type: must be one of click, type_and_submit, terminate, got 'hover'"),
        ("/v1/predict", _session(lambda s: s["steps"][0].pop("action")), 422, "session.steps[0].action: required"),
        ("/v1/predict", _session(lambda s: s["steps"][2].update(rationale="x")), 422, "session.steps[2].rationale"),
        ("/v1/predict", _session(lambda s: s.update(steps=[])), 422, "session.steps: must hold at least one step"),
        ("/v1/predict", {"session": "s1"}, 422, "session: Input should be a valid dictionary"),
        ("/v1/predict", {}, 422, "session: Field required"),
        ("/v1/predict", _predict(n=0), 422, "n: Input should be greater than or equal to 1"),
        ("/v1/predict", _predict(n=17), 422, "n: must be at most 16 (server option --max-samples)"),
        ("/v1/predict", _predict(max_tokens=129), 422, "max_tokens: must be at most 128"),
        ("/v1/chat/completions", {**CHAT, "max_completion_tokens": 500}, 422,
         "max_completion_tokens: must be at most"),
        ("/v1/predict", _predict(temperature=-1), 422, "temperature: Input should be greater than or equal to 0"),
        ("/v1/predict", _predict(top_p=0), 422, "top_p: Input should be greater than 0"),
        ("/v1/predict", _predict(seed=2**70), 422, "seed: Input should be less than"),
        ("/v1/predict", _predict(temprature=1), 422, "temprature: unknown or unsupported field"),
        ("/v1/predict", _predict(model="other"), 404, "model 'other' is not served here"),
        ("/v1/chat/completions", {**CHAT, "stream": True}, 400, "streaming is not supported"),
        ("/v1/chat/completions", {**CHAT, "messages": []}, 422, "messages: List should have at least 1 item"),
        ("/v1/chat/completions", {**CHAT, "messages": [{"role": "tool", "content": "x"}]}, 422,
         "messages[0].role: Input should be"),
        ("/v1/chat/completions", {**CHAT, "messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, 422,
         "messages[0].content"),
        ("/v1/chat/completions", {**CHAT, "logprobs": True}, 422, "logprobs: unknown or unsupported field"),
        ("/v1/chat/completions", {**CHAT, "stop": ["a", "b", "c", "d", "e"]}, 422, "stop: at most 4 strings"),
        ("/v1/chat/completions", {**CHAT, "stop": [""]}, 422, "stop: strings must be non-empty"),
        ("/v1/chat/completions", {**CHAT, "model": "gpt-4o"}, 404, "this server serves 'shopper-1'"),
        ("/v1/chat/completions", {"messages": CHAT["messages"]}, 422, "model: Field required"),
    ],
    ids=["unknown-action-type", "missing-action", "pending-rationale", "empty-steps", "session-not-object",
         "no-session", "n-zero", "n-over-cap", "max-tokens-over-cap", "max-completion-tokens-over-cap",
         "negative-temperature", "zero-top-p",
         "huge-seed", "misspelt-field", "wrong-model", "stream", "no-messages", "tool-role", "image-part",
         "logprobs", "too-many-stops", "empty-stop", "chat-wrong-model", "chat-no-model"],
)
def test_bad_requests_get_a_4xx_naming_the_problem(path, body, status, needle, caplog):
    engine = ScriptedEngine()
    with caplog.at_level(logging.ERROR):
        response = client_for(engine).post(path, json=body)
    assert response.status_code == status, response.text
    assert needle in error_of(response)["message"]
    assert engine.calls == []  # refused before any generation
    assert "unhandled" not in caplog.text


def test_the_error_names_the_field_in_param_too():
    response = client_for(ScriptedEngine()).post(
        "/v1/predict", json=_session(lambda s: s["steps"][1]["action"].update(type="hover")))
    assert error_of(response)["param"] == "session.steps[1].action.type"


@pytest.mark.parametrize(
    ("content", "headers", "status", "needle"),
    [
        (b'{"session": ', {"content-type": "application/json"}, 400, "malformed JSON body"),
        (b"", {"content-type": "application/json"}, 400, "the request body is empty"),
        (b"[1, 2]", {"content-type": "application/json"}, 400, "must be a JSON object"),
        (b'{"session": {}}', {"content-type": "text/plain"}, 415, "Content-Type: application/json"),
        (b'{"session": {}}', {"content-type": "application/x-www-form-urlencoded"}, 415, "got 'application/x-www"),
    ],
    ids=["truncated-json", "empty-body", "json-array", "text-plain", "form"],
)
def test_unreadable_bodies(content, headers, status, needle):
    response = client_for(ScriptedEngine()).post("/v1/predict", content=content, headers=headers)
    assert response.status_code == status, response.text
    assert needle in error_of(response)["message"]


def test_unknown_paths_and_methods_get_json_errors():
    client = client_for(ScriptedEngine())
    assert client.get("/v2/nothing").status_code == 404
    assert "Not Found" in error_of(client.get("/v2/nothing"))["message"]
    assert client.get("/v1/predict").status_code == 405


def test_a_prompt_over_the_budget_is_a_400_not_a_500():
    engine = ScriptedEngine(prompt_config=PromptConfig(max_context_tokens=10))
    response = client_for(engine).post("/v1/chat/completions", json=CHAT)
    assert response.status_code == 400
    assert error_of(response)["code"] == "context_length_exceeded"


def test_an_unexpected_engine_failure_is_a_json_500_without_internals(caplog):
    engine = ScriptedEngine(error=RuntimeError("CUDA exploded at /home/secret/path"))
    client = TestClient(create_app(engine, ServeSettings(model_name=NAME)), raise_server_exceptions=False)
    with caplog.at_level(logging.ERROR):
        response = client.post("/v1/predict", json={"session": pending_session()})
    assert response.status_code == 500
    error = error_of(response)
    assert error["type"] == "server_error" and "server log" in error["message"]
    assert "secret" not in response.text and "Traceback" not in response.text
    assert "CUDA exploded" in caplog.text and "unhandled error on POST /v1/predict" in caplog.text


# Authentication


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer wrong"}, 401),
        ({"Authorization": f"Basic {KEY}"}, 401),
        ({"Authorization": f"Bearer {KEY}x"}, 401),
        ({"Authorization": "Bearer"}, 401),
        ({"Authorization": f"Bearer {KEY}"}, 200),
        ({"Authorization": f"bearer {KEY}"}, 200),
    ],
    ids=["missing", "wrong", "basic-scheme", "longer", "empty-token", "right", "lowercase-scheme"],
)
def test_bearer_token(headers, status):
    client = client_for(ScriptedEngine(), api_key=KEY)
    response = client.get("/v1/models", headers=headers)
    assert response.status_code == status
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"
        assert error_of(response)["type"] == "authentication_error"
        assert KEY not in response.text and "wrong" not in response.text


def test_auth_comes_before_the_body_and_health_stays_open():
    engine = ScriptedEngine()
    client = client_for(engine, api_key=KEY)
    response = client.post("/v1/predict", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 401 and engine.calls == []
    assert client.get("/health").status_code == 200


def test_settings_repr_hides_the_key():
    assert KEY not in repr(ServeSettings(model_name=NAME, api_key=KEY))


@pytest.mark.parametrize(
    ("changes", "needle"),
    [({"temperature": 2.5}, "temperature"), ({"top_p": 0}, "top_p"), ({"max_samples": 0}, "max_samples"),
     ({"api_key": ""}, "api_key"), ({"model_name": ""}, "model_name")],
    ids=["temperature", "top-p", "max-samples", "empty-key", "no-name"],
)
def test_settings_are_checked(changes, needle):
    with pytest.raises(ValueError, match=needle):
        ServeSettings(**{"model_name": NAME, **changes})


# Body size limit


def test_a_body_over_the_limit_is_413_by_content_length_and_when_chunked():
    engine = ScriptedEngine()
    client = client_for(engine, max_body_bytes=2048)
    big = json.dumps(_predict(seed=1) | {"session": {**pending_session(), "user_id": "x" * 4000}}).encode()
    response = client.post("/v1/predict", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert "the limit is 2048 bytes" in error_of(response)["message"]

    def chunks():  # a generator body goes out chunked, without Content-Length
        for start in range(0, len(big), 500):
            yield big[start:start + 500]

    response = client.post("/v1/predict", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert engine.calls == []
    small = json.dumps({"session": pending_session()}).encode()
    assert len(small) < 2048
    assert client.post("/v1/predict", content=small, headers={"content-type": "application/json"}).status_code == 200


# Concurrency: one worker thread, one call at a time, every request answered.


def test_concurrent_requests_are_all_served_one_at_a_time_on_one_worker_thread():
    engine = ScriptedEngine([CLICK], delay=0.05)
    app = create_app(engine, ServeSettings(model_name=NAME))

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            predicts = [client.post("/v1/predict", json={"session": pending_session(), "seed": i}) for i in range(4)]
            chats = [client.post("/v1/chat/completions", json=CHAT) for _ in range(4)]
            return await asyncio.gather(*predicts, *chats)

    responses = asyncio.run(run())
    assert [r.status_code for r in responses] == [200] * 8
    assert sorted(r.json()["seed"] for r in responses[:4]) == [0, 1, 2, 3]
    assert len(engine.calls) == 8
    assert engine.max_active == 1
    assert {call["thread"] for call in engine.calls} == {"shop-r1-generate_0"}


def test_health_answers_while_a_generation_runs():
    engine = ScriptedEngine(delay=0.5)
    app = create_app(engine, ServeSettings(model_name=NAME))

    async def run() -> tuple[float, int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            slow = asyncio.ensure_future(client.post("/v1/predict", json={"session": pending_session()}))
            await asyncio.sleep(0.1)
            loop = asyncio.get_running_loop()
            start = loop.time()
            health = await client.get("/health")
            elapsed = loop.time() - start
            assert not slow.done()
            await slow
            return elapsed, health.status_code

    elapsed, status = asyncio.run(run())
    assert status == 200 and elapsed < 0.3


def _asgi_body_run(chunks: list[bytes], max_bytes: int) -> tuple[list[dict], list[bytes]]:
    """Drive BodySizeLimit with a body in several ASGI messages; returns what it sent and what the app read."""
    from shop_r1.serve.limits import BodySizeLimit

    seen: list[bytes] = []

    async def app(scope, receive, send):
        message = await receive()
        seen.append(message["body"])
        assert message["more_body"] is False
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    sent: list[dict] = []

    async def receive():
        return messages.pop(0)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/v1/predict", "headers": []}
    asyncio.run(BodySizeLimit(app, max_bytes=max_bytes)(scope, receive, send))
    return sent, seen


def test_a_chunked_body_is_counted_across_messages_and_replayed_whole():
    sent, seen = _asgi_body_run([b"a" * 40, b"b" * 40, b"c" * 20], max_bytes=100)
    assert seen == [b"a" * 40 + b"b" * 40 + b"c" * 20] and sent[0]["status"] == 200
    sent, seen = _asgi_body_run([b"a" * 40, b"b" * 40, b"c" * 21], max_bytes=100)
    assert seen == [] and sent[0]["status"] == 413
    assert b"the limit is 100 bytes" in sent[1]["body"]
