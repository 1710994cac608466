"""One self-contained HTML file that steps through shopping visits (`shop-r1 view`).

The file needs no network: the CSS and JavaScript beside this module are inlined, and the sessions
travel as JSON inside `<script type="application/json">`. That JSON is made safe to embed by escaping
`<`, `>` and `&` (so no `</script>` or `<!--` in a page's HTML can end the block early) and U+2028/9.
A Content-Security-Policy forbids every fetch, and each page is shown in a sandboxed iframe without
scripts, so a log's own HTML can neither run code nor reach the network.

    >>> safe_json({"html": "</script><b>"})
    '{"html": "\\\\u003c/script\\\\u003e\\\\u003cb\\\\u003e"}'
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from importlib import resources
from typing import Any

from shop_r1.schema import Session

__all__ = ["CSP", "Pane", "render_viewer", "safe_json", "session_payload"]

# default-src 'none': no request of any kind leaves the file (fonts, images, frames' subresources).
CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"
_PERSONA_CHARS = 240
_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def safe_json(value: Any) -> str:
    """JSON text that can sit inside a `<script>` element unchanged (see the module docstring)."""
    text = json.dumps(value, ensure_ascii=False)
    return "".join(_ESCAPES.get(char, char) for char in text)


def _persona_line(persona: str | dict[str, Any] | None) -> str | None:
    if persona is None:
        return None
    text = persona if isinstance(persona, str) else json.dumps(persona, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= _PERSONA_CHARS else text[: _PERSONA_CHARS - 1] + "\u2026"


def session_payload(session: Session) -> dict[str, Any]:
    """What the viewer needs of one visit (a page's HTML as recorded, the action, rationale, meta)."""
    return {
        "id": session.session_id,
        "user": session.user_id,
        "persona": _persona_line(session.persona),
        "steps": [{"url": s.url, "html": s.html, "action": s.action.to_dict(), "rationale": s.rationale,
                   "meta": s.meta} for s in session.steps],
    }


class Pane:
    """One file's visits: a label, the first `max_sessions` sessions and how many the file held."""

    def __init__(self, label: str, sessions: Sequence[Session], total: int | None = None) -> None:
        if not sessions:
            raise ValueError(f"{label}: no sessions to show")
        self.label = label
        self.sessions = list(sessions)
        self.total = len(self.sessions) if total is None else total

    def payload(self) -> dict[str, Any]:
        return {"label": self.label, "total": self.total, "sessions": [session_payload(s) for s in self.sessions]}


def _asset(name: str) -> str:
    return resources.files("shop_r1.viewer").joinpath(name).read_text(encoding="utf-8")


def render_viewer(panes: Sequence[Pane], *, title: str = "shop-r1 sessions") -> str:
    """The whole HTML document for one pane, or two side by side (real vs simulated)."""
    if not 1 <= len(panes) <= 2:
        raise ValueError(f"the viewer shows one or two files, got {len(panes)}")
    data = safe_json({"panes": [pane.payload() for pane in panes]})
    keys = "<kbd>\u2190</kbd> <kbd>\u2192</kbd> step &middot; <kbd>[</kbd> <kbd>]</kbd> visit"
    if len(panes) == 2:
        keys += " &middot; <kbd>1</kbd> <kbd>2</kbd> choose the pane the keys move"
    # The script's text is ours, not data; still, a "</script" in it would end the element.
    script = _asset("viewer.js").replace("</", "<\\/")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">"
        f"<title>{html.escape(title)}</title><style>{_asset('viewer.css')}</style></head>\n"
        f"<body><header>{html.escape(title)} &middot; {keys}</header><main></main>\n"
        f"<script type=\"application/json\" id=\"shop-r1-data\">{data}</script>\n"
        f"<script>{script}</script>\n</body></html>\n"
    )
