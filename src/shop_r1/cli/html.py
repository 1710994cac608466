"""`shop-r1 html ...`: the HTML simplifier on any page."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from shop_r1.errors import ShopR1Error

app = typer.Typer(help="Simplify raw HTML into what a Shop-R1 model reads.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Simplify raw HTML into what a Shop-R1 model reads."""


@app.command()
def simplify(
    source: Annotated[str, typer.Argument(metavar="IN.html", help="Raw HTML file, or - for standard input.")],
    max_chars: Annotated[int, typer.Option(min=40, help="Cap on the output size; a marker ends a cut page.")] = 20_000,
) -> None:
    """Print the simplified HTML of a page: visible content, named interactive elements."""
    from shop_r1.html import simplify_html

    if source == "-":
        raw = sys.stdin.read()
    else:
        path = Path(source)
        if not path.is_file():
            raise ShopR1Error(f"{source}: no such file (give an HTML file, or - to read standard input)")
        raw = path.read_text(encoding="utf-8", errors="replace")
    print(simplify_html(raw, max_chars=max_chars))
