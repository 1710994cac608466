"""Class 2: hostile input gets a one-line error naming file and line (or column), never a traceback."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.reliability.conftest import deep_json, snapshot, write_sessions_file

DEEP = "nested deeper than 64 levels of objects/arrays"


@pytest.fixture
def built(cli, tmp_path):
    """A real build: sessions.jsonl and its datasets/ directory."""
    sessions = write_sessions_file(tmp_path / "sessions.jsonl", 8)
    assert cli("data", "build", sessions, tmp_path / "datasets").code == 0
    return tmp_path


def _with_bad_second_line(path, bad: str | bytes):
    lines = path.read_bytes().splitlines(keepends=True)
    lines[1:1] = [bad if isinstance(bad, bytes) else bad.encode() + b"\n"]
    path.write_bytes(b"".join(lines))
    return path


def _prediction(step_index: int = 0, **changes) -> dict:
    row = {"session_id": "s1", "step_index": step_index, "completion": '{"rationale": "x", "action": '
           '{"type": "terminate"}}', "gold_action": {"type": "terminate", "name": None, "text": None}}
    return {**row, **changes}


def _predictions_file(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_json_nested_100000_deep_is_rejected_by_every_reader(cli, built):
    root = built
    sessions = _with_bad_second_line(root / "sessions.jsonl", deep_json())
    opera = root / "actions.jsonl"
    opera.write_text('{"session_id": "a_1", "action_type": "terminate"}\n' + deep_json() + "\n")
    predictions = _with_bad_second_line(_predictions_file(root / "p.jsonl", [_prediction(0), _prediction(1)]),
                                        deep_json())
    rl = _with_bad_second_line(root / "datasets" / "rl_test.jsonl", deep_json())
    before = snapshot(root)
    commands = {
        "validate": (["data", "validate", sessions], sessions),
        "stats": (["data", "stats", sessions], sessions),
        "build": (["data", "build", sessions, root / "out"], sessions),
        "import-opera": (["data", "import-opera", opera, root / "s.jsonl"], opera),
        "evaluate": (["evaluate", predictions, "--bootstrap", "0"], predictions),
        "predict": (["predict", "--data", rl, "--out", root / "new.jsonl"], rl),
        "rationales": (["rationales", "synthesize", sessions, root / "r.jsonl", "--base-url", "http://127.0.0.1:9",
                        "--model", "m"], sessions),
    }
    for name, (args, path) in commands.items():
        result = cli(*args)
        assert result.code == 1, name
        assert f"{path}:2" in result.text and DEEP in result.text, (name, result.text)
    assert snapshot(root) == before


def test_invalid_utf8_is_an_error_with_file_line_and_byte_offset(cli, tmp_path):
    sessions = write_sessions_file(tmp_path / "sessions.jsonl", 2)
    first = len(sessions.read_bytes().splitlines(keepends=True)[0])
    _with_bad_second_line(sessions, b'{"session_id": "caf\xe9", "steps": []}\n')
    before = snapshot(tmp_path)
    result = cli("data", "validate", sessions)
    assert result.code == 1
    assert f"{sessions}:2: invalid UTF-8 at byte offset {first + 19} (byte 0xe9, column 20)" in result.out
    for args in (["data", "stats", sessions], ["data", "build", sessions, tmp_path / "d"],
                 ["data", "import-opera", sessions, tmp_path / "o.jsonl"]):
        result = cli(*args)
        assert result.code == 1 and f"{sessions}:2: invalid UTF-8 at byte offset {first + 19}" in result.text
    assert snapshot(tmp_path) == before


def _parquet(path, table):
    pq.write_table(table, path)
    return path


def test_parquet_with_the_wrong_schema_names_the_column(cli, tmp_path):
    step = pa.struct([("html", pa.string()), ("action", pa.struct([("type", pa.string())]))])
    cases = {
        "int-id.parquet": (pa.table({"session_id": pa.array([1]), "steps": pa.array([[]], pa.list_(step))}),
                           "column `session_id` must be a string, got int64"),
        "no-steps.parquet": (pa.table({"session_id": ["s1"]}), "column `steps` is missing"),
        "string-steps.parquet": (pa.table({"session_id": ["s1"], "steps": [["a step"]]}),
                                 "column `steps[]` must be a struct, got string"),
        "action-int.parquet": (pa.table({"session_id": ["s1"], "steps": pa.array(
            [[{"action": {"type": 3}}]], pa.list_(pa.struct([("action", pa.struct([("type", pa.int8())]))])))}),
            "column `steps[].action.type` must be a string, got int8"),
        "other-table.parquet": (pa.table({"session_id": ["s1"], "steps": [[{"html": "x"}]], "price": [1.0]}),
                                "unknown column `price`"),
    }
    for name, (table, _) in cases.items():
        _parquet(tmp_path / name, table)
    before = snapshot(tmp_path)
    for name, (_, message) in cases.items():
        for command in ("validate", "stats"):
            result = cli("data", command, tmp_path / name)
            assert result.code == 1, (name, result.text)
            assert f"{tmp_path / name}: {message}" in result.err.replace("\n", ""), (name, result.text)
    assert snapshot(tmp_path) == before


@pytest.fixture
def no_model_load(monkeypatch):
    """Fail the test if a training command gets as far as loading a model."""
    import shop_r1.models.load as load
    import shop_r1.training.common as common

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded before the configuration and data were checked")

    monkeypatch.setattr(common, "load_training_model", refuse)
    monkeypatch.setattr(load, "load_model_tokenizer", refuse)


def test_training_configuration_and_data_are_checked_before_a_model_loads(cli, built, no_model_load):
    root = built
    datasets = root / "datasets"
    broken = root / "broken.yaml"
    broken.write_text("model_name_or_path: tiny-random:llama\nlearning_rate: [1, 2\nmax_steps: 2\n")
    listed = root / "listed.yaml"
    listed.write_text("model_name_or_path: tiny-random:llama\nlearning_rate: [1, 2]\nbf16: false\n"
                      f"dataset_dir: {datasets}\noutput_dir: {root / 'run'}\n")
    before = snapshot(root)
    result = cli("sft", "--config", broken)
    assert result.code == 1
    assert f"{broken}:3:10: not valid YAML (expected ',' or ']', but got ':')" in result.err.replace("\n", "")
    for stage in ("sft", "grpo"):
        result = cli(stage, "--config", listed)
        assert result.code == 1
        assert f"{listed}: `learning_rate` must be a number, got list [1, 2]" in result.err.replace("\n", "")
    assert snapshot(root) == before

    (datasets / "sft_train.jsonl").write_text("")
    rl_train = datasets / "rl_train.jsonl"
    rl_train.write_bytes(rl_train.read_bytes()[:-40])  # a copy cut short: the last line is half there
    lines = len(rl_train.read_bytes().splitlines())
    base = ["--config", "configs/debug/{}.yaml", "--dataset_dir", datasets, "--output_dir", root / "run"]
    result = cli("sft", *[arg if arg != "configs/debug/{}.yaml" else "configs/debug/sft.yaml" for arg in base])
    assert result.code == 1
    assert f"{datasets / 'sft_train.jsonl'}: no rows" in result.err.replace("\n", "")
    result = cli("grpo", *[arg if arg != "configs/debug/{}.yaml" else "configs/debug/grpo.yaml" for arg in base])
    assert result.code == 1
    assert f"{rl_train}:{lines}: not valid JSON (Unterminated string" in result.err.replace("\n", "")
    assert not (root / "run").exists()


def test_predict_with_a_string_prompt_is_a_clear_error(cli, built):
    rl = built / "datasets" / "rl_test.jsonl"
    rows = [json.loads(line) for line in rl.read_text().splitlines()]
    rows[1]["prompt"] = "What do you do next?"
    rl.write_text("".join(json.dumps(row) + "\n" for row in rows))
    before = snapshot(built)
    result = cli("predict", "--data", rl, "--out", built / "p.jsonl", "--model", "tiny-random:llama")
    assert result.code == 1
    assert f"{rl}:2: `prompt` must be a non-empty list of chat messages" in result.err.replace("\n", "")
    assert snapshot(built) == before


def test_reward_with_a_deeply_nested_gold_is_a_clear_error(cli):
    result = cli("reward", "--completion", "{}", "--gold", "[" * 60_000 + "]" * 60_000)
    assert result.code == 1
    assert result.err.strip() == f"error: gold_action: not accepted: {DEEP}"


@pytest.mark.parametrize("recipe", ["debug", "demo", "paper/qwen2.5-3b"])
def test_the_shipped_recipes_pass_the_preflight_type_checks(recipe):
    from shop_r1.training import grpo, sft
    from shop_r1.training.preflight import check_argument_types, check_recipe_types, load_recipe

    for stage, name in ((sft, "sft"), (grpo, "grpo")):
        path = f"configs/{recipe}/{name}.yaml"
        check_recipe_types(load_recipe(path), stage.make_parser().dataclass_types, path)
        check_argument_types(*stage.parse_args(["--config", path, "--bf16", "false", "--dataset_dir", "d"]))
