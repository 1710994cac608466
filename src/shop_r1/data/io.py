"""Reading and writing session files: JSONL (native, one session per line), Parquet, `datasets.Dataset`.

Two promises to the user: a bad record is reported with the file, line, session id and field (never a
traceback), and an output file is either the old one or the complete new one (never half-written).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shop_r1.data.atomic import atomic_write
from shop_r1.data.jsonl import LineProblem, check_json_value, decode_json, iter_json_lines
from shop_r1.data.parquet_schema import check_sessions_schema
from shop_r1.errors import ShopR1Error
from shop_r1.schema import SchemaError, Session

if TYPE_CHECKING:
    import datasets

__all__ = [
    "PARQUET_SUFFIXES", "RecordProblem", "SessionFileError", "atomic_write", "iter_session_records", "iter_sessions",
    "read_sessions", "refuse_same_file", "sessions_to_dataset", "write_jsonl", "write_sessions",
    "write_sessions_parquet",
]

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
    for number, record in iter_json_lines(source):
        if isinstance(record, LineProblem):
            yield number, RecordProblem(str(source), number, None, "", record.reason)
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
    # A readable file with other columns is not a sessions file: say which column, before any row.
    check_sessions_schema(table.schema, str(path))
    for number, record in enumerate(table.to_pylist(), start=1):
        try:
            yield number, Session.from_dict(_decoded_parquet_row(record))
        except SchemaError as err:
            yield number, RecordProblem(str(path), number, _session_id_of(record), err.field, err.reason)


def _decoded_parquet_row(record: dict[str, Any]) -> dict[str, Any]:
    """Undo `_parquet_row`: persona and each step's meta are JSON text, held to the JSONL rules."""
    if isinstance(record.get("persona"), str):
        record["persona"] = _maybe_json(record["persona"])
    for index, step in enumerate(record.get("steps") or []):
        if isinstance(step, dict) and isinstance(step.get("meta"), str):
            try:
                step["meta"] = decode_json(step["meta"])
            except ValueError as err:
                raise SchemaError(f"steps[{index}].meta", str(err)) from None
    reason = check_json_value(record)
    if reason is not None:
        raise SchemaError("", reason)
    return record


def _maybe_json(text: str) -> Any:
    """Personas are stored JSON-encoded; a plain-text persona encodes as a JSON string."""
    try:
        return decode_json(text)
    except ValueError:
        return text


def refuse_same_file(out: str | os.PathLike[str], *inputs: str | os.PathLike[str] | None) -> None:
    """`ShopR1Error` when writing `out` would replace one of `inputs` (same path, symlink or hard link).

    Outputs are written atomically by renaming over the target, so the input would be gone for good
    with no error at all.
    """
    target = Path(out)
    for source in inputs:
        if source is None:
            continue
        same = target.resolve() == Path(source).resolve()
        if not same and target.exists():
            try:
                same = os.path.samefile(target, source)
            except OSError:
                same = False
        if same:
            raise ShopR1Error(f"the output {target} is the input {source} (same file): writing it would destroy "
                              "the input; choose another output path")


def sessions_to_dataset(sessions: Iterable[Session]) -> datasets.Dataset:
    """A `datasets.Dataset` with one row per session, in the Parquet layout (persona/meta as JSON)."""
    import datasets

    return datasets.Dataset.from_list([_parquet_row(session) for session in sessions])
