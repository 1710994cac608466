"""`shop-r1 reward`: the breakdown of one completion, as JSON (the lead registers the command on the root app)."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from shop_r1.cli.reward import reward
from shop_r1.schema import SchemaError

FIGURE1 = '{"rationale": "Reviews first.", "action": {"type": "click", "name": "refinements.customer_reviews"}}'
BUY_NOW = '{"type": "click", "name": "add_to_cart.buy_now"}'


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    app.command()(reward)
    return app


@pytest.mark.parametrize(
    ("args", "stdin", "expected"),
    [
        (
            ["--completion", FIGURE1, "--gold", BUY_NOW],
            None,
            {
                "valid": True,
                "format": 0.5,
                "type": 0.3,
                "attribute": 0.2,
                "value": 0.0,
                "action": 0.5,
                "total": 1.0,
                "exact_match": False,
            },
        ),
        (
            ["--completion", "-", "--gold", BUY_NOW],
            FIGURE1,
            {
                "valid": True,
                "format": 0.5,
                "type": 0.3,
                "attribute": 0.2,
                "value": 0.0,
                "action": 0.5,
                "total": 1.0,
                "exact_match": False,
            },
        ),
        (
            ["-c", "not json", "-g", BUY_NOW],
            None,
            {
                "valid": False,
                "format": 0.0,
                "type": 0.0,
                "attribute": 0.0,
                "value": 0.0,
                "action": 0.0,
                "total": 0.0,
                "exact_match": False,
            },
        ),
        (
            ["-c", "```json\n" + FIGURE1 + "\n```", "-g", BUY_NOW, "--fence", "--binary", "--no-format"],
            None,
            {
                "valid": True,
                "format": 0.0,
                "type": 0.0,
                "attribute": 0.0,
                "value": 0.0,
                "action": 0.0,
                "total": 0.0,
                "exact_match": False,
            },
        ),
    ],
    ids=["figure1", "stdin", "invalid", "fence_binary_no_format"],
)
def test_prints_breakdown_as_json(app: typer.Typer, args: list[str], stdin: str | None, expected: dict) -> None:
    result = CliRunner().invoke(app, args, input=stdin)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == expected


def test_no_dars_and_threshold(app: typer.Typer) -> None:
    completion = '{"rationale": "x", "action": {"type": "click", "name": "search_results.item_3"}}'
    gold = '{"type": "click", "name": "search_results.item_2"}'
    result = CliRunner().invoke(app, ["-c", completion, "-g", gold, "--no-dars", "--threshold", "0.5"])
    assert json.loads(result.stdout)["total"] == pytest.approx(1.75)


def test_bad_gold_raises_schema_error_for_the_root_handler(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["-c", FIGURE1, "-g", '{"type": "click"}'])
    assert isinstance(result.exception, SchemaError)
    assert "gold_action.name" in str(result.exception)


def test_help(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "--completion" in result.stdout
