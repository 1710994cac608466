"""Check that a Parquet file has the sessions layout of `write_sessions_parquet` before reading rows.

A valid Parquet file from elsewhere (another table, an older layout) would otherwise fail deep inside
the row conversion; here the message names the column (`steps.action.type`) and what it should be.
"""

from __future__ import annotations

from typing import Any

from shop_r1.errors import ShopR1Error

__all__ = ["ParquetSchemaError", "check_sessions_schema"]

_ACTION = {"type": "string", "name": "string", "text": "string"}
_STEP: dict[str, Any] = {"url": "string", "html": "string", "action": _ACTION, "rationale": "string",
                         "meta": "string"}
_SESSION: dict[str, Any] = {"session_id": "string", "user_id": "string", "persona": "string", "steps": [_STEP]}
_REQUIRED = {"session_id", "steps"}


class ParquetSchemaError(ShopR1Error):
    """The Parquet file is readable but is not a sessions table."""


def _describe(expected: Any) -> str:
    if expected == "string":
        return "string"
    if isinstance(expected, list):
        return "list of structs"
    return "struct"


def _matches(arrow_type: Any, expected: Any, where: str, source: str) -> None:
    import pyarrow as pa

    if pa.types.is_null(arrow_type):  # an all-null column: fine, the row check decides if null is allowed
        return
    if expected == "string":
        ok = pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)
    elif isinstance(expected, list):
        ok = pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type)
        if ok:
            _matches(arrow_type.value_type, expected[0], f"{where}[]", source)
    else:
        ok = pa.types.is_struct(arrow_type)
        if ok:
            _check_struct({arrow_type.field(i).name: arrow_type.field(i).type for i in range(arrow_type.num_fields)},
                          expected, where, source, required=set())
    if not ok:
        raise ParquetSchemaError(f"{source}: column `{where}` must be a {_describe(expected)}, got {arrow_type}")


def _check_struct(fields: dict[str, Any], expected: dict[str, Any], where: str, source: str,
                  required: set[str]) -> None:
    prefix = f"{where}." if where else ""
    for name in sorted(required - set(fields)):
        raise ParquetSchemaError(f"{source}: column `{prefix}{name}` is missing; a sessions Parquet file has "
                                 f"the columns {', '.join(_SESSION)}")
    for name, arrow_type in fields.items():
        if name not in expected:
            raise ParquetSchemaError(f"{source}: unknown column `{prefix}{name}` (allowed: {', '.join(expected)})")
        _matches(arrow_type, expected[name], f"{prefix}{name}", source)


def check_sessions_schema(schema: Any, source: str) -> None:
    """`ParquetSchemaError` naming the first missing, unknown or mistyped column of a `pyarrow.Schema`."""
    _check_struct({field.name: field.type for field in schema}, _SESSION, "", source, required=_REQUIRED)
