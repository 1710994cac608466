"""Helpers of the reliability suite: run the real CLI in-process, and prove no file was touched."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import make_session


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


@pytest.fixture
def cli(capsys):
    """`cli(*args)`: run `shop-r1 args...` through `shop_r1.cli.main`, the console script's entry point,
    so the error-to-message path is the real one. A traceback fails the test by propagating."""
    from shop_r1.cli import main

    def run(*args: object) -> CliResult:
        capsys.readouterr()
        try:
            main([str(arg) for arg in args])
            code = 0
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        captured = capsys.readouterr()
        # rich wraps long lines in the captured console only at spaces; joining lines keeps file:line whole.
        return CliResult(code, captured.out, captured.err)

    return run


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under `root` (hidden ones too) with its bytes."""
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def write_sessions_file(path: Path, n: int = 6) -> Path:
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(n):
            handle.write(make_session(f"s{i}", user_id=f"u{i}", n_steps=3, html_size=5).to_json() + "\n")
    return path


def deep_json(depth: int = 100_000) -> str:
    return '{"session_id": "deep", "steps": ' + "[" * depth + "]" * depth + "}"


def json_line(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)
