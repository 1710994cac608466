"""Turn a raw page into the simplified HTML a Shop-R1 model reads (paper, section 2).

Steps, in order: parse (repairing broken markup), remove what is not visible, name every interactive
element (see `naming`), strip attributes down to what describes state (`name`, `type`, `value`,
`checked`, `alt`, ...), unwrap inline formatting and layout-only wrappers, collapse whitespace, and
finally cap the size. Names are given before anything is cut, so an element keeps its name whatever
the size cap; elements past the cap disappear together with their names.

    >>> simplify_html('<div class="x"><div><a href="/p/1" data-track="t">Acme <b>Phone</b></a></div>'
    ...               '<script>track()</script><p style="display:none">secret</p></div>')
    '<body><a name="acme_phone">Acme Phone</a></body>'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import lxml.html

from shop_r1.html.clean import remove_invisible
from shop_r1.html.naming import NamedElement, assign_names, normalize_space
from shop_r1.html.parse import parse_body
from shop_r1.html.serialize import serialize_capped

__all__ = ["DEFAULT_MAX_CHARS", "TRUNCATION_MARKER", "SimplifiedPage", "simplify_html", "simplify_page"]

DEFAULT_MAX_CHARS = 20_000
TRUNCATION_MARKER = "<p>[page truncated]</p>"

# Attributes that tell the reader something about an element's state; everything else goes.
KEPT_ATTRIBUTES = frozenset(
    {"type", "value", "placeholder", "checked", "selected", "disabled", "alt", "aria-checked",
     "aria-pressed", "aria-selected", "aria-current", "aria-expanded"}
)
# Inline formatting: the text stays, the tag goes.
UNWRAPPED_TAGS = frozenset(
    {"span", "font", "b", "i", "em", "strong", "small", "big", "u", "s", "strike", "sup", "sub", "mark", "abbr",
     "cite", "label", "picture", "center", "bdi", "bdo", "time", "data", "var", "ins", "del", "q", "kbd", "tt",
     "nobr", "wbr", "legend"}
)
# Layout containers that may disappear when they wrap a single element and no text of their own.
COLLAPSIBLE_TAGS = frozenset(
    {"div", "section", "article", "main", "form", "figure", "fieldset", "header", "footer", "aside", "body"}
)
# Elements that mean something even when empty.
KEEP_EMPTY_TAGS = frozenset({"input", "select", "textarea", "img", "button"})


@dataclass(frozen=True)
class SimplifiedPage:
    """Simplified HTML plus, for each `name` it contains, what that element is and does."""

    html: str
    elements: Mapping[str, NamedElement]
    truncated: bool = False


def simplify_html(raw_html: str, *, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """Simplified HTML of a raw page, at most `max_chars` characters (a marker ends a cut page)."""
    return simplify_page(raw_html, max_chars=max_chars).html


def simplify_page(raw_html: str, *, max_chars: int = DEFAULT_MAX_CHARS) -> SimplifiedPage:
    """Like `simplify_html`, and also returns the name -> element mapping of what survived."""
    if max_chars < len(TRUNCATION_MARKER) + len("<body></body>"):
        raise ValueError(f"max_chars must be at least {len(TRUNCATION_MARKER) + 13}, got {max_chars}")
    body = parse_body(raw_html)
    remove_invisible(body)
    named = assign_names(body)
    for node, info in named:
        node.attrib.clear()
        node.set("name", info.name)
        # Source attribute order, never set order: the output must not depend on PYTHONHASHSEED.
        for key, value in info.attrs.items():
            if key in KEPT_ATTRIBUTES and _keep_attribute(node.tag, key, value):
                node.set(key, value)
        if node.tag in ("button", "a") and not normalize_space(node.text_content()) and info.label \
                and not any(image.get("alt") for image in node.iter("img")):
            node.set("aria-label", info.label)  # an icon-only control: its label is all there is to read
    named_nodes = {node for node, _ in named}
    _strip_attributes(body, named_nodes)
    _unwrap(body, named_nodes)
    html, kept = serialize_capped(body, max_chars, TRUNCATION_MARKER)
    elements = {info.name: info for _, info in named}
    if kept is not None:  # only elements before the cut are on the page
        survivors = {node.get("name") for node in list(body.iterdescendants())[:kept] if node.get("name")}
        elements = {name: info for name, info in elements.items() if name in survivors}
    return SimplifiedPage(html=html, elements=MappingProxyType(elements), truncated=kept is not None)


def _strip_attributes(body: lxml.html.HtmlElement, named_nodes: set[lxml.html.HtmlElement]) -> None:
    for node in body.iter():
        if node in named_nodes:
            continue
        kept = {k: v for k, v in node.attrib.items() if k in KEPT_ATTRIBUTES and _keep_attribute(node.tag, k, v)}
        if node.tag == "img" and not kept.get("alt", "").strip():
            kept = {}
        node.attrib.clear()
        node.attrib.update(kept)


def _keep_attribute(tag: str, key: str, value: str) -> bool:
    if key == "value":  # an input's current value is state; an option's value is an internal code
        return tag == "input" and bool(value.strip())
    if key == "type":  # text and plain buttons are the default reading; only unusual types inform
        return value.strip().lower() not in ("text", "submit", "button", "")
    return True


def _unwrap(body: lxml.html.HtmlElement, named_nodes: set[lxml.html.HtmlElement]) -> None:
    # Children before parents, so that a wrapper sees its final content when judged.
    for node in reversed(list(body.iterdescendants())):
        if node in named_nodes:
            continue
        tag = node.tag
        if tag == "br":
            _replace_with_text(node, " ")
        elif tag == "hr" or (tag == "img" and not node.get("alt")):
            _replace_with_text(node, " ")
        elif tag in UNWRAPPED_TAGS or "-" in tag:  # custom elements (<my-card>) are wrappers too
            _replace_with_text(node, " ") if _is_empty(node) else node.drop_tag()
        elif _is_empty(node) and tag not in KEEP_EMPTY_TAGS:
            _replace_with_text(node, " ")
        elif tag in COLLAPSIBLE_TAGS and (_wraps_one(node) or _is_only_content(node)):
            node.drop_tag()
    for node in body.iter():
        node.text = normalize_space(node.text) if node.text else None
        node.text = node.text or None
        if node is not body:
            node.tail = normalize_space(node.tail) if node.tail else None
            node.tail = node.tail or None


def _wraps_one(node: lxml.html.HtmlElement) -> bool:
    """A wrapper around a single element and no text of its own."""
    return len(node) == 1 and not (node.text or "").strip() and not (node[0].tail or "").strip()


def _is_only_content(node: lxml.html.HtmlElement) -> bool:
    """The sole content of its parent: its tag adds no structure the parent does not already give."""
    parent = node.getparent()
    return parent is not None and _wraps_one(parent) and not (node.tail or "").strip()


def _is_empty(node: lxml.html.HtmlElement) -> bool:
    return len(node) == 0 and not (node.text or "").strip()


def _replace_with_text(node: lxml.html.HtmlElement, text: str) -> None:
    """Remove `node`, leaving `text` plus its tail in its place (so words on both sides stay apart)."""
    parent = node.getparent()
    if parent is None:
        return
    filler = _joined(text, node.tail or "")
    previous = node.getprevious()
    parent.remove(node)
    if previous is not None:
        previous.tail = _joined(previous.tail, filler)
    else:
        parent.text = _joined(parent.text, filler)


def _joined(existing: str | None, filler: str) -> str:
    """`existing + filler`, without piling up whitespace.

    Whitespace is collapsed at the end anyway, so a space after a space changes nothing, but appending
    it would make a run of N removed siblings build strings of length 1, 2, ..., N: quadratic time, and
    libxml2 keeps every one of them (50,000 empty <div>s took 1.2 GB).
    """
    if existing and existing[-1].isspace():
        filler = filler.lstrip()
    return (existing or "") + filler
