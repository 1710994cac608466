"""Replace a directory of outputs all at once: build into a hidden sibling, then swap it in by rename.

`shop-r1 data build` writes several files that only make sense together (the SFT and RL splits and the
manifest that describes them). Writing them one by one into the output directory means a failure
midway leaves some new files beside old ones. Instead:

1. the new files are written into `.<name>.build-<pid>-<random>/` beside the target (manifest last);
2. the old directory is renamed to `.<name>.old-<pid>-<random>/` and the new one renamed into place;
3. files in the old directory that the build does not own (the user's own files) are moved across,
   then the old directory is removed.

Each rename is atomic, so a reader sees the old set or the new set. A run killed between the steps
leaves a hidden directory whose writer process is gone; the next publish of the same target finishes
or undoes that run's swap (nothing of the user's is deleted) before starting its own.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from shop_r1.data.atomic import current_umask, pid_alive
from shop_r1.errors import ShopR1Error

__all__ = ["publish_directory"]

Owned = Callable[[str], bool]


def _writer_pid(name: str, marker: str) -> int | None:
    rest = name.split(marker, 1)[1]
    pid_text = rest.split("-", 1)[0]
    return int(pid_text) if pid_text.isdigit() else None


def _move_foreign(source: Path, target: Path, owned: Owned) -> None:
    """Move the entries of `source` that the build does not own into `target` (never over an existing one)."""
    for entry in list(source.iterdir()):
        if owned(entry.name):
            continue
        destination = target / entry.name
        if not destination.exists():
            os.rename(entry, destination)


def _recover(target: Path, owned: Owned) -> None:
    """Finish or undo what killed runs left beside `target` (see the module docstring)."""
    build_marker, old_marker = f".{target.name}.build-", f".{target.name}.old-"
    for entry in sorted(target.parent.iterdir()):
        for marker in (build_marker, old_marker):
            if not entry.name.startswith(marker) or not entry.is_dir() or entry.is_symlink():
                continue
            pid = _writer_pid(entry.name, marker)
            if pid is not None and pid_alive(pid):
                continue
            if marker == old_marker:
                if not target.exists():  # killed between the two renames: put the old set back
                    os.rename(entry, target)
                    continue
                _move_foreign(entry, target, owned)
            shutil.rmtree(entry, ignore_errors=True)


def publish_directory(target: str | os.PathLike[str], fill: Callable[[Path], None], owned: Owned) -> Path:
    """Call `fill(staging)` to write the new outputs, then make them `target`'s content in one swap.

    `owned(name)` says which entries of an existing `target` the new outputs replace (they are dropped,
    even when the new build has no such file); all other entries are kept. If `fill` raises, `target`
    is untouched and the staging directory is removed.
    """
    final = Path(target).resolve()  # "." has no name to stage beside; a symlink's target is what is replaced
    cwd = Path.cwd().resolve()
    if cwd == final or final in cwd.parents:
        # The swap renames the directory away: this process and the user's shell would be left in a
        # deleted directory.
        raise ShopR1Error(f"{target} is (or holds) the current directory; give a dedicated output directory")
    final.parent.mkdir(parents=True, exist_ok=True)
    _recover(final, owned)
    pid = os.getpid()
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.build-{pid}-", dir=final.parent))
    try:
        fill(staging)
        os.chmod(staging, 0o777 & ~current_umask())  # mkdtemp makes 0700; give what mkdir would
        old: Path | None = None
        if final.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-{pid}-", dir=final.parent))
            os.rmdir(old)
            os.rename(final, old)
        try:
            os.rename(staging, final)
        except BaseException:
            if old is not None:
                os.rename(old, final)
            raise
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if old is not None:
        _move_foreign(old, final, owned)
        shutil.rmtree(old, ignore_errors=True)
    return final

