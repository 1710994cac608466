"""Write a file so that readers see the old one or the complete new one, never a partial write.

The temporary file is created beside the target (same filesystem, so the final rename is atomic) and
named after the target and the writing process: `.<name>.<pid>.<random>.tmp`. It is removed on any
exception; a run killed outright (SIGKILL, power loss) cannot clean up, so every later write of the
same target first removes the partials whose writer process no longer exists.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_write", "current_umask", "pid_alive", "staging_prefix", "stale_partials", "sweep_stale_partials",
           "sweep_stale_staging"]

# Partials named before the pid was part of the name cannot be checked for a live writer: they are
# removed once no write could still be running, i.e. after this many seconds without a change.
_UNNAMED_PARTIAL_AGE_S = 24 * 3600


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine (ours always does)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def stale_partials(target: Path, now: float | None = None) -> list[Path]:
    """The leftover temporary files of `target` whose writer is gone (see the module docstring)."""
    prefix = f".{target.name}."
    found: list[Path] = []
    try:
        entries = list(os.scandir(target.parent))
    except FileNotFoundError:
        return found
    current = time.time() if now is None else now
    for entry in entries:
        name = entry.name
        if not (name.startswith(prefix) and name.endswith(".tmp")) or not entry.is_file(follow_symlinks=False):
            continue
        middle = name[len(prefix):-len(".tmp")]
        pid_text, dot, _ = middle.partition(".")
        if dot and pid_text.isdigit():
            if not pid_alive(int(pid_text)):
                found.append(Path(entry.path))
        elif current - entry.stat(follow_symlinks=False).st_mtime > _UNNAMED_PARTIAL_AGE_S:
            found.append(Path(entry.path))
    return found


def sweep_stale_partials(target: Path) -> int:
    """Remove the stale partials of `target`; returns how many were removed."""
    removed = 0
    for path in stale_partials(target):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed += 1
    return removed


def staging_prefix(kind: str) -> str:
    """The `tempfile.mkdtemp` prefix of a staging directory: `.<kind>-<pid>-`, so a sweep can tell whose it is."""
    return f".{kind}-{os.getpid()}-"


def sweep_stale_staging(parent: Path, kind: str) -> int:
    """Remove the staging directories `.<kind>-<pid>-*` in `parent` whose process is gone (a killed model
    cache build leaves a whole model copy behind), and unnamed ones (`.<kind>-<random>`, the older
    naming) a day old. Returns how many were removed."""
    import shutil

    prefix = f".{kind}-"
    removed = 0
    try:
        entries = list(os.scandir(parent))
    except FileNotFoundError:
        return 0
    for entry in entries:
        if not entry.name.startswith(prefix) or not entry.is_dir(follow_symlinks=False):
            continue
        pid_text, dash, _ = entry.name[len(prefix):].partition("-")
        if dash and pid_text.isdigit():
            stale = not pid_alive(int(pid_text))
        else:
            stale = time.time() - entry.stat(follow_symlinks=False).st_mtime > _UNNAMED_PARTIAL_AGE_S
        if stale:
            shutil.rmtree(entry.path, ignore_errors=True)
            removed += 1
    return removed


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Open a temporary file beside `path`; on success it replaces `path`, on any error it is removed."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale_partials(target)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=target.parent)
    try:
        # mkstemp creates 0600; give the result the mode a plain open() would have.
        os.chmod(tmp_name, 0o666 & ~current_umask())
        with open(fd, mode, encoding=None if "b" in mode else encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
