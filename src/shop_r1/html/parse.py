"""Parse any HTML text, however broken, into an lxml tree rooted at `<body>`.

libxml2's HTML parser (through lxml) does the work: it repairs unclosed and misnested tags, accepts
unknown elements and never raises on bad markup. Its one hard limit is nesting depth (2,048 with
`huge_tree`): past it the parser stops and silently drops the rest of the page. Pages that deep are
machine-generated oddities, but the rest of their content still matters, so for them we rebuild the
tree with the standard library's HTML tokenizer and flatten everything below `max_depth`: elements
deeper than that become siblings at the deepest allowed level (text and elements kept, only the
excess nesting lost), and `DEPTH_MARKER` marks where the flattening starts. Memory stays linear in
the page (a 2 MB page nested 200,000 deep is simplified in ~80 MB in all).
"""

from __future__ import annotations

from html.parser import HTMLParser as _Tokenizer

import lxml.etree as etree
import lxml.html

from shop_r1.limits import MAX_HTML_DEPTH

__all__ = ["DEPTH_MARKER", "parse_body"]

# Elements that never have content; the fallback tree builder must not push them on its stack.
VOID_TAGS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"}
)
# Start tags that close an open element of the same kind (`<li>a<li>b`), as browsers do.
_SELF_CLOSING_SIBLINGS = frozenset({"li", "p", "option", "tr", "td", "th", "dt", "dd"})
FALLBACK_MAX_DEPTH = MAX_HTML_DEPTH
DEPTH_MARKER = f"[page nested deeper than {MAX_HTML_DEPTH} levels: the rest is flattened]"
# Characters XML (hence lxml) cannot store; the fallback builder replaces them with spaces.
_XML_UNSAFE = {code: " " for code in [*range(0, 9), 11, 12, *range(14, 32), 0xFFFE, 0xFFFF]}


def _xml_safe(text: str) -> str:
    text = text.translate(_XML_UNSAFE)
    # Lone surrogates (from broken escapes) are not characters at all.
    return text.encode("utf-8", errors="replace").decode("utf-8")


def _valid_tag(tag: str) -> bool:
    """Whether lxml can hold this tag name (templating leaves names such as "a:b:c")."""
    try:
        etree.Element(tag)
    except ValueError:
        return False
    return True


def _make_parser() -> lxml.html.HTMLParser:
    # Bytes plus an explicit encoding: a page's own <meta charset> or XML declaration cannot then
    # contradict the text we were given (lxml refuses str input that declares an encoding).
    return lxml.html.HTMLParser(encoding="utf-8", huge_tree=True, remove_blank_text=False)


def parse_body(raw_html: str) -> lxml.html.HtmlElement:
    """The page's `<body>` as a mutable tree (an empty body for empty input)."""
    # Control characters parse fine but lxml refuses them as text later, when the tree is edited.
    raw_html = _xml_safe(raw_html)
    data = raw_html.encode("utf-8", errors="replace")
    parser = _make_parser()
    try:
        root = etree.fromstring(data, parser) if data.strip() else None
    except (etree.ParserError, etree.XMLSyntaxError):
        root = None
    if any("Excessive depth" in entry.message for entry in parser.error_log):
        root = _parse_flattened(raw_html, FALLBACK_MAX_DEPTH)
    if root is None:
        return lxml.html.Element("body")
    body = root.find("body")
    if body is None:
        # A bare fragment such as "<p>x</p>" may come back as the element itself.
        body = lxml.html.Element("body")
        body.append(root)
    return body


class _FlatTreeBuilder(_Tokenizer):
    """Builds an lxml tree from tokens, never deeper than `max_depth` below `<html>`."""

    def __init__(self, max_depth: int) -> None:
        super().__init__(convert_charrefs=True)
        self.max_depth = max_depth
        self.root = lxml.html.Element("html")
        self.body = etree.SubElement(self.root, "body")
        self.stack: list[lxml.html.HtmlElement] = [self.body]
        # Tags opened while the depth cap was hit; their end tags must not pop real elements.
        self.folded: list[str] = []
        self.marked = False

    def _append_text(self, text: str) -> None:
        text = _xml_safe(text)
        node = self.stack[-1]
        if len(node):
            last = node[-1]
            last.tail = (last.tail or "") + text
        else:
            node.text = (node.text or "") + text

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("html", "body", "head"):
            return
        if tag in _SELF_CLOSING_SIBLINGS and self.stack[-1].tag == tag and len(self.stack) > 1:
            self.stack.pop()
        capped = tag not in VOID_TAGS and len(self.stack) >= self.max_depth
        if capped and not self.marked:
            marker = etree.SubElement(self.stack[-2], "p")
            marker.text = DEPTH_MARKER
            self.marked = True
        # At the cap a new element becomes a sibling of the deepest one instead of its child; an empty
        # wrapper there is reused, so a run of 200,000 nested <div>s costs one element, not 200,000.
        parent = self.stack[-2] if capped else self.stack[-1]
        top = self.stack[-1]
        if capped and self.folded and not len(top) and not top.text and not top.attrib:
            element = top
            element.tag = tag if _valid_tag(tag) else "div"
        else:
            element = etree.SubElement(parent, tag if _valid_tag(tag) else "div")
        for key, value in attrs:
            try:
                element.set(key, _xml_safe(value or ""))
            except ValueError:  # attribute names such as "@click" from templating frameworks
                continue
        if tag in VOID_TAGS:
            return
        if capped:
            self.folded.append(tag)
            self.stack[-1] = element
            return
        self.stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID_TAGS:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.folded and self.folded[-1] == tag:
            self.folded.pop()
            return
        # Close the nearest open element with this tag; a stray end tag closes nothing.
        for index in range(len(self.stack) - 1, 0, -1):
            if self.stack[index].tag == tag:
                del self.stack[index:]
                return

    def handle_data(self, data: str) -> None:
        self._append_text(data)


def _parse_flattened(raw_html: str, max_depth: int) -> lxml.html.HtmlElement:
    builder = _FlatTreeBuilder(max_depth)
    builder.feed(raw_html)
    builder.close()
    # Round-trip through lxml.html so that every node is an HtmlElement (drop_tag, text_content).
    return lxml.html.document_fromstring(etree.tostring(builder.root, encoding="utf-8"), parser=_make_parser())
