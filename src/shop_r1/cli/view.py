"""`shop-r1 view SESSIONS --out viewer.html [--compare OTHER]`: step through visits in a browser.

The output is one HTML file with everything inline (no network); open it in any browser. Keys:
left/right arrows step, `[` and `]` change visit; the fragment `#a=3.5` opens visit 3 at step 5.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from shop_r1.errors import ShopR1Error

__all__ = ["view"]

console = Console(soft_wrap=True)


def view(
    sessions: Annotated[Path, typer.Argument(help="Sessions file (JSONL or Parquet, native schema).", exists=True,
                                             dir_okay=False, readable=True)],
    out: Annotated[Path, typer.Option("--out", help="HTML file to write.", dir_okay=False)] = Path("viewer.html"),
    compare: Annotated[Path | None, typer.Option("--compare", help="A second sessions file shown side by side "
                                                 "(e.g. simulated beside real).", exists=True, dir_okay=False,
                                                 readable=True)] = None,
    max_sessions: Annotated[int, typer.Option(help="Visits shown per file (the first N; pages make the file "
                                                   "large).", min=1)] = 100,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="Skip invalid records instead of "
                                               "stopping at the first.")] = False,
) -> None:
    """Write one self-contained HTML file that steps through visits: page, highlighted element, action, rationale."""
    from shop_r1.data.atomic import atomic_write
    from shop_r1.data.io import iter_sessions, refuse_same_file
    from shop_r1.viewer import Pane, render_viewer

    refuse_same_file(out, sessions, compare)
    panes = []
    for path in (sessions, compare):
        if path is None:
            continue
        shown, total = [], 0
        # Count every valid session but keep only the first max_sessions: a large file stays cheap.
        for session in iter_sessions(path, skip_invalid=skip_invalid):
            total += 1
            if len(shown) < max_sessions:
                shown.append(session)
        if not shown:
            raise ShopR1Error(f"{path}: no valid sessions to show")
        panes.append(Pane(path.name, shown, total))
    page = render_viewer(panes, title="shop-r1: " + " vs ".join(p.label for p in panes))
    with atomic_write(out) as handle:
        handle.write(page)
    size = out.stat().st_size / 1e6
    shown_text = ", ".join(f"{len(p.sessions)} of {p.total} visits from {p.label}" for p in panes)
    console.print(f"[green]wrote[/] {escape(str(out))} ({size:.1f} MB; {escape(shown_text)})", highlight=False)
