"""Report rendering: metrics.json, Markdown tables, readable PNG files."""

from __future__ import annotations

import json

import pytest

from shop_r1.evaluation.plots import confusion_file_stems
from shop_r1.evaluation.report import format_estimate, render_markdown, write_report
from shop_r1.evaluation.runs import Estimate, MetricsConfig, evaluate_runs
from tests.unit.test_eval_metrics import FIXTURE, RATIONALE_FIXTURE

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def two_runs():
    return evaluate_runs({"sft": FIXTURE, "shop_r1": FIXTURE[:4] + RATIONALE_FIXTURE},
                         MetricsConfig(n_resamples=200), sources={"sft": "a.jsonl", "shop_r1": "b.jsonl"})


@pytest.fixture(scope="module")
def written(two_runs, tmp_path_factory):
    return write_report(two_runs, tmp_path_factory.mktemp("report"))


@pytest.mark.parametrize(
    ("estimate", "signed", "expected"),
    [
        (Estimate(0.2772, 0.241, 0.31), False, "27.7 [24.1, 31.0]"),
        (Estimate(0.5), False, "50.0"),
        (Estimate(None), False, "n/a"),
        (Estimate(0.05, -0.012, 0.1), True, "+5.0 [-1.2, 10.0]"),
    ],
    ids=["interval", "no-interval", "undefined", "signed-difference"],
)
def test_format_estimate(estimate, signed, expected):
    assert format_estimate(estimate, signed=signed) == expected


def test_report_writes_every_file(written):
    names = {path.name for path in written.values()}
    assert names == {"metrics.json", "report.md", "headline.png", "per_type.png", "confusion_sft.png",
                     "confusion_shop_r1.png"}
    assert all(path.is_file() and path.stat().st_size > 0 for path in written.values())


@pytest.mark.parametrize("figure", ["headline", "per_type", "confusion_sft", "confusion_shop_r1"])
def test_figures_are_valid_pngs(written, figure):
    import matplotlib.image

    path = written[figure]
    assert path.read_bytes()[:8] == PNG_MAGIC
    height, width, channels = matplotlib.image.imread(path).shape
    assert height >= 300 and width >= 600 and channels in (3, 4)


def test_metrics_json_holds_the_numbers(written):
    data = json.loads(written["metrics"].read_text())
    sft = data["runs"]["sft"]
    assert sft["source"] == "a.jsonl"
    assert sft["metrics"]["exact_action_acc"]["value"] == pytest.approx(1 / 3)
    assert sft["confusion"]["matrix"] == [[2, 0, 0, 0], [0, 2, 0, 0], [1, 0, 0, 1]]
    assert sft["per_type"]["terminate"]["n"] == 2
    assert data["comparisons"]["shop_r1"]["baseline"] == "sft"


def test_markdown_has_the_summary_and_per_type_tables(written):
    text = written["report"].read_text()
    assert "| metric | sft | shop_r1 |" in text
    assert "| exact action accuracy | 33.3 [" in text
    assert "| sft | terminate | 2 | 0.0 [" in text
    assert "| terminate | 1 | 0 | 0 | 1 | 2 |" in text  # sft's confusion row for terminate
    assert "**shop_r1 - sft** (4 shared steps)" in text
    assert "![headline](headline.png)" in text


def test_markdown_without_bootstrap_shows_plain_values():
    evaluation = evaluate_runs({"only": FIXTURE}, MetricsConfig(n_resamples=0))
    text = render_markdown(evaluation)
    assert "| exact action accuracy | 33.3 |" in text
    assert "Paired differences" not in text
    assert "rationale ROUGE-L" not in text  # no gold rationales in this run: the row is left out


def test_report_without_plots_writes_no_png(tmp_path):
    written = write_report(evaluate_runs({"only": FIXTURE}, MetricsConfig(n_resamples=0)), tmp_path, plots=False)
    assert set(written) == {"metrics", "report"}
    assert not list(tmp_path.glob("*.png"))


def test_confusion_file_names_stay_unique():
    assert confusion_file_stems(["a/b", "a_b", "x"]) == {"a/b": "confusion_a_b", "a_b": "confusion_a_b_2",
                                                         "x": "confusion_x"}
