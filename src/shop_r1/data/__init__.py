"""Session files in and out, the OPeRA importer, train/test splits and the dataset builder."""

from shop_r1.data.io import (
    RecordProblem,
    SessionFileError,
    atomic_write,
    iter_session_records,
    iter_sessions,
    read_sessions,
    sessions_to_dataset,
    write_jsonl,
    write_sessions,
    write_sessions_parquet,
)

__all__ = [
    "RecordProblem",
    "SessionFileError",
    "atomic_write",
    "iter_session_records",
    "iter_sessions",
    "read_sessions",
    "sessions_to_dataset",
    "write_jsonl",
    "write_sessions",
    "write_sessions_parquet",
]
