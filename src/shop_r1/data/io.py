"""Reading and writing session files: JSONL (native, one session per line), Parquet, `datasets.Dataset`.

Two promises to the user: a bad record is reported with the file, line, session id and field (never a
traceback), and an output file is either the old one or the complete new one (never half-written).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from shop_r1.errors import ShopR1Error
from shop_r1.schema import SchemaError, Session

if TYPE_CHECKING:
    import datasets

PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass(frozen=True)
class RecordProblem:
    """Where and why one record of a file is unusable."""

    path: str
    line: int
    session_id: str | None
    field: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}"
        who = f" (session {self.session_id})" if self.session_id else ""
        what = f"{self.field}: {self.reason}" if self.field else self.reason
        return f"{where}{who}: {what}"


class SessionFileError(ShopR1Error):
    """A session file holds a record that does not follow the schema."""

    def __init__(self, problem: RecordProblem) -> None:
        self.problem = problem
        super().__init__(f"{problem} (use --skip-invalid to skip such records)")


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Open a temporary file beside `path`; on success it replaces `path`, on any error it is removed.

    Readers therefore see either the previous file or the finished new one, never a partial write.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        # mkstemp creates 0600; give the result the mode a plain open() would have.
        os.chmod(tmp_name, 0o666 & ~_current_umask())
        with open(fd, mode, encoding=None if "b" in mode else encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _session_id_of(record: Any) -> str | None:
    if isinstance(record, dict) and isinstance(record.get("session_id"), str):
        return record["session_id"]
    return None


def iter_session_records(path: str | os.PathLike[str]) -> Iterator[tuple[int, Session | RecordProblem]]:
    """Yield `(line_number, Session or RecordProblem)` for every non-blank line of a JSONL file."""
    source = Path(path)
    if source.suffix in PARQUET_SUFFIXES:
        yield from _iter_parquet_records(source)
        return
    with open(source, encoding="utf-8", errors="surrogateescape") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                reason = f"not valid JSON ({err.msg} at column {err.colno})"
                yield number, RecordProblem(str(source), number, None, "", reason)
                continue
            try:
                yield number, Session.from_dict(record)
            except SchemaError as err:
                yield number, RecordProblem(str(source), number, _session_id_of(record), err.field, err.reason)


def iter_sessions(
    path: str | os.PathLike[str], *, skip_invalid: bool = False, problems: list[RecordProblem] | None = None
) -> Iterator[Session]:
    """Yield valid sessions. Invalid ones raise `SessionFileError`, or with `skip_invalid` are recorded
    in `problems` (when given) and skipped. Duplicate session ids are an error too."""
    seen: set[str] = set()
    for number, item in iter_session_records(path):
        if isinstance(item, Session) and item.session_id in seen:
            item = RecordProblem(str(path), number, item.session_id, "session_id", "duplicate session id")
        if isinstance(item, RecordProblem):
            if not skip_invalid:
                raise SessionFileError(item)
            if problems is not None:
                problems.append(item)
            continue
        seen.add(item.session_id)
        yield item


def read_sessions(
    path: str | os.PathLike[str], *, skip_invalid: bool = False, problems: list[RecordProblem] | None = None
) -> list[Session]:
    """All sessions of a JSONL (or Parquet) session file, in file order."""
    return list(iter_sessions(path, skip_invalid=skip_invalid, problems=problems))


def write_sessions(path: str | os.PathLike[str], sessions: Iterable[Session]) -> int:
    """Write sessions atomically, as JSONL or, for a `.parquet` path, as Parquet. Returns the count."""
    if Path(path).suffix in PARQUET_SUFFIXES:
        return write_sessions_parquet(path, sessions)
    count = 0
    with atomic_write(path) as handle:
        for session in sessions:
            handle.write(session.to_json())
            handle.write("\n")
            count += 1
    return count


def write_jsonl(path: str | os.PathLike[str], rows: Iterable[dict[str, Any]]) -> int:
    """Write plain JSON rows atomically, one per line. Returns the count."""
    count = 0
    with atomic_write(path) as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False))
            handle.write("\n")
            count += 1
    return count


# Parquet keeps the nested layout; `persona` (string or object) and `meta` (free-form) travel as JSON
# strings because Arrow columns need one fixed type.
def _parquet_row(session: Session) -> dict[str, Any]:
    row = session.to_dict()
    row["persona"] = None if session.persona is None else json.dumps(session.persona, ensure_ascii=False)
    for step in row["steps"]:
        step["meta"] = json.dumps(step["meta"], ensure_ascii=False)
        step["action"] = {"type": step["action"]["type"], "name": step["action"].get("name"),
                          "text": step["action"].get("text")}
    return row


def write_sessions_parquet(path: str | os.PathLike[str], sessions: Iterable[Session]) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [_parquet_row(session) for session in sessions]
    action = pa.struct([("type", pa.string()), ("name", pa.string()), ("text", pa.string())])
    step = pa.struct([("url", pa.string()), ("html", pa.string()), ("action", action),
                      ("rationale", pa.string()), ("meta", pa.string())])
    schema = pa.schema([("session_id", pa.string()), ("user_id", pa.string()), ("persona", pa.string()),
                        ("steps", pa.list_(step))])
    table = pa.Table.from_pylist(rows, schema=schema)
    with atomic_write(path, mode="wb") as handle:
        pq.write_table(table, handle)
    return len(rows)


def _iter_parquet_records(path: Path) -> Iterator[tuple[int, Session | RecordProblem]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as err:  # pyarrow raises several types for a corrupt file
        raise ShopR1Error(f"{path}: not a readable Parquet file ({err})") from err
    for number, record in enumerate(table.to_pylist(), start=1):
        try:
            if isinstance(record.get("persona"), str):
                record["persona"] = _maybe_json(record["persona"])
            for step in record.get("steps") or []:
                if isinstance(step.get("meta"), str):
                    step["meta"] = json.loads(step["meta"])
            yield number, Session.from_dict(record)
        except (SchemaError, json.JSONDecodeError) as err:
            field = err.field if isinstance(err, SchemaError) else "meta"
            reason = err.reason if isinstance(err, SchemaError) else "not valid JSON"
            yield number, RecordProblem(str(path), number, _session_id_of(record), field, reason)


def _maybe_json(text: str) -> Any:
    """Personas are stored JSON-encoded; a plain-text persona encodes as a JSON string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def sessions_to_dataset(sessions: Iterable[Session]) -> datasets.Dataset:
    """A `datasets.Dataset` with one row per session, in the Parquet layout (persona/meta as JSON)."""
    import datasets

    return datasets.Dataset.from_list([_parquet_row(session) for session in sessions])
