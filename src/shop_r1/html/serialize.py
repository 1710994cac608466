"""Write a cleaned tree as compact HTML, cut at an element boundary when it exceeds a size cap.

Our own writer rather than `lxml.html.tostring`, for two reasons: libxml2 percent-encodes non-ASCII
characters in `<a name="...">` (it treats the attribute as a URL), which would garble names such as
`header.hauptmenü`; and a single pass over the pieces tells the exact output length at every element
boundary, so the cap is applied without re-serialising the page again and again.
"""

from __future__ import annotations

from html import escape

import lxml.etree as etree
import lxml.html

from shop_r1.html.parse import VOID_TAGS

__all__ = ["serialize_capped"]

_BOOLEAN_ATTRIBUTES = frozenset({"checked", "selected", "disabled"})


def _start_tag(element: lxml.html.HtmlElement) -> str:
    parts = [element.tag]
    for key, value in element.attrib.items():
        if key in _BOOLEAN_ATTRIBUTES and value in ("", key):
            parts.append(key)
        else:
            parts.append(f'{key}="{escape(value, quote=True)}"')
    return f"<{' '.join(parts)}>"


def serialize_capped(body: lxml.html.HtmlElement, max_chars: int, marker: str) -> tuple[str, int | None]:
    """HTML of `body`, and `None`; or, when longer than `max_chars`, the longest prefix (in document
    order, whole elements only) that fits with `marker`, and how many elements it kept."""
    pieces: list[str] = []
    # For each element after `body`: (index of its first piece, length of the end tags then open).
    cuts: list[tuple[int, int]] = []
    open_closers = 0
    for event, element in etree.iterwalk(body, events=("start", "end")):
        void = element.tag in VOID_TAGS
        if event == "start":
            if element is not body:
                cuts.append((len(pieces), open_closers))
            pieces.append(_start_tag(element))
            if element.text:
                pieces.append(escape(element.text, quote=False))
            if not void:
                open_closers += len(element.tag) + 3
        else:
            if not void:
                open_closers -= len(element.tag) + 3
                pieces.append(f"</{element.tag}>")
            if element is not body and element.tail:
                pieces.append(escape(element.tail, quote=False))
    html = "".join(pieces)
    if len(html) <= max_chars:
        return html, None
    prefix = [0]
    for piece in pieces:
        prefix.append(prefix[-1] + len(piece))
    kept = 0
    for count, (first_piece, closers) in enumerate(cuts):
        # Cut before element `count`: what precedes it, the end tags of its ancestors, the marker.
        if prefix[first_piece] + closers + len(marker) + len("</body>") > max_chars:
            break
        kept = count
    else:
        kept = len(cuts)  # unreachable in practice: the whole page fits only when no cut is needed
    first_piece = cuts[kept][0] if kept < len(cuts) else len(pieces)
    anchor = list(body.iterdescendants())[kept] if kept < len(cuts) else None
    closers = ""
    for ancestor in anchor.iterancestors() if anchor is not None else ():
        if ancestor is body:
            break
        closers += f"</{ancestor.tag}>"
    head = "".join(pieces[:first_piece])
    room = max_chars - len(closers) - len(marker) - len("</body>")
    if len(head) > room:  # even the text before the first element is too long: cut that text
        head = _cut_text(body, room)
        closers = ""
        kept = 0
    return f"{head}{closers}{marker}</body>", kept


def _cut_text(body: lxml.html.HtmlElement, room: int) -> str:
    start = _start_tag(body)
    text = body.text or ""
    size = max(0, room - len(start))
    while size > 0 and len(escape(text[:size], quote=False)) > room - len(start):
        size -= max(1, (len(escape(text[:size], quote=False)) - (room - len(start))))
    return start + escape(text[:size], quote=False)
