"""Class 3: input that used to be accepted and poisoned a later step is refused by the first reader."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from tests.conftest import make_session
from tests.reliability.conftest import snapshot, write_sessions_file


def _sessions_with(tmp_path, mutate):
    path = write_sessions_file(tmp_path / "sessions.jsonl", 2)
    lines = path.read_text().splitlines()
    record = json.loads(lines[1])
    mutate(record)
    lines[1] = json.dumps(record, allow_nan=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def test_validate_and_the_reader_refuse_sessions_that_break_the_rules(cli, tmp_path):
    cases = {
        "terminate-then-more": (lambda r: r["steps"].insert(0, {"action": {"type": "terminate"}}),
                                "steps[0].action.type: terminate must be the last step, but 3 step(s) follow"),
        "nan-meta": (lambda r: r["steps"][0].update(meta={"price": float("nan")}),
                     "not accepted: NaN is not a JSON number (write null, or a finite number)"),
        "nul-in-id": (lambda r: r.update(session_id="s\x001"),
                      "session_id: must not contain control characters (NUL, newline, ...)"),
        "nul-in-user": (lambda r: r.update(user_id="u\x00"),
                        "user_id: must not contain control characters (NUL, newline, ...)"),
    }
    for name, (mutate, message) in cases.items():
        folder = tmp_path / name
        folder.mkdir()
        sessions = _sessions_with(folder, mutate)
        before = snapshot(folder)
        result = cli("data", "validate", sessions)
        assert result.code == 1 and f"{sessions}:2" in result.out and message in result.out, (name, result.out)
        for args in (["data", "stats", sessions], ["data", "build", sessions, folder / "d"]):
            result = cli(*args)
            assert result.code == 1 and message in result.err.replace("\n", ""), (name, args, result.text)
        assert snapshot(folder) == before


def _prediction(**changes) -> dict:
    row = {"session_id": "s1", "step_index": 0, "completion": '{"rationale": "x", "action": {"type": "terminate"}}',
           "gold_action": {"type": "terminate", "name": None, "text": None}, "completion_tokens": 12}
    return {**row, **changes}


def test_evaluate_refuses_impossible_step_indices_and_token_counts(cli, tmp_path):
    cases = {"negative-step": (_prediction(step_index=-3), "`step_index` must be an integer >= 0, got -3"),
             "negative-tokens": (_prediction(completion_tokens=-5),
                                 "`completion_tokens` must be an integer >= 0 or null, got -5")}
    for name, (row, _) in cases.items():
        path = tmp_path / f"{name}.jsonl"
        path.write_text(json.dumps(_prediction(session_id="s0")) + "\n" + json.dumps(row) + "\n")
    before = snapshot(tmp_path)
    for name, (_, message) in cases.items():
        result = cli("evaluate", tmp_path / f"{name}.jsonl", "--bootstrap", "0")
        assert result.code == 1
        assert f"{tmp_path / name}.jsonl:2: {message}" in result.err.replace("\n", ""), result.text
    assert snapshot(tmp_path) == before


def test_predict_refuses_a_gold_action_that_evaluate_would_reject(cli, tmp_path):
    sessions = write_sessions_file(tmp_path / "sessions.jsonl", 8)
    assert cli("data", "build", sessions, tmp_path / "datasets").code == 0
    rl = tmp_path / "datasets" / "rl_test.jsonl"
    rows = [json.loads(line) for line in rl.read_text().splitlines()]
    rows[0]["gold_action"] = {"type": "scroll", "name": None, "text": None}
    rows[1]["step_index"] = -1
    rl.write_text("".join(json.dumps(row) + "\n" for row in rows))
    before = snapshot(tmp_path)
    result = cli("predict", "--data", rl, "--out", tmp_path / "p.jsonl", "--model", "tiny-random:llama")
    assert result.code == 1
    assert (f"{rl}:1: gold_action.type: must be one of click, type_and_submit, terminate, got 'scroll'"
            in result.err.replace("\n", ""))
    assert snapshot(tmp_path) == before


def test_the_server_is_strict_about_n_and_names_nan_for_what_it_is():
    from shop_r1.serve.app import ServeSettings, create_app
    from tests.unit.serve_fakes import ScriptedEngine

    session = make_session(n_steps=2).to_dict()
    del session["steps"][-1]["action"]
    session["steps"][-1].pop("rationale")
    engine = ScriptedEngine()
    client = TestClient(create_app(engine, ServeSettings(model_name="m")))
    pending = json.dumps(session)
    cases = [
        (f'{{"session": {pending}, "n": "3"}}', "n: Input should be a valid integer"),
        (f'{{"session": {pending}, "temperature": NaN}}', "temperature: Input should be a finite number"),
        (f'{{"session": {pending}, "top_p": Infinity}}', "top_p: Input should be a finite number"),
        (pending.replace('"meta": {}', '"meta": {"x": NaN}', 1).join(['{"session": ', "}"]),
         "session: nan is not a JSON number"),
    ]
    for body, message in cases:
        response = client.post("/v1/predict", content=body, headers={"content-type": "application/json"})
        assert response.status_code == 422, response.text
        assert response.json()["error"]["message"].startswith(message), response.text
    assert engine.calls == []
