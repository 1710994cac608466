"""Raw page HTML -> the simplified HTML a Shop-R1 model reads, with named interactive elements.

`simplify_html(raw)` keeps the layout and visible text and gives every link, button, input, select
and clickable card a unique hierarchical `name` (e.g. `search_results.item_2`, `refinements.brand.acme`);
`simplify_page(raw)` also returns what each name refers to.
"""

from shop_r1.html.naming import NamedElement, slugify
from shop_r1.html.simplify import DEFAULT_MAX_CHARS, TRUNCATION_MARKER, SimplifiedPage, simplify_html, simplify_page

__all__ = [
    "DEFAULT_MAX_CHARS",
    "TRUNCATION_MARKER",
    "NamedElement",
    "SimplifiedPage",
    "simplify_html",
    "simplify_page",
    "slugify",
]
