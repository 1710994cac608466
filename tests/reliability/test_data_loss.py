"""Class 1: no command can lose a user's data (overwriting its input, an empty output, a half build)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from tests.reliability.conftest import snapshot, write_sessions_file

OPERA_ROWS = [
    '{"session_id": "a_1_2", "user_id": "a", "step_idx": 0, "action_type": "click", "semantic_id": "nav.home"}',
    '{"session_id": "a_1_2", "user_id": "a", "step_idx": 1, "action_type": "terminate"}',
]


def _opera_file(path):
    path.write_text("\n".join(OPERA_ROWS) + "\n", encoding="utf-8")
    return path


def test_import_opera_refuses_to_write_over_its_source(cli, tmp_path):
    source = _opera_file(tmp_path / "actions.jsonl")
    os.link(source, tmp_path / "hardlink.jsonl")
    before = snapshot(tmp_path)
    for out in (source, tmp_path / "." / "actions.jsonl", tmp_path / "hardlink.jsonl"):
        result = cli("data", "import-opera", source, out)
        assert result.code == 1
        assert f"the output {out} is the input {source} (same file)" in result.err.replace("\n", "")
    assert snapshot(tmp_path) == before


def test_rationales_never_replace_an_output_with_nothing(cli, tmp_path):
    sessions = tmp_path / "sessions.jsonl"
    sessions.write_text(write_sessions_file(tmp_path / "src.jsonl", 2).read_text().replace('"rationale": "reason 1"',
                                                                                           '"rationale": null'))
    out = tmp_path / "out.jsonl"
    out.write_text('{"an earlier": "good run"}\n')
    before = {name: data for name, data in snapshot(tmp_path).items()}
    # Port 9 on localhost: nothing listens there, so every request is refused at once.
    result = cli("rationales", "synthesize", sessions, out, "--base-url", "http://127.0.0.1:9/v1", "--model", "m",
                 "--max-attempts", "1", "--timeout", "5", "--cache-dir", tmp_path / "cache")
    assert result.code == 1
    assert f"no session got its rationales, so {out} was left unchanged" in result.err.replace("\n", "")
    after = snapshot(tmp_path)
    assert {name: after[name] for name in before} == before
    assert "connection error" in (tmp_path / "out.jsonl.failed.jsonl").read_text()


def test_rationales_refuse_to_write_over_the_input(cli, tmp_path):
    sessions = write_sessions_file(tmp_path / "sessions.jsonl", 1)
    before = snapshot(tmp_path)
    result = cli("rationales", "synthesize", sessions, sessions, "--base-url", "http://127.0.0.1:9/v1",
                 "--model", "m")
    assert result.code == 1 and "(same file)" in result.err
    assert snapshot(tmp_path) == before


def test_a_build_that_fails_midway_leaves_the_previous_build_whole(cli, tmp_path, monkeypatch):
    sessions = write_sessions_file(tmp_path / "sessions.jsonl", 8)
    outdir = tmp_path / "datasets"
    assert cli("data", "build", sessions, outdir, "--validation-fraction", "0.2").code == 0
    (outdir / "notes.txt").write_text("the user's own file")
    before = snapshot(tmp_path)
    assert {"manifest.json", "rl_validation.jsonl", "sft_test.jsonl"} <= set(before_names := {
        name.split("/", 1)[1] for name in before if name.startswith("datasets/")})

    import shop_r1.data.build as build_module

    real_write, written = build_module.write_jsonl, []

    def failing_write(path, rows):
        if len(written) == 2:  # two files are new, then the disk "fills up"
            raise OSError(28, "No space left on device")
        written.append(path)
        return real_write(path, rows)

    monkeypatch.setattr(build_module, "write_jsonl", failing_write)
    with_failure = cli("data", "build", sessions, outdir, "--seed", "7")
    assert with_failure.code == 1 and "No space left on device" in with_failure.err
    assert snapshot(tmp_path) == before  # every old file byte for byte, and no hidden leftovers
    monkeypatch.undo()

    # A complete rebuild replaces the build's files together (the old validation split goes) and keeps notes.txt.
    assert cli("data", "build", sessions, outdir, "--seed", "7").code == 0
    names = {path.name for path in outdir.iterdir()}
    assert "rl_validation.jsonl" not in names and {"notes.txt", "manifest.json", "rl_test.jsonl"} <= names
    assert (outdir / "notes.txt").read_text() == "the user's own file"
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == []
    assert len(before_names) > len(names) - 1


def test_readers_of_a_build_refuse_a_directory_without_manifest(cli, tmp_path):
    sessions = write_sessions_file(tmp_path / "sessions.jsonl", 8)
    outdir = tmp_path / "datasets"
    assert cli("data", "build", sessions, outdir).code == 0
    (outdir / "manifest.json").unlink()
    before = snapshot(tmp_path)
    result = cli("baseline", sessions, outdir, "--out", tmp_path / "p.jsonl")
    assert result.code == 1
    assert f"{outdir / 'manifest.json'} is missing" in result.err.replace("\n", "")
    result = cli("sft", "--config", "configs/debug/sft.yaml", "--dataset_dir", outdir, "--output_dir", tmp_path / "r")
    assert result.code == 1
    assert "not a complete `shop-r1 data build` output" in result.err.replace("\n", "")
    assert snapshot(tmp_path) == before


def test_partials_of_killed_runs_are_removed_by_the_next_write(cli, tmp_path):
    source = _opera_file(tmp_path / "actions.jsonl")
    out = tmp_path / "sessions.jsonl"
    # A real killed writer: SIGKILL inside atomic_write leaves its partial behind.
    code = ("import os, signal\nfrom shop_r1.data.atomic import atomic_write\n"
            f"with atomic_write({str(out)!r}) as handle:\n    handle.write('half')\n    handle.flush()\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n")
    killed = subprocess.run([sys.executable, "-c", code], env={**os.environ}, capture_output=True)
    assert killed.returncode == -9
    partials = [path.name for path in tmp_path.iterdir() if path.name.endswith(".tmp")]
    assert len(partials) == 1 and partials[0].startswith(".sessions.jsonl.")
    legacy = tmp_path / ".sessions.jsonl.k2j3h4.tmp"  # the name older versions used: removed once a day old
    legacy.write_text("old half")
    os.utime(legacy, (time.time() - 2 * 86400,) * 2)
    other = tmp_path / ".other.jsonl.123.abc.tmp"  # another target's partial is not ours to judge
    other.write_text("x")

    assert cli("data", "import-opera", source, out).code == 0
    assert sorted(path.name for path in tmp_path.iterdir()) == [".other.jsonl.123.abc.tmp", "actions.jsonl",
                                                                "sessions.jsonl"]


def test_a_build_killed_between_its_renames_is_finished_by_the_next(cli, tmp_path):
    sessions = write_sessions_file(tmp_path / "sessions.jsonl", 8)
    # What a build killed after renaming datasets/ away leaves (pid 999999999 does not exist):
    old = tmp_path / ".datasets.old-999999999-abc"
    old.mkdir()
    (old / "notes.txt").write_text("keep me")
    (old / "rl_test.jsonl").write_text("{}\n")
    staged = tmp_path / ".datasets.build-999999999-def"
    staged.mkdir()
    (staged / "rl_train.jsonl").write_text("{}\n")
    assert cli("data", "build", sessions, tmp_path / "datasets").code == 0
    assert sorted(path.name for path in tmp_path.iterdir()) == ["datasets", "sessions.jsonl"]
    assert (tmp_path / "datasets" / "notes.txt").read_text() == "keep me"
    assert (tmp_path / "datasets" / "rl_test.jsonl").read_text() != "{}\n"  # the new build's, not the stale one


def test_a_build_into_the_current_directory_is_refused(cli, tmp_path, monkeypatch):
    sessions = write_sessions_file(tmp_path / "sessions.jsonl", 8)
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    result = cli("data", "build", sessions, ".")
    assert result.code == 1 and ". is (or holds) the current directory" in result.err
    assert snapshot(tmp_path) == before


def test_predict_and_baseline_refuse_to_write_over_their_inputs(cli, tmp_path):
    sessions = write_sessions_file(tmp_path / "sessions.jsonl", 8)
    datasets = tmp_path / "datasets"
    assert cli("data", "build", sessions, datasets).code == 0
    rl = datasets / "rl_test.jsonl"
    before = snapshot(tmp_path)
    result = cli("predict", "--data", rl, "--out", rl, "--model", "tiny-random:llama")
    assert result.code == 1 and f"the output {rl} is the input {rl} (same file)" in result.err.replace("\n", "")
    result = cli("baseline", sessions, datasets, "--out", sessions)
    assert result.code == 1 and f"the output {sessions} is the input {sessions}" in result.err.replace("\n", "")
    assert snapshot(tmp_path) == before


def test_model_cache_staging_left_by_a_killed_run_is_removed(tmp_path):
    from shop_r1.models.checkpoints import materialise

    dead = tmp_path / ".building-999999999-abc"  # a killed run's half-written model copy
    dead.mkdir()
    (dead / "model.safetensors").write_bytes(b"half")
    live = tmp_path / f".building-{os.getpid()}-xyz"  # a build in progress (this process): left alone
    live.mkdir()
    target = materialise(tmp_path / "model", {"source": "x"}, lambda staging: (staging / "w").write_text("ok"))
    assert sorted(path.name for path in tmp_path.iterdir()) == [live.name, "model"]
    assert (target / "w").read_text() == "ok"


def test_rationales_with_no_valid_session_leave_the_output_alone(cli, tmp_path):
    sessions = tmp_path / "sessions.jsonl"
    sessions.write_text('{"session_id": "bad", "steps": []}\n')
    out = tmp_path / "out.jsonl"
    out.write_text('{"an earlier": "good run"}\n')
    before = snapshot(tmp_path)
    result = cli("rationales", "synthesize", sessions, out, "--base-url", "http://127.0.0.1:9/v1", "--model", "m",
                 "--skip-invalid")
    assert result.code == 1
    assert f"{sessions} holds no valid session, so {out} was left unchanged" in result.err.replace("\n", "")
    assert snapshot(tmp_path) == before
