"""The viewer in a real headless browser (Debian's `chromium`): the fragment picks a later step, and the
screen shows that step's action, rationale and the highlighted element; a page's own script never runs;
arrow keys, `[`/`]`, the pane keys and the buttons step through visits (pressed through the DevTools
protocol, `cdp_pipe.py`)."""

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


ARROW_RIGHT, ARROW_LEFT = ("ArrowRight", "ArrowRight", 39), ("ArrowLeft", "ArrowLeft", 37)
NEXT_VISIT, PANE_2 = ("]", "BracketRight", 221), ("2", "Digit2", 50)


@pytest.fixture
def browser(tmp_path):
    """Open a viewer page in headless chromium with real key presses (DevTools protocol over a pipe)."""
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    from tests.integration.cdp_pipe import Browser

    opened = []

    def open_page(page: str, fragment: str = "") -> Browser:
        path = tmp_path / "viewer.html"
        path.write_text(page, encoding="utf-8")
        opened.append(Browser(CHROMIUM, f"{path.as_uri()}#{fragment}", str(tmp_path / "cdp-profile")))
        opened[-1].wait_for("document.querySelector('.step-counter') && "
                            "document.querySelector('.step-counter').textContent")
        return opened[-1]

    yield open_page
    for item in opened:
        item.close()


def _shown(b, pane: str = "a") -> dict:
    return b.evaluate(f"""(() => {{
        const p = document.querySelector('.pane[data-pane="{pane}"]');
        const t = (s) => p.querySelector(s).textContent;
        return {{counter: t('.step-counter'), name: t('.action-name'), text: t('.action-text'),
                 status: t('.highlight-status'), hash: location.hash}};
    }})()""")


def test_arrow_keys_and_buttons_step_through_visits(browser):
    b = browser(render_viewer([Pane("sessions.jsonl", _visits())]), "a=2.1")
    assert _shown(b)["counter"] == "step 1 / 4" and _shown(b)["text"] == "\u201cwater bottle\u201d"
    b.press(*ARROW_RIGHT)
    b.press(*ARROW_RIGHT)
    b.wait_for("document.querySelector('.highlight-status').textContent"
               ".startsWith('highlighted: search_results.item_2')")
    shown = _shown(b)
    assert (shown["counter"], shown["name"], shown["hash"]) == ("step 3 / 4", "search_results.item_2", "#a=2.3")
    assert b.evaluate("document.querySelector('iframe').contentDocument"
                      ".querySelector('[data-shop-r1-target]').getAttribute('name')") == "search_results.item_2"
    b.press(*ARROW_LEFT)
    assert _shown(b)["counter"] == "step 2 / 4"
    b.evaluate("document.querySelector('.prev-visit').click()")
    assert (_shown(b)["counter"], _shown(b)["hash"]) == ("step 1 / 2", "#a=1.1")
    b.evaluate("document.querySelector('.next-step').click()")
    assert (_shown(b)["counter"], _shown(b)["name"]) == ("step 2 / 2", "")  # the terminate
    b.press(*ARROW_RIGHT)  # past the last step: the next visit
    assert _shown(b)["hash"] == "#a=2.1"


def test_keys_move_the_chosen_pane_only(browser):
    page = render_viewer([Pane("real.jsonl", _visits()), Pane("sim.jsonl", _visits())])
    b = browser(page)
    b.press(*PANE_2)
    b.press(*NEXT_VISIT)
    b.press(*ARROW_RIGHT)
    assert _shown(b, "a")["counter"] == "step 1 / 2"
    assert _shown(b, "b")["counter"] == "step 2 / 4"
    assert _shown(b, "b")["hash"] == "#a=1.1&b=2.2"
