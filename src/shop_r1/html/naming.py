"""Give every interactive element of a cleaned page a unique, hierarchical, dot-separated `name`.

A name is a path of segments, each derived from what the page says about itself rather than from its
position in the markup, so that it stays the same when layout wrappers change:

- an element with a meaningful `id` is named by that id alone (ids are already unique per page),
  and its descendants' names start from it: `<ol id="search-results">` -> `search_results.item_2`;
- other containers add a segment when they name a region: `aria-label` / `aria-labelledby`, a
  fieldset's legend, or a landmark (`nav`, `header`, `footer`, `aside`, an open `dialog`);
- list items add `item_<k>` (1-based among their sibling items) when the item is itself clickable, or
  when its controls would otherwise be ambiguous: two or more controls, or the same label as in a
  sibling item (`cart.item_2.delete`); a menu of distinct links keeps its readable names;
- the element's own segment comes from its accessible label: `aria-label`, an associated `<label>`,
  its visible text, an image's alt text, `placeholder`, `title`, or finally its kind (`link`).

Duplicates get `_2`, `_3`, ... in document order, so the first occurrence keeps the plain name.
Generated ids (React's `:r1:`, long digit runs or hashes) are ignored, and so are generic page
wrappers such as `root` or `app`, which would otherwise prefix every name on the page.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import lxml.html

__all__ = ["NamedElement", "assign_names", "is_interactive", "slugify"]

INTERACTIVE_ROLES = frozenset(
    {
        "button", "link", "checkbox", "radio", "tab", "menuitem", "menuitemcheckbox", "menuitemradio",
        "option", "switch", "combobox", "textbox", "searchbox", "slider", "spinbutton",
    }
)
LANDMARK_TAGS: Mapping[str, str] = MappingProxyType(
    {"nav": "nav", "header": "header", "footer": "footer", "aside": "aside", "dialog": "dialog"}
)
LANDMARK_ROLES: Mapping[str, str] = MappingProxyType(
    {"navigation": "nav", "banner": "header", "contentinfo": "footer", "complementary": "aside",
     "dialog": "dialog", "alertdialog": "dialog"}
)
# Wrapper ids that frameworks put around the whole page; as a prefix they would only add noise.
GENERIC_IDS = frozenset({"root", "app", "main", "content", "page", "wrapper", "container", "body", "layout"})
TEXT_INPUT_TYPES = frozenset({"", "text", "search", "email", "tel", "url", "number", "password"})
_FRAMEWORK_ID = re.compile(r"^(?:ember|yui|ext-gen|react-|radix-|headlessui-|mui-|__)", re.IGNORECASE)
_WORD = re.compile(r"\w+")
_SPACE = re.compile(r"\s+")
MAX_LABEL_WORDS = 5
MAX_SEGMENT_CHARS = 40


@dataclass(frozen=True)
class NamedElement:
    """An interactive element as the page defines it: its name and what it does.

    `attrs` are the element's original attributes (href, form field name, tracking data, ...), so a
    caller can resolve a name to its target without parsing the name itself.
    """

    name: str
    tag: str
    kind: str
    label: str
    attrs: Mapping[str, str] = field(default_factory=dict)
    form_action: str | None = None

    @property
    def target(self) -> str | None:
        """Where activating the element leads: its href, `data-href` or `formaction`, if any."""
        for key in ("href", "data-href", "formaction"):
            value = self.attrs.get(key)
            if value:
                return value
        return None

    @property
    def accepts_text(self) -> bool:
        """Whether one can type into it (text-like inputs, textareas, search boxes)."""
        if self.tag == "textarea" or self.kind in ("textbox", "searchbox"):
            return True
        return self.tag == "input" and self.attrs.get("type", "").strip().lower() in TEXT_INPUT_TYPES


def normalize_space(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def slugify(text: str, *, max_words: int = MAX_LABEL_WORDS, max_chars: int = MAX_SEGMENT_CHARS) -> str:
    """Lower-case words joined by `_`; at most `max_words` words and `max_chars` characters.

    >>> slugify("Price: low to high")
    'price_low_to_high'
    >>> slugify("  $25 to $50 ")
    '25_to_50'
    >>> slugify("Größe — XL")
    'größe_xl'
    """
    words = [w.strip("_") for w in _WORD.findall(unicodedata.normalize("NFKC", text).lower())]
    words = [w for w in words if w]
    out = ""
    for word in words[:max_words]:
        candidate = f"{out}_{word}" if out else word
        if len(candidate) > max_chars:
            break
        out = candidate
    if not out and words:
        out = words[0][:max_chars]
    return out


def is_interactive(element: lxml.html.HtmlElement) -> bool:
    """Links, buttons, form controls and anything made clickable by role or click handler."""
    tag = element.tag
    attrib = element.attrib
    if tag == "a":
        return "href" in attrib or "role" in attrib or "onclick" in attrib
    if tag in ("button", "select", "textarea", "summary"):
        return True
    if tag == "input":
        return attrib.get("type", "").strip().lower() != "hidden"
    return attrib.get("role", "").strip().lower() in INTERACTIVE_ROLES or "onclick" in attrib


def _kind(element: lxml.html.HtmlElement) -> str:
    role = element.get("role", "").strip().lower()
    if role in INTERACTIVE_ROLES:
        return role
    tag = element.tag
    if tag == "a":
        return "link"
    if tag == "input":
        kind = element.get("type", "").strip().lower() or "text"
        return "button" if kind in ("submit", "button", "reset", "image") else kind
    if tag in ("button", "select", "textarea"):
        return tag
    return "button"


def _semantic_id(element: lxml.html.HtmlElement) -> str | None:
    raw = element.get("id", "").strip()
    if not raw or len(raw) > 48 or raw.lower() in GENERIC_IDS or _FRAMEWORK_ID.match(raw) or raw.startswith(":"):
        return None
    if re.search(r"\d{5,}", raw):
        return None
    for token in re.split(r"[-_:.]", raw):
        # A hash such as "3fa9c2e1": hex only, long, with both digits and letters.
        if len(token) >= 8 and re.fullmatch(r"[0-9a-fA-F]+", token) and re.search(r"\d", token) \
                and re.search(r"[a-fA-F]", token):
            return None
    return slugify(raw, max_words=8, max_chars=MAX_SEGMENT_CHARS) or None


class _Namer:
    """One pass over a cleaned body; holds the indexes that labels need."""

    def __init__(self, body: lxml.html.HtmlElement) -> None:
        self.body = body
        self.by_id: dict[str, lxml.html.HtmlElement] = {}
        self.label_for: dict[str, lxml.html.HtmlElement] = {}
        for node in body.iter():
            node_id = node.get("id")
            if node_id and node_id not in self.by_id:
                self.by_id[node_id] = node
            if node.tag == "label" and node.get("for"):
                self.label_for.setdefault(node.get("for"), node)
        self.interactive = [node for node in body.iter() if is_interactive(node)]
        self.interactive_set = set(self.interactive)
        self.item_scopes = self._list_items_needing_scope()

    def text(self, element: lxml.html.HtmlElement) -> str:
        # Pieces joined with spaces: a card's title and price are separate blocks, not one word.
        return normalize_space(" ".join(element.itertext()))

    def _referenced_text(self, ids: str) -> str:
        parts = [self.text(self.by_id[i]) for i in ids.split() if i in self.by_id]
        return " ".join(p for p in parts if p)

    def label(self, element: lxml.html.HtmlElement) -> str:
        """The accessible name, approximately as a browser computes it."""
        for key in ("aria-label",):
            value = normalize_space(element.get(key, ""))
            if value:
                return value
        if element.get("aria-labelledby"):
            value = self._referenced_text(element.get("aria-labelledby", ""))
            if value:
                return value
        if element.tag in ("input", "select", "textarea"):
            label = self.label_for.get(element.get("id", "")) if element.get("id") else None
            if label is None:
                label = next((a for a in element.iterancestors("label")), None)
            if label is not None and self.text(label):
                return self.text(label)
            kind = element.get("type", "").strip().lower()
            if kind in ("submit", "button", "reset") and element.get("value"):
                return normalize_space(element.get("value", ""))
            for key in ("name", "placeholder", "title"):
                value = normalize_space(element.get(key, ""))
                if value:
                    return value
            return ""
        if element.tag not in ("a", "button", "summary") and len(element):
            # A clickable card: its first line (the title), not the price and badges after it.
            first = next((normalize_space(t) for t in element.itertext() if t.strip()), "")
            if first:
                return first
        text = self.text(element)
        if text:
            return text
        for image in element.iter("img"):
            alt = normalize_space(image.get("alt", ""))
            if alt:
                return alt
        return normalize_space(element.get("title", "") or element.get("value", ""))

    def _owned_controls(self) -> dict[lxml.html.HtmlElement, list[lxml.html.HtmlElement]]:
        """For each list item, the controls whose nearest list item it is (itself included)."""
        owned: dict[lxml.html.HtmlElement, list[lxml.html.HtmlElement]] = {}
        for node in self.interactive:
            item = node if _is_list_item(node) else next((a for a in node.iterancestors() if _is_list_item(a)), None)
            if item is not None:
                owned.setdefault(item, []).append(node)
        return owned

    def _list_items_needing_scope(self) -> set[lxml.html.HtmlElement]:
        owned = self._owned_controls()
        scoped = {item for item, controls in owned.items() if item in self.interactive_set or len(controls) >= 2}
        # A single control per item: scope only where its label repeats across sibling items.
        by_parent: dict[lxml.html.HtmlElement, list[tuple[lxml.html.HtmlElement, str]]] = {}
        for item, controls in owned.items():
            if item not in scoped and item.getparent() is not None:
                by_parent.setdefault(item.getparent(), []).append((item, slugify(self.label(controls[0]))))
        for siblings in by_parent.values():
            seen: dict[str, int] = {}
            for _, label in siblings:
                seen[label] = seen.get(label, 0) + 1
            scoped.update(item for item, label in siblings if seen[label] > 1)
        return scoped

    def item_segment(self, item: lxml.html.HtmlElement) -> str:
        position = 1 + sum(1 for sibling in item.itersiblings(preceding=True) if _is_list_item(sibling))
        return f"item_{position}"

    def scope_segment(self, element: lxml.html.HtmlElement) -> str | None:
        if element in self.item_scopes:
            return self.item_segment(element)
        label = normalize_space(element.get("aria-label", ""))
        if not label and element.get("aria-labelledby"):
            label = self._referenced_text(element.get("aria-labelledby", ""))
        if not label and element.tag == "fieldset":
            legend = element.find("legend")
            label = self.text(legend) if legend is not None else ""
        if label:
            return slugify(label) or None
        role = element.get("role", "").strip().lower()
        return LANDMARK_ROLES.get(role) or LANDMARK_TAGS.get(element.tag)

    def own_segment(self, element: lxml.html.HtmlElement) -> str:
        if element in self.item_scopes:
            return self.item_segment(element)
        return slugify(self.label(element)) or _kind(element)


def _is_list_item(element: lxml.html.HtmlElement) -> bool:
    return element.tag == "li" or element.get("role", "").strip().lower() == "listitem"


def _join(prefix: str, segment: str) -> str:
    return f"{prefix}.{segment}" if prefix else segment


def assign_names(body: lxml.html.HtmlElement) -> list[tuple[lxml.html.HtmlElement, NamedElement]]:
    """Name every interactive element under `body` (already cleaned), in document order."""
    namer = _Namer(body)
    prefix: dict[lxml.html.HtmlElement, str] = {body: ""}
    used: set[str] = set()
    named: list[tuple[lxml.html.HtmlElement, NamedElement]] = []
    for node in body.iterdescendants():
        base = prefix[node.getparent()]
        node_id = _semantic_id(node)
        interactive = node in namer.interactive_set
        if interactive:
            name = _unique(node_id or _join(base, namer.own_segment(node)), used)
            prefix[node] = name
            named.append((node, _describe(node, name, namer)))
        elif node_id:
            prefix[node] = node_id
        else:
            segment = namer.scope_segment(node)
            prefix[node] = _join(base, segment) if segment else base
    return named


def _unique(name: str, used: set[str]) -> str:
    candidate, counter = name, 1
    while candidate in used:
        counter += 1
        candidate = f"{name}_{counter}"
    used.add(candidate)
    return candidate


def _describe(node: lxml.html.HtmlElement, name: str, namer: _Namer) -> NamedElement:
    form = next((a for a in node.iterancestors("form")), None)
    return NamedElement(
        name=name,
        tag=node.tag,
        kind=_kind(node),
        label=namer.label(node)[:200],
        attrs=MappingProxyType(dict(sorted(node.attrib.items()))),
        form_action=form.get("action") if form is not None else None,
    )
