"""`shop-r1 data ...`: validate, import, synthesise, build and describe session files."""

from __future__ import annotations

import typer

app = typer.Typer(help="Session files: validate, import OPeRA logs, build training datasets, show statistics.",
                  no_args_is_help=True)
