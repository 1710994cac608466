"""The embedded store as an environment: `reset()` shows the home page, `step(action)` acts on it.

Actions name elements exactly as a Shop-R1 model would: by the `name` the simplifier gave them on the
current page. The store never parses names; it looks the name up in the page's element table and
follows the element's own target (`href`, `data-href`, `formaction`), or submits its form for a
`type_and_submit`. So whatever the simplifier calls an element, the environment and the model agree.

    >>> from shop_r1.schema import Action
    >>> store = Store(build_catalog(seed=0, n_products=60))
    >>> store.reset().kind
    'home'
    >>> page = store.step(Action("type_and_submit", name="search_input", text="wireless headphones"))
    >>> page.kind, page.url
    ('search', 'https://shop.example/search?q=wireless+headphones')
    >>> store.step(Action("click", name="no_such_thing"))
    Traceback (most recent call last):
    ...
    shop_r1.world.store.InvalidActionError: no element named 'no_such_thing' on https://shop.example/search?q=wireless+headphones

A purchase (`buy_now`, or `checkout.place_order`) or a `terminate` ends the visit; `reset()` starts a
new one with an empty cart.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit

from shop_r1.errors import ShopR1Error
from shop_r1.html import NamedElement, SimplifiedPage, simplify_page
from shop_r1.html.naming import slugify
from shop_r1.schema import Action, ActionType
from shop_r1.world import pages
from shop_r1.world.catalog import Catalog, Product, Review, build_catalog
from shop_r1.world.search import SearchEngine, SearchQuery, SearchResult

__all__ = ["BASE_URL", "InvalidActionError", "Page", "Store", "StoreConfig"]

BASE_URL = "https://shop.example"


class InvalidActionError(ShopR1Error):
    """The action cannot be applied to the current page (unknown name, wrong element kind, visit over)."""


@dataclass(frozen=True)
class StoreConfig:
    """How much each page shows. The defaults keep simplified pages near 1,200 characters."""

    results_per_page: int = 3
    facet_values: int = 3
    attribute_facets: int = 1  # 2 adds the first option (colour, size) as a filter too
    sorts: tuple[str, ...] = ("featured", "price_asc", "rating")
    reviews_shown: int = 1
    reviews_expanded: int = 3
    home_categories: int = 12
    home_deals: int = 2
    max_chars: int = 8_000  # simplifier cap; store pages stay far below it by default
    # The one-click "Buy Now" button on product pages. An A/B knob: without it every purchase goes through
    # cart and checkout, where some shoppers drop out, so the purchase rate falls by construction.
    buy_now_button: bool = True

    def __post_init__(self) -> None:
        for key in ("results_per_page", "facet_values", "reviews_expanded", "home_categories"):
            if getattr(self, key) < 1:
                raise ValueError(f"StoreConfig.{key} must be at least 1, got {getattr(self, key)}")


@dataclass(frozen=True)
class Page:
    """What the shopper sees: the URL, raw and simplified HTML, and what each named element is.

    `products`, `product`, `selected` and `search` are what a person reads off the page, given as
    data so that a simulated shopper need not parse its own screen.
    """

    url: str
    kind: str
    raw_html: str
    html: str
    elements: Mapping[str, NamedElement]
    products: tuple[Product, ...] = ()
    product: Product | None = None
    selected: Mapping[str, str] = field(default_factory=dict)
    search: SearchResult | None = None
    cart: tuple[pages.CartLine, ...] = ()
    reviews: tuple[Review, ...] = ()

    def name_for(self, target: str, *, within: str = "") -> str | None:
        """The name of the first element (under `within.`, if given) whose target is `target`."""
        prefix = f"{within}." if within else ""
        return next(
            (name for name, el in self.elements.items() if el.target == target and name.startswith(prefix)), None
        )

    def names_with_prefix(self, prefix: str) -> list[str]:
        return [name for name in self.elements if name.startswith(prefix)]


@lru_cache(maxsize=4096)
def _simplify(raw_html: str, max_chars: int) -> SimplifiedPage:
    # Home, cart and many result pages repeat verbatim across sessions; simplify each once.
    return simplify_page(raw_html, max_chars=max_chars)


class Store:
    """One browser tab on the shop: current page, cart, and the last results page visited."""

    def __init__(
        self,
        catalog: Catalog | None = None,
        config: StoreConfig | None = None,
        *,
        engine: SearchEngine | None = None,
        shopper: str = "Alex",
    ) -> None:
        self.catalog = catalog if catalog is not None else build_catalog()
        self.config = config or StoreConfig()
        self.engine = engine or SearchEngine(self.catalog)
        # Whose name the checkout page shows; a simulation sets it per shopper.
        self.shopper = shopper
        ranked = sorted(self.catalog.products, key=lambda p: (-p.rating * min(p.review_count, 2000), p.pid))
        self.deals = tuple(ranked[: self.config.home_deals])
        self.cart: list[pages.CartLine] = []
        self.last_results: str | None = None
        self.done = False
        self.purchased: tuple[pages.CartLine, ...] = ()
        self.page: Page = self.reset()

    def reset(self) -> Page:
        """A new visit: empty cart, home page."""
        self.cart = []
        self.last_results = None
        self.done = False
        self.purchased = ()
        self.page = self.open("/")
        return self.page

    def step(self, action: Action) -> Page:
        """Apply a click, a type_and_submit or a terminate to the current page; return the next page."""
        if self.done:
            raise InvalidActionError("the visit is over (purchase or terminate); call reset() to start a new one")
        if action.type is ActionType.TERMINATE:
            self.done = True
            return self.page
        element = self.page.elements.get(action.name or "")
        if element is None:
            close = difflib.get_close_matches(action.name or "", list(self.page.elements), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise InvalidActionError(f"no element named {action.name!r} on {self.page.url}{hint}")
        if action.type is ActionType.TYPE_AND_SUBMIT:
            if not element.accepts_text or not element.form_action:
                raise InvalidActionError(f"{action.name!r} is a {element.kind}, not a text input one can submit")
            field_name = element.attrs.get("name") or "q"
            target = f"{element.form_action}?{urlencode({field_name: action.text})}"
        else:
            target = self._click_target(element)
            if target is None:  # focusing a text box or pressing a control with no effect
                return self.page
        self.page = self.open(target)
        return self.page

    def _click_target(self, element: NamedElement) -> str | None:
        if element.target:
            return element.target
        if element.accepts_text:
            return None
        if element.form_action:  # a submit button: send the form's text fields as they are
            fields = {
                e.attrs.get("name", "q"): e.attrs.get("value", "")
                for e in self.page.elements.values()
                if e.accepts_text and e.form_action == element.form_action
            }
            return f"{element.form_action}?{urlencode(fields)}"
        return None

    def open(self, target: str) -> Page:
        """Navigate to a site-relative URL (following the store's redirects)."""
        split = urlsplit(target)
        path = split.path or "/"
        params = dict(parse_qsl(split.query))
        if path == "/cart/add":
            product = self.catalog.get(params.get("pid", ""))
            if product is not None:
                self.cart.append(pages.CartLine(product, _chosen_options(product, params)))
            return self.open("/cart?added=1")
        if path == "/cart/remove":
            index = int(params["line"]) - 1 if params.get("line", "").isdigit() else -1
            if 0 <= index < len(self.cart):
                del self.cart[index]
            return self.open("/cart")
        if path in ("/buy", "/order/place"):
            return self._purchase(path, params)
        if path == "/checkout" and not self.cart:
            return self.open("/cart")
        return self._render(path, params, target)

    def _purchase(self, path: str, params: Mapping[str, str]) -> Page:
        if path == "/buy":
            product = self.catalog.get(params.get("pid", ""))
            lines = (pages.CartLine(product, _chosen_options(product, params)),) if product else ()
        else:
            lines = tuple(self.cart)
            self.cart = []
        self.purchased = lines
        self.done = True
        return self._page(BASE_URL + path, "confirmation", pages.render_confirmation(lines), cart=lines)

    def _render(self, path: str, params: Mapping[str, str], target: str) -> Page:
        url = BASE_URL + target
        count = len(self.cart)
        config = self.config
        if path == "/":
            raw = pages.render_home(self.deals, categories=config.home_categories, cart_count=count)
            return self._page(url, "home", raw, products=self.deals)
        if path == "/search":
            result = self.engine.search(
                SearchQuery.from_params(params), per_page=config.results_per_page, facet_values=config.facet_values,
                attribute_facets=config.attribute_facets,
            )
            self.last_results = result.query.to_url()
            raw = pages.render_search(result, cart_count=count, sorts=config.sorts)
            return self._page(BASE_URL + self.last_results, "search", raw, products=result.products, search=result)
        if path.startswith("/p/") and self.catalog.get(path[3:]) is not None:
            product = self.catalog.get(path[3:])
            assert product is not None
            selected = _chosen_options(product, params)
            expanded = params.get("reviews") == "all"
            shown = config.reviews_expanded if expanded else config.reviews_shown
            reviews = self.catalog.reviews(product, min(shown, product.review_count))
            raw = pages.render_product(
                product, selected, reviews, more_reviews=not expanded and product.review_count > shown,
                back_url=self.last_results, cart_count=count, buy_now=config.buy_now_button,
            )
            return self._page(url, "product", raw, products=(product,), product=product, selected=selected,
                              reviews=tuple(reviews))
        if path == "/cart":
            notice = "Added to cart." if params.get("added") else None
            return self._page(url, "cart", pages.render_cart(self.cart, notice=notice), cart=tuple(self.cart))
        if path == "/checkout":
            raw = pages.render_checkout(self.cart, shopper=self.shopper)
            return self._page(url, "checkout", raw, cart=tuple(self.cart))
        return self._page(url, "not_found", pages.render_not_found(path, cart_count=count))

    def _page(self, url: str, kind: str, raw: str, **view: object) -> Page:
        simplified = _simplify(raw, self.config.max_chars)
        return Page(url=url, kind=kind, raw_html=raw, html=simplified.html, elements=simplified.elements,
                    **view)  # type: ignore[arg-type]


def _chosen_options(product: Product, params: Mapping[str, str]) -> dict[str, str]:
    """The product's default options overridden by any valid ones in the URL (given as slugs)."""
    chosen = product.default_options()
    for name, values in product.options.items():
        wanted = params.get(name)
        match = next((v for v in values if slugify(v) == wanted), None)
        if match is not None:
            chosen[name] = match
    return chosen
