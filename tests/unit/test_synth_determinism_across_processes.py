"""Same seed, byte-identical file, whatever the interpreter's string-hash seed (sets must never leak order)."""

import hashlib
import os
import subprocess
import sys


def _synth(tmp_path, hash_seed: str) -> str:
    out = tmp_path / f"sessions-{hash_seed}.jsonl"
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    done = subprocess.run(
        [sys.executable, "-m", "shop_r1", "data", "synth", str(out), "--users", "12", "--seed", "3"],
        env=env, capture_output=True, text=True, check=False,
    )
    assert done.returncode == 0, done.stderr
    return hashlib.sha256(out.read_bytes()).hexdigest()


def test_synth_is_byte_identical_across_hash_seeds(tmp_path):
    assert _synth(tmp_path, "1") == _synth(tmp_path, "2")
