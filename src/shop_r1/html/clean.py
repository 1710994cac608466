"""Remove what a shopper never reads: scripts, styles, comments, hidden elements.

This runs before naming, so element names depend only on content a person can see: adding a
tracking script or a hidden modal to a page does not renumber anything.
"""

from __future__ import annotations

import lxml.etree as etree
import lxml.html

__all__ = ["is_hidden", "remove_invisible"]

# Elements whose content is code, metadata or media without readable text.
DROPPED_TAGS = frozenset(
    {
        "script", "style", "noscript", "template", "head", "meta", "link", "base", "iframe", "frame",
        "frameset", "svg", "math", "canvas", "object", "embed", "audio", "video", "map", "source",
        "track", "param",
    }
)
# Utility classes that mean "not shown" in common CSS frameworks (Bootstrap, Tailwind, WordPress).
HIDDEN_CLASSES = frozenset(
    {"hidden", "is-hidden", "d-none", "sr-only", "visually-hidden", "screen-reader-text", "invisible", "hide"}
)


def _style_hides(style: str) -> bool:
    for declaration in style.split(";"):
        prop, _, value = declaration.partition(":")
        prop, value = prop.strip().lower(), value.strip().lower().replace("!important", "").strip()
        if (prop == "display" and value == "none") or (prop == "visibility" and value in ("hidden", "collapse")):
            return True
    return False


def is_hidden(element: lxml.html.HtmlElement) -> bool:
    """Whether the element (and so its subtree) is not rendered.

    `aria-hidden` is deliberately not here: it hides content from screen readers only, and shops
    use it on the visible half of a price whose spoken half sits in an `sr-only` span.
    """
    attrib = element.attrib
    if "hidden" in attrib:
        return True
    if element.tag == "input" and attrib.get("type", "").strip().lower() == "hidden":
        return True
    style = attrib.get("style")
    if style and _style_hides(style):
        return True
    classes = attrib.get("class")
    return bool(classes) and any(token in HIDDEN_CLASSES for token in classes.lower().split())


def remove_invisible(body: lxml.html.HtmlElement) -> None:
    """Drop comments, processing instructions, code/media elements and hidden subtrees, in place."""
    doomed = []
    for node in body.iter():
        if not isinstance(node.tag, str):  # comments, processing instructions, entities
            doomed.append(node)
        elif node.tag in DROPPED_TAGS or (node.tag == "dialog" and "open" not in node.attrib):
            doomed.append(node)
        elif is_hidden(node):
            doomed.append(node)
    for node in doomed:
        _remove_keep_tail(node)


def _remove_keep_tail(node: etree._Element) -> None:
    """Remove a node but keep the text that follows it (lxml's `remove` would drop that too)."""
    parent = node.getparent()
    if parent is None:  # already gone with a removed ancestor
        return
    tail = node.tail
    previous = node.getprevious()
    parent.remove(node)
    if tail:
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
