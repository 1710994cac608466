"""The viewer in a real headless browser (Debian's `chromium`): the fragment picks a later step, and the
screen shows that step's action, rationale and the highlighted element; a page's own script never runs."""

from __future__ import annotations

import html
import re
import shutil
import subprocess

import pytest

from shop_r1.schema import Action, Session, Step
from shop_r1.viewer import Pane, render_viewer

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

SEARCH_PAGE = ('<body><form><input name="search_input" placeholder="Search for anything"></form>'
               '<ol><li name="search_results.item_1">Trail bottle</li><li name="search_results.item_2">Steel '
               'bottle $9.00</li></ol></body>')
# A logged page that tries to reach the viewer: the sandbox must keep this from running.
HOSTILE_PAGE = ('<body><a name=\'odd."quoted"\'>Odd link</a><script>parent.document.body.setAttribute('
                '"data-pwned", "1")</script></script><b>after</b></body>')


def _visits() -> list[Session]:
    first = Session("visit-1", (Step(Action("type_and_submit", name="search_input", text="bottle"),
                                     html=SEARCH_PAGE), Step(Action("terminate"))))
    second = Session("visit-2", (
        Step(Action("type_and_submit", name="search_input", text="water bottle"), html=SEARCH_PAGE),
        Step(Action("click", name="search_results.item_1"), html=SEARCH_PAGE, rationale="first look"),
        Step(Action("click", name="search_results.item_2"), html=SEARCH_PAGE,
             rationale="The steel one is only $9.00.", meta={"reason": "compare_price"}),
        Step(Action("terminate")),
    ))
    return [first, second]


def _dom(tmp_path, page: str, fragment: str) -> str:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    path = tmp_path / "viewer.html"
    path.write_text(page, encoding="utf-8")
    run = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'profile'}",
         "--virtual-time-budget=5000", "--dump-dom", f"{path.as_uri()}#{fragment}"],
        capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout


def _pane(dom: str, key: str) -> str:
    match = re.search(rf'<section class="pane[^"]*" data-pane="{key}">(.*?)</section>', dom, re.S)
    assert match, f"pane {key} was not rendered"
    # srcdoc holds the page itself; drop it so that only what the viewer put on screen is checked
    return html.unescape(re.sub(r'srcdoc="[^"]*"', "", match.group(1)))


def test_fragment_opens_a_later_step_with_the_element_highlighted(tmp_path):
    dom = _dom(tmp_path, render_viewer([Pane("sessions.jsonl", _visits())]), "a=2.3")
    pane = _pane(dom, "a")
    assert "step 3 / 4" in pane
    assert '<code class="action-type">click</code>' in pane
    assert '<code class="action-name">search_results.item_2</code>' in pane
    assert "\u201cThe steel one is only $9.00.\u201d" in pane and "reason: compare_price" in pane
    # the viewer found the element by its name inside the page and marked it
    assert "highlighted: search_results.item_2 \u2014 \u201cSteel bottle $9.00\u201d" in pane
    assert '<li class="current">click search_results.item_2</li>' in pane
    assert "<iframe" in pane and 'sandbox="allow-same-origin"' in pane


def test_side_by_side_panes_and_a_hostile_page(tmp_path):
    hostile = Session("odd", (Step(Action("click", name='odd."quoted"'), html=HOSTILE_PAGE),
                              Step(Action("terminate"))))
    history_only = Session("log", (Step(Action("click", name="reviews.all")), Step(Action("terminate"))))
    page = render_viewer([Pane("real.jsonl", [history_only]), Pane("sim.jsonl", [hostile, *_visits()])])
    dom = _dom(tmp_path, page, "a=1.1&b=3.2")
    real, sim = _pane(dom, "a"), _pane(dom, "b")
    assert "no page recorded for this step" in real and "acted on: reviews.all" in real
    assert "step 2 / 4" in sim and "search_results.item_1" in sim and "\u201cfirst look\u201d" in sim
    # the hostile visit: its element is found despite the quotes in its name, and its script did not run
    dom_odd = _dom(tmp_path, page, "b=1.1")
    assert 'highlighted: odd."quoted" \u2014 \u201cOdd link\u201d' in _pane(dom_odd, "b")
    body = re.search(r"<body[^>]*>", dom_odd)
    assert body and "data-pwned" not in body.group(0)
