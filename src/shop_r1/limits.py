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
# Element nesting kept by the HTML simplifier; deeper content is cut and replaced by a marker. Real
# pages are rarely deeper than 40; the cap keeps the tree walk iterative-safe and memory linear.
MAX_HTML_DEPTH = 256
# A request body to `shop-r1 serve` (a session with its pages, or chat messages).
MAX_REQUEST_BYTES = 16 * 1024 * 1024
