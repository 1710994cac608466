"""Search over the catalog: term matching with field weights, typo tolerance, filters, sort, pages.

A query's words (lower-cased, crudely singularised, stop words dropped) are matched against each
product's title, brand, category, attribute and option words, and the synonyms the vocabulary lists
(`sneakers` finds running shoes). An unknown word of four or more letters is replaced by the closest
known word within one edit (two for long words), so `headphnes` still works. Products matching most
of the words rank first, then by total field weight, then by popularity; like a real shop, a query
with one wrong word still returns partial matches rather than nothing.

Facets (brand, price band, rating, and attributes of the dominant category) are counted over the
filtered results, so every filter link on a page leads to at least one product.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from urllib.parse import urlencode

from shop_r1.html.naming import slugify
from shop_r1.world.catalog import Catalog, Product
from shop_r1.world.vocab import CATEGORY_BY_KEY, PRICE_BANDS

__all__ = ["SORTS", "Facet", "SearchEngine", "SearchQuery", "SearchResult", "tokenize"]

# Sort key -> label shown on the page.
SORTS: Mapping[str, str] = {
    "featured": "Featured",
    "price_asc": "Price: low to high",
    "price_desc": "Price: high to low",
    "rating": "Top rated",
}
STOP_WORDS = frozenset(
    "a an the for with and in of to under below than less my i need want some new on best cheap good "
    "size color colour pair buy looking".split()
)
_TOKEN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
MIN_RATING_FILTER = 4
FIELD_WEIGHTS: Mapping[str, int] = {"title": 3, "brand": 3, "category": 2, "attribute": 2, "option": 1}


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def tokenize(text: str) -> list[str]:
    """Search terms of a text: lower-case words, hyphenated words split too, stop words dropped.

    >>> tokenize("Noise-cancelling Headphones for running")
    ['noise-cancelling', 'noise', 'cancelling', 'headphone', 'running']
    """
    out: list[str] = []
    for match in _TOKEN.findall(text.lower()):
        parts = [match, *match.split("-")] if "-" in match else [match]
        out.extend(_stem(p) for p in parts if p not in STOP_WORDS)
    return out


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance, giving up (returning `limit + 1`) once it must exceed `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


@dataclass(frozen=True)
class SearchQuery:
    """Everything a search results URL encodes. Empty `q` with a category browses that category."""

    q: str = ""
    category: str | None = None
    brand: str | None = None  # brand slug (`kestrel_audio`)
    price: str | None = None  # a PRICE_BANDS key
    rating: int | None = None  # minimum stars
    filters: tuple[tuple[str, str], ...] = ()  # (attribute or option name, value slug), sorted
    sort: str = "featured"
    page: int = 1

    def to_url(self) -> str:
        params: list[tuple[str, str]] = []
        if self.q:
            params.append(("q", self.q))
        for key in ("category", "brand", "price"):
            if getattr(self, key):
                params.append((key, getattr(self, key)))
        if self.rating:
            params.append(("rating", str(self.rating)))
        params.extend(self.filters)
        if self.sort != "featured":
            params.append(("sort", self.sort))
        if self.page > 1:
            params.append(("page", str(self.page)))
        return "/search" + (f"?{urlencode(params)}" if params else "")

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> SearchQuery:
        reserved = {"q", "category", "brand", "price", "rating", "sort", "page", "ref"}
        rating = params.get("rating", "")
        page = params.get("page", "1")
        return cls(
            q=params.get("q", "").strip(),
            category=params.get("category") or None,
            brand=params.get("brand") or None,
            price=params.get("price") or None,
            rating=int(rating) if rating.isdigit() else None,
            filters=tuple(sorted((k, v) for k, v in params.items() if k not in reserved and v)),
            sort=params.get("sort", "featured") if params.get("sort") in SORTS else "featured",
            page=max(1, int(page)) if page.isdigit() else 1,
        )

    def with_filter(self, key: str, value: str | None) -> SearchQuery:
        """A copy with one filter set (or cleared with `None`), back on page 1."""
        if key in ("brand", "price"):
            return replace(self, **{key: value}, page=1)
        if key == "rating":
            return replace(self, rating=int(value) if value else None, page=1)
        filters = dict(self.filters)
        if value is None:
            filters.pop(key, None)
        else:
            filters[key] = value
        return replace(self, filters=tuple(sorted(filters.items())), page=1)

    @property
    def has_filters(self) -> bool:
        return bool(self.brand or self.price or self.rating or self.filters)


@dataclass(frozen=True)
class Facet:
    key: str  # URL parameter: "brand", "price", "rating" or an attribute / option name
    label: str  # heading shown on the page
    values: tuple[tuple[str, str, int], ...]  # (value for the URL, text shown, matching products)


@dataclass(frozen=True)
class SearchResult:
    query: SearchQuery
    products: tuple[Product, ...]  # this page only
    total: int
    pages: int
    facets: tuple[Facet, ...] = field(default=())
    corrected: str | None = None  # the query as understood, when a typo was fixed


class SearchEngine:
    """An inverted index over one catalog."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.postings: dict[str, dict[str, int]] = {}
        for product in catalog.products:
            for term, weight in self._terms(product).items():
                self.postings.setdefault(term, {})[product.pid] = weight
        self.vocabulary = tuple(sorted(self.postings))
        self._correct = lru_cache(maxsize=4096)(self._correct_uncached)

    @staticmethod
    def _terms(product: Product) -> dict[str, int]:
        spec = product.spec
        fields: list[tuple[str, str]] = [("title", product.title), ("brand", product.brand),
                                         ("category", spec.label)]
        fields += [("attribute", value) for value in product.attributes.values()]
        fields += [("option", value) for values in product.options.values() for value in values]
        for word, synonyms in spec.aliases.items():
            if word in spec.label.lower() or word in product.kind:
                fields += [("category", synonym) for synonym in synonyms]
        terms: dict[str, int] = {}
        for field_name, text in fields:
            for term in tokenize(text):
                terms[term] = max(terms.get(term, 0), FIELD_WEIGHTS[field_name])
        return terms

    def _correct_uncached(self, term: str) -> str | None:
        if term in self.postings:
            return term
        if len(term) < 4 or term.isdigit():
            return None
        limit = 2 if len(term) >= 8 else 1
        best: tuple[int, int, str] | None = None
        for known in self.vocabulary:
            distance = _edit_distance(term, known, limit)
            if distance <= limit:
                key = (distance, -len(self.postings[known]), known)
                best = key if best is None or key < best else best
        return best[2] if best else None

    def understood_terms(self, text: str) -> list[str]:
        """The query's terms after typo correction; unknown words are dropped."""
        out = []
        for term in tokenize(text):
            corrected = self._correct(term)
            if corrected is not None and corrected not in out:
                out.append(corrected)
        return out

    def _retrieve(self, query: SearchQuery) -> list[Product]:
        pool = [p for p in self.catalog.products if query.category is None or p.category == query.category]
        if not query.q:
            return sorted(pool, key=lambda p: (-_popularity(p), p.pid))
        terms = self.understood_terms(query.q)
        asked = len(tokenize(query.q))
        if not terms:
            return []
        allowed = {p.pid for p in pool}
        scores: dict[str, tuple[int, int]] = {}
        for term in terms:
            for pid, weight in self.postings[term].items():
                if pid in allowed:
                    matched, total = scores.get(pid, (0, 0))
                    scores[pid] = (matched + 1, total + weight)
        # Keep products that match most of what was asked (unknown words count as asked), so one
        # stray word still returns partial matches but two words are not an OR.
        needed = max(1, math.ceil(asked * 0.6))
        kept = [(pid, m, w) for pid, (m, w) in scores.items() if m >= needed]
        products = [self.catalog.get(pid) for pid, _, _ in kept]
        rank = {pid: (-m, -w) for pid, m, w in kept}
        return sorted((p for p in products if p is not None), key=lambda p: (*rank[p.pid], -_popularity(p), p.pid))

    def search(
        self, query: SearchQuery, *, per_page: int, facet_values: int = 3, attribute_facets: int = 1
    ) -> SearchResult:
        matches = [p for p in self._retrieve(query) if _passes(p, query)]
        if query.sort == "price_asc":
            matches.sort(key=lambda p: (p.price_cents, p.pid))
        elif query.sort == "price_desc":
            matches.sort(key=lambda p: (-p.price_cents, p.pid))
        elif query.sort == "rating":
            matches.sort(key=lambda p: (-p.rating, -p.review_count, p.pid))
        pages = max(1, math.ceil(len(matches) / per_page))
        page = min(query.page, pages)
        shown = tuple(matches[(page - 1) * per_page: page * per_page])
        terms = " ".join(self.understood_terms(query.q)) if query.q else ""
        corrected = terms if terms and terms != " ".join(tokenize(query.q)) else None
        return SearchResult(
            query=replace(query, page=page), products=shown, total=len(matches), pages=pages,
            facets=_facets(matches, query, facet_values, attribute_facets), corrected=corrected,
        )


