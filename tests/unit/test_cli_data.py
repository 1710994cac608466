import json
import subprocess
import sys

import pytest
import typer.main
from typer.testing import CliRunner

from shop_r1.cli import app
from shop_r1.data import write_sessions
from tests.conftest import make_session

runner = CliRunner()


def _command_paths(command, prefix=()):
    yield prefix
    if hasattr(command, "commands"):  # a group (typer vendors its own click classes)
        for name, sub in command.commands.items():
            yield from _command_paths(sub, (*prefix, name))


ALL_COMMANDS = list(_command_paths(typer.main.get_command(app)))


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=[" ".join(p) or "root" for p in ALL_COMMANDS])
def test_every_command_explains_itself(path):
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output and len(result.output) > 200


def test_data_commands_exist():
    assert {("data", name) for name in ("validate", "import-opera", "build", "stats")} <= set(ALL_COMMANDS)


def test_import_then_validate_then_stats(tmp_path, opera_actions_path):
    out = tmp_path / "opera.jsonl"
    result = runner.invoke(app, ["data", "import-opera", str(opera_actions_path), str(out)])
    assert result.exit_code == 0, result.output
    assert "90 sessions, 992 steps from 992 rows" in result.output
    result = runner.invoke(app, ["data", "validate", str(out)])
    assert result.exit_code == 0 and "90 sessions, 992 steps" in result.output
    result = runner.invoke(app, ["data", "stats", str(out), "--json"])
    assert json.loads(result.output)["action_types"]["terminate"] == 40


def test_validate_reports_first_or_all_problems(tmp_path):
    path = tmp_path / "s.jsonl"
    good = make_session("ok").to_json()
    bad = json.dumps({"session_id": "b", "steps": [{"action": {"type": "jump"}}]})
    path.write_text("\n".join([good, bad, "[1, 2]", good]) + "\n")
    first = runner.invoke(app, ["data", "validate", str(path)])
    assert first.exit_code == 1
    assert first.output.count("invalid:") == 1 and ":2 (session b): steps[0].action.type" in first.output
    every = runner.invoke(app, ["data", "validate", str(path), "--all"])
    assert every.exit_code == 1 and every.output.count("invalid:") == 3  # jump, not-an-object, duplicate id
    assert "duplicate session id" in every.output


def test_build_through_the_cli(tmp_path):
    sessions = tmp_path / "s.jsonl"
    write_sessions(sessions, [make_session(f"s{i}", f"u{i}") for i in range(5)])
    result = runner.invoke(app, ["data", "build", str(sessions), str(tmp_path / "ds"), "--max-context-tokens", "4096"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert manifest["splits"]["test"]["sessions"] == 1 and manifest["config"]["prompt"]["max_context_tokens"] == 4096
    bad = runner.invoke(app, ["data", "build", str(sessions), str(tmp_path / "ds2"), "--context", "all"])
    assert bad.exit_code == 2 and "must be one of full, latest, none" in bad.output


def test_user_errors_are_one_line_without_traceback(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text('{"session_id": "x", "steps": [{"action": {"type": "click"}}]}\n')
    done = subprocess.run(
        [sys.executable, "-m", "shop_r1", "data", "stats", str(path)], capture_output=True, text=True
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "error:" in done.stderr and "steps[0].action.name: required and non-empty for click" in done.stderr
