"""The `shop-r1` command line: thin typer commands over the library.

Heavy imports (torch, transformers) happen inside the commands so that `--help` stays instant.
Known errors become one red line; set SHOP_R1_DEBUG=1 to see the traceback.
"""

from __future__ import annotations

import os
import sys

import typer
from rich.console import Console
from rich.markup import escape

from shop_r1 import __version__
from shop_r1.cli import data as data_cli
from shop_r1.cli import html as html_cli
from shop_r1.cli import rationales as rationales_cli
from shop_r1.cli import train as train_cli
from shop_r1.cli.demo import demo
from shop_r1.cli.evaluate import baseline, evaluate, predict
from shop_r1.cli.realism import realism
from shop_r1.cli.reward import reward
from shop_r1.cli.serve import serve
from shop_r1.cli.simulate import abtest, simulate
from shop_r1.cli.synth import synth
from shop_r1.cli.view import view
from shop_r1.errors import ShopR1Error
from shop_r1.schema import SchemaError

app = typer.Typer(
    name="shop-r1",
    help="Train and evaluate language models that simulate online shoppers (Shop-R1).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # Docstrings are wrapped at the source's width: markdown mode joins a paragraph's lines and re-wraps
    # them to the terminal, where rich mode would keep every source line break.
    rich_markup_mode="markdown",
)
data_cli.app.command("synth")(synth)
app.add_typer(data_cli.app, name="data", rich_help_panel="Data")
app.add_typer(html_cli.app, name="html", rich_help_panel="Data")
app.add_typer(rationales_cli.app, name="rationales", rich_help_panel="Data")
app.command("reward", rich_help_panel="Rewards")(reward)
train_cli.register(app)
app.command("demo", rich_help_panel="Main job")(demo)
app.command("predict", rich_help_panel="Evaluation")(predict)
app.command("evaluate", rich_help_panel="Evaluation")(evaluate)
app.command("baseline", rich_help_panel="Evaluation")(baseline)
app.command("realism", rich_help_panel="Evaluation")(realism)
app.command("view", rich_help_panel="Evaluation")(view)
app.command("serve", rich_help_panel="Serving")(serve)
app.command("simulate", rich_help_panel="Simulation")(simulate)
app.command("abtest", rich_help_panel="Simulation")(abtest)

_err = Console(stderr=True, soft_wrap=True)


def _version(value: bool) -> None:
    if value:
        print(f"shop-r1 {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Train and evaluate language models that simulate online shoppers (Shop-R1)."""


def main(argv: list[str] | None = None) -> None:
    try:
        app(args=argv, standalone_mode=True)
    # OSError covers missing files and permissions as well as a full disk: the message names the file.
    except (ShopR1Error, SchemaError, OSError) as err:
        if os.environ.get("SHOP_R1_DEBUG") == "1":
            raise
        _err.print(f"[bold red]error:[/] {escape(str(err))}", highlight=False)
        sys.exit(1)