def _popularity(product: Product) -> float:
    return product.rating * math.log1p(product.review_count)


def price_band(cents: int) -> str:
    dollars = cents / 100
    for key, _, low, high in PRICE_BANDS:
        if dollars >= low and (high is None or dollars < high):
            return key
    return PRICE_BANDS[-1][0]


def product_value(product: Product, key: str) -> tuple[str, ...]:
    """Slugs of a product's values for a filter key (an option may have several)."""
    if key in product.options:
        return tuple(slugify(v) for v in product.options[key])
    if key in product.attributes:
        return (slugify(product.attributes[key]),)
    return ()


def _passes(product: Product, query: SearchQuery) -> bool:
    if query.brand and slugify(product.brand) != query.brand:
        return False
    if query.price and price_band(product.price_cents) != query.price:
        return False
    if query.rating and product.rating < query.rating:
        return False
    return all(value in product_value(product, key) for key, value in query.filters)


def _top(counts: dict[str, tuple[str, int]], limit: int) -> tuple[tuple[str, str, int], ...]:
    ranked = sorted(counts.items(), key=lambda item: (-item[1][1], item[0]))[:limit]
    return tuple((key, label, count) for key, (label, count) in ranked)


def _facets(matches: list[Product], query: SearchQuery, limit: int, attribute_facets: int) -> tuple[Facet, ...]:
    if not matches:
        return ()
    facets = []
    if not query.brand:
        brands: dict[str, tuple[str, int]] = {}
        for p in matches:
            label, count = brands.get(slugify(p.brand), (p.brand, 0))
            brands[slugify(p.brand)] = (label, count + 1)
        facets.append(Facet("brand", "Brand", _top(brands, limit)))
    if not query.price:
        bands = {key: (label, sum(1 for p in matches if price_band(p.price_cents) == key))
                 for key, label, _, _ in PRICE_BANDS}
        order = [key for key, *_ in PRICE_BANDS]
        busiest = sorted((k for k in bands if bands[k][1]), key=lambda k: (-bands[k][1], order.index(k)))[:limit]
        if len(busiest) > 1:
            values = tuple((k, bands[k][0], bands[k][1]) for k in sorted(busiest, key=order.index))
            facets.append(Facet("price", "Price", values))
    if not query.rating:
        count = sum(1 for p in matches if p.rating >= MIN_RATING_FILTER)
        if 0 < count < len(matches):
            facets.append(Facet("rating", "Customer reviews", ((str(MIN_RATING_FILTER), "4 stars & up", count),)))
    categories: dict[str, int] = {}
    for p in matches:
        categories[p.category] = categories.get(p.category, 0) + 1
    dominant = CATEGORY_BY_KEY[min(categories, key=lambda c: (-categories[c], c))]
    active = dict(query.filters)
    # The first non-type attribute (connectivity, cushioning, ...), then the first option (colour, size).
    candidates = [name for name in dominant.attributes if name != dominant.type_attribute][:1]
    candidates += list(dominant.options)[:1]
    for key in candidates[:attribute_facets]:
        if key in active:
            continue
        counts: dict[str, tuple[str, int]] = {}
        for p in matches:
            if p.category != dominant.key:
                continue
            raw = p.options.get(key) or ((p.attributes[key],) if key in p.attributes else ())
            for value in raw:
                label, count = counts.get(slugify(value), (value, 0))
                counts[slugify(value)] = (label, count + 1)
        if len(counts) > 1:
            facets.append(Facet(key, key.capitalize(), _top(counts, limit)))
    return tuple(facets)
