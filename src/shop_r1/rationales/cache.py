"""On-disk cache of finished teacher replies: one small JSON file per key, written atomically when done.

A key is the SHA-256 of everything that decides what the teacher is asked and how it answers: the
session's content, `PROMPT_VERSION`, the prompt settings, the model, the mode (and the step, in step
mode) and the generation settings. The base URL and the API key are not part of it: the same model
behind another endpoint answers the same question, and a secret must never reach the disk.

Because each entry is written (temp file, fsync, rename) the moment its call succeeds, killing a run loses
only the calls in flight; the next run reads the entries back and makes no call for them.

Example entry (`<cache-dir>/3f/3f9c...e1.json`):
    {"key": "3f9c...e1", "session_id": "s1", "mode": "session", "step": null,
     "rationales": ["I start with a search.", "..."], "usage": {"prompt_tokens": 812, ...},
     "attempts": 1, "fields": {"model": "Qwen/Qwen2.5-7B-Instruct", ...}}
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shop_r1.data.io import atomic_write
from shop_r1.data.jsonl import decode_json
from shop_r1.schema import Session

__all__ = ["CacheEntry", "ReplyCache", "cache_key", "session_content_hash"]

logger = logging.getLogger(__name__)


def _canonical(value: Any) -> bytes:
    # Sorted keys and fixed separators: the same value hashes the same in every process and version.
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def session_content_hash(session: Session) -> str:
    """SHA-256 of what the teacher can see of a session: its canonical JSON without the rationales.

    The teacher is never shown rationales, so leaving them out keeps a cached reply valid when only
    existing rationales change (or when one run's output is fed to another with `overwrite`).
    """
    record = session.to_dict()
    for step in record["steps"]:
        del step["rationale"]
    return hashlib.sha256(_canonical(record)).hexdigest()


def cache_key(fields: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of `fields` (see `synthesize.request_fields` for what goes in)."""
    return hashlib.sha256(_canonical(fields)).hexdigest()


@dataclass(frozen=True)
class CacheEntry:
    """A finished teacher reply: the validated rationales (one per step asked for) and what it cost."""

    key: str
    session_id: str
    rationales: list[str]
    attempts: int = 1
    usage: dict[str, int] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "session_id": self.session_id, "rationales": self.rationales,
                "attempts": self.attempts, "usage": self.usage, "fields": self.fields}


class ReplyCache:
    """A directory of `CacheEntry` files, fanned out by the key's first two hex digits."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str, expected: int) -> CacheEntry | None:
        """The entry for `key` holding `expected` non-empty rationales, or `None`.

        An unreadable or inconsistent file (edited by hand, a different disk) is ignored and will be
        overwritten, never trusted.
        """
        path = self.path(key)
        try:
            data = decode_json(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as err:  # unreadable, not UTF-8, not JSON, or beyond the JSON rules
            logger.warning("ignoring unreadable cache file %s (%s)", path, err)
            return None
        rationales = data.get("rationales") if isinstance(data, dict) else None
        if (data.get("key") != key or not isinstance(rationales, list) or len(rationales) != expected
                or not all(isinstance(r, str) and r.strip() for r in rationales)):
            logger.warning("ignoring cache file %s: it does not hold %d rationales for this key", path, expected)
            return None
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        return CacheEntry(key=key, session_id=str(data.get("session_id", "")), rationales=rationales,
                          attempts=int(data.get("attempts", 1)), usage=usage, fields=data.get("fields") or {})

    def put(self, entry: CacheEntry) -> Path:
        path = self.path(entry.key)
        with atomic_write(path) as handle:
            json.dump(entry.to_dict(), handle, ensure_ascii=False, indent=1)
            handle.write("\n")
        return path

    def __len__(self) -> int:
        return sum(1 for _ in self.directory.glob("*/*.json")) if self.directory.is_dir() else 0
