"""Import the public OPeRA dataset (NEU-HAI, CC-BY-4.0) into shop-r1 sessions.

OPeRA's action table has one row per action: `session_id, action_id, timestamp,
action_type (click | input | terminate), semantic_id (the element name), simplified_html, url,
rationale, input_text, ...`. Rows are grouped by session and ordered by `timestamp`, else `action_id`,
else `step_idx`. `input` becomes `type_and_submit`; other action types (scroll, navigate, ...) are not
part of the Shop-R1 action space and are skipped, but counted.

Example row: {"session_id": "27d8..._2025-04-02T21:40:04Z_2025-04-02T21:44:25Z", "action_type": "click",
"semantic_id": "nav_bar.homepage", "rationale": "I'm returning to the homepage ..."}
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shop_r1.data.io import PARQUET_SUFFIXES, RecordProblem, SessionFileError
from shop_r1.data.jsonl import LineProblem, decode_json, iter_json_lines
from shop_r1.errors import ShopR1Error
from shop_r1.schema import Action, SchemaError, Session, Step

ORDER_COLUMNS = ("timestamp", "action_id", "step_idx")
META_COLUMNS = ("action_id", "timestamp", "click_type", "step_idx")


@dataclass
class OperaImportReport:
    rows: int = 0
    sessions: int = 0
    steps: int = 0
    skipped_types: Counter[str] = field(default_factory=Counter)
    invalid: list[RecordProblem] = field(default_factory=list)
    personas_attached: int = 0
    ordered_by: str | None = None


def _read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | RecordProblem]]:
    """Rows with their 1-based line (JSONL) or row number (Parquet)."""
    if path.suffix in PARQUET_SUFFIXES:
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except Exception as err:
            raise ShopR1Error(f"{path}: not a readable Parquet file ({err})") from err
        yield from enumerate(table.to_pylist(), start=1)
        return
    for number, row in iter_json_lines(path):
        if isinstance(row, LineProblem):
            yield number, RecordProblem(str(path), number, None, "", row.reason)
        elif not isinstance(row, dict):
            yield number, RecordProblem(str(path), number, None, "", "a row must be a JSON object")
        else:
            yield number, row


def user_id_of(row: dict[str, Any]) -> str | None:
    """The row's `user_id`, else the user uuid that prefixes OPeRA session ids (`<uuid>_<start>_<end>`)."""
    if row.get("user_id"):
        return str(row["user_id"])
    session_id = str(row.get("session_id") or "")
    prefix, sep, _ = session_id.partition("_")
    return prefix if sep and prefix else None


def _action_of(row: dict[str, Any]) -> Action | None:
    """The Shop-R1 action of a row, or None for an action type outside the action space."""
    kind = row.get("action_type")
    if kind == "click":
        return Action("click", name=row.get("semantic_id"))
    if kind == "input":
        return Action("type_and_submit", name=row.get("semantic_id"), text=row.get("input_text"))
    if kind == "terminate":
        return Action("terminate")
    return None


def _order_column(rows: list[dict[str, Any]]) -> str | None:
    for column in ORDER_COLUMNS:
        if rows and all(row.get(column) is not None for row in rows):
            return column
    return None


def _sort_key(value: Any) -> tuple[int, Any]:
    # Timestamps may be ISO strings or epoch numbers; never compare a number with a string.
    return (0, value) if isinstance(value, int | float) else (1, str(value))


def read_personas(path: str | os.PathLike[str]) -> dict[str, Any]:
    """user_id -> persona from OPeRA's user table (`survey` holds the persona as JSON text)."""
    personas: dict[str, Any] = {}
    for _, row in _read_rows(Path(path)):
        if isinstance(row, RecordProblem):
            raise SessionFileError(row)
        user_id, survey = row.get("user_id"), row.get("survey")
        if not user_id or survey is None:
            continue
        if isinstance(survey, str):
            try:
                survey = decode_json(survey)
            except ValueError:
                pass  # a free-text persona is still a persona
        personas[str(user_id)] = survey
    return personas


def import_opera(
    source: str | os.PathLike[str],
    *,
    personas: dict[str, Any] | None = None,
    skip_invalid: bool = False,
) -> tuple[list[Session], OperaImportReport]:
    """Turn an OPeRA action table into sessions (in order of first appearance)."""
    path = Path(source)
    report = OperaImportReport()
    grouped: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for number, row in _read_rows(path):
        report.rows += 1
        if isinstance(row, RecordProblem):
            if not skip_invalid:
                raise SessionFileError(row)
            report.invalid.append(row)
            continue
        session_id = row.get("session_id")
        if not session_id:
            problem = RecordProblem(str(path), number, None, "session_id", "required")
            if not skip_invalid:
                raise SessionFileError(problem)
            report.invalid.append(problem)
            continue
        grouped[str(session_id)].append((number, row))

    sessions: list[Session] = []
    for session_id, numbered in grouped.items():
        rows = [row for _, row in numbered]
        order = _order_column(rows)
        report.ordered_by = report.ordered_by or order
        if order is not None:
            numbered = sorted(numbered, key=lambda item: _sort_key(item[1][order]))
        steps = []
        for number, row in numbered:
            try:
                action = _action_of(row)
            except SchemaError as err:
                problem = RecordProblem(str(path), number, session_id, _opera_column(err.field), err.reason)
                if not skip_invalid:
                    raise SessionFileError(problem) from None
                report.invalid.append(problem)
                continue
            if action is None:
                report.skipped_types[str(row.get("action_type"))] += 1
                continue
            meta = {key: row[key] for key in META_COLUMNS if row.get(key) is not None}
            steps.append(Step(action=action, html=row.get("simplified_html") or "", url=row.get("url"),
                              rationale=row.get("rationale"), meta=meta))
        if not steps:
            continue
        user_id = user_id_of(rows[0])
        persona = (personas or {}).get(user_id) if user_id else None
        report.personas_attached += persona is not None
        sessions.append(Session(session_id=session_id, steps=tuple(steps), user_id=user_id, persona=persona))
    report.sessions = len(sessions)
    report.steps = sum(len(s.steps) for s in sessions)
    return sessions, report


def _opera_column(schema_field: str) -> str:
    """Name the OPeRA column behind a schema field, so the message points at the user's data."""
    return {"name": "semantic_id", "text": "input_text", "type": "action_type"}.get(schema_field, schema_field)
