"""The bounds every reader and server in shop-r1 enforces, in one place (documented in docs/limits.md).

Each bound turns a hostile or broken input into a one-line error instead of a traceback or a machine
that runs out of memory. They are generous for real data: the largest OPeRA session is far below them.
"""

from __future__ import annotations

# One JSONL line (one session, OPeRA row, dataset row or prediction). A session holds every page's
# simplified HTML; 32 MiB is ~100 pages of 300 KB, more than any real shopping visit.
MAX_LINE_BYTES = 32 * 1024 * 1024
# Nesting of JSON objects/arrays in one record. Sessions need 4 levels (session > steps > step > action)
# plus whatever `meta`/`persona` hold; 64 leaves room for any sane payload and stays far below the
# interpreter's recursion limit, which is what a 100,000-deep document would otherwise hit.
MAX_JSON_DEPTH = 64
# Element nesting kept by the HTML simplifier when a page is deeper than libxml2 parses (2,048):
# deeper elements become siblings at this level, after a marker. Real pages are rarely 40 deep.
MAX_HTML_DEPTH = 512
# `shop-r1 serve`. A request body (a session with its pages, or chat messages): 4 MiB holds a session
# of ~40 simplified pages (the context budget cuts more anyway). Larger bodies get 413 (--max-body-bytes).
MAX_REQUEST_BYTES = 4 * 1024 * 1024
# Connections served at once; more get 503 at once. Generation runs one request at a time, so the rest
# only wait, each holding its body: this bounds that memory (64 x 4 MiB) and the wait queue.
MAX_CONNECTIONS = 64
# Seconds an idle keep-alive connection is kept (uvicorn's default, stated so it is a decision), and
# seconds a shutdown waits for requests in flight (a generation takes seconds, never minutes).
KEEP_ALIVE_TIMEOUT_S = 5
GRACEFUL_SHUTDOWN_S = 30
