"""Raw HTML of the embedded store's pages, as a real shop would send it.

The markup is deliberately noisy, because the simplifier must earn its keep: nested layout divs with
BEM classes, inline `<style>` and `<script>` (analytics, page state as JSON), tracking attributes
(`data-track`, `data-impression-id`), image placeholders, screen-reader-only spans, and hidden
elements (a cookie banner, a mobile menu, "Sponsored" badges, CSRF inputs).

The semantics the simplifier names elements by are real HTML semantics too: ids on the regions a
shopper acts in (`search-results`, `refinements`, `product-options`, `cart`), `aria-label`s on
groups, roles on clickable cards. So `<li role="link">` inside `<ol id="search-results">` becomes
`search_results.item_2`, and the Colour group inside `product-options` yields
`product_options.colour.black`. Every control carries its target in `href`, `data-href` or
`formaction`, which is how the store resolves a click.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from html import escape
from urllib.parse import urlencode

from shop_r1.html.naming import slugify
from shop_r1.world.catalog import Product, Review, format_price
from shop_r1.world.search import SORTS, SearchResult
from shop_r1.world.vocab import CATEGORIES

__all__ = [
    "CartLine",
    "product_url",
    "render_cart",
    "render_checkout",
    "render_confirmation",
    "render_home",
    "render_not_found",
    "render_product",
    "render_search",
]

SHOP_NAME = "ShopEx"
_STYLE = (
    "<style>.nav{display:flex;gap:8px}.s-card{border:1px solid #ddd;padding:8px}.sr-only{position:absolute;"
    "width:1px;height:1px;overflow:hidden}.d-none{display:none!important}.btn-primary{background:#ffd814}</style>"
)


@dataclass(frozen=True)
class CartLine:
    product: Product
    options: Mapping[str, str]

    @property
    def options_text(self) -> str:
        return ", ".join(f"{name.capitalize()}: {value}" for name, value in self.options.items())


def _a(text: str) -> str:
    return escape(text, quote=True)


def _impression(*parts: object) -> str:
    """A tracking id that looks random but is fixed by what it tracks (output stays reproducible)."""
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:16]


def _script(event: str, payload: Mapping[str, object]) -> str:
    data = json.dumps({"event": event, **payload}, sort_keys=True).replace("</", "<\\/")
    return f"<script>window.dataLayer=window.dataLayer||[];dataLayer.push({data});</script>"


def product_url(product: Product, options: Mapping[str, str] | None = None, **extra: str) -> str:
    params = [(name, slugify(value)) for name, value in (options or {}).items()]
    params += sorted(extra.items())
    return f"/p/{product.pid}" + (f"?{urlencode(params)}" if params else "")


def _document(title: str, kind: str, main: str, *, query: str = "", cart_count: int = 0) -> str:
    nav = (
        '<header class="site-header" data-track="header"><div class="nav-wrap"><div class="nav-inner">'
        '<nav id="nav-bar" class="nav" aria-label="Main">'
        '<a href="/" class="nav-logo" aria-label="Home" data-track="nav_logo">'
        f'<img src="/static/logo.svg" alt="" width="90"><span class="nav-logo__text">{SHOP_NAME}</span></a>'
        '<form class="nav-search" action="/search" method="get" role="search">'
        '<input type="hidden" name="ref" value="nav_sb">'
        '<label for="search-input" class="sr-only">Search</label>'
        f'<input id="search-input" class="nav-input" type="search" name="q" value="{_a(query)}" '
        'placeholder="Search" autocomplete="off" data-track="search_box">'
        '<button class="nav-submit" type="submit" aria-label="Search"><i class="icon-search" aria-hidden="true">'
        '</i></button></form>'
        '<a href="/cart" class="nav-cart" aria-label="Cart" data-track="nav_cart">'
        f'<i class="icon-cart" aria-hidden="true"></i><span class="nav-cart__count">Cart ({cart_count})</span></a>'
        '</nav></div>'
        '<div class="mobile-menu d-none"><a href="/account">Account</a><a href="/orders">Orders</a></div>'
        '</div></header>'
    )
    cookie = (
        '<div id="cookie-banner" class="cookie-banner" hidden><p>We use cookies.</p>'
        '<button class="cookie-accept">Accept</button></div>'
    )
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)} | {SHOP_NAME}</title>'
        '<meta name="viewport" content="width=device-width"><link rel="stylesheet" href="/static/main.css">'
        f"{_STYLE}{_script('page_view', {'page': kind})}</head>"
        f'<body class="page page--{kind}"><div id="root">{nav}'
        f'<main class="main-content" role="main"><div class="container"><div class="row">{main}</div></div></main>'
        f"{cookie}</div>"
        '<script src="/static/bundle.js" async></script>'
        "<script>(function(){var t=Date.now();window.addEventListener('load',function(){})})();</script>"
        "</body></html>"
    )


def _card(product: Product, position: int, list_name: str) -> str:
    count = f"{product.review_count:,}"
    return (
        f'<li class="s-card s-result-item" role="link" tabindex="0" data-href="{_a(product_url(product))}" '
        f'data-pid="{product.pid}" data-position="{position}" '
        f'data-impression-id="{_impression(list_name, product.pid, position)}" onclick="sr.go(this)">'
        '<div class="s-card__inner"><div class="s-card__media">'
        f'<img src="https://img.shop.example/{product.pid}.jpg" alt="" loading="lazy"></div>'
        f'<div class="s-card__body"><h2 class="s-card__title"><span>{escape(product.title)}</span></h2>'
        f'<div class="s-card__meta"><span class="price" aria-hidden="true">{product.price_text}</span>'
        f'<span class="sr-only">Price {product.price_text}</span> · '
        f'<span class="rating" title="{product.rating} out of 5 stars">{product.rating}★ ({count})</span></div>'
        '<span class="badge badge--sponsored" style="display: none">Sponsored</span>'
        "</div></div></li>"
    )


def render_home(featured: Sequence[Product], *, categories: int, cart_count: int) -> str:
    links = "".join(
        f'<a class="cat-tile" href="/search?{urlencode({"category": c.key})}" data-track="home_cat">'
        f"<span>{escape(c.label)}</span></a>"
        for c in CATEGORIES[:categories]
    )
    deals = "".join(_card(p, i, "deals") for i, p in enumerate(featured, 1))
    main = (
        '<div class="home"><div class="hero"><h1 class="hero__title">Welcome to ShopEx</h1>'
        '<p class="hero__sub">Free delivery on orders over $35</p></div>'
        f'<nav id="categories" class="cat-grid" aria-label="Shop by category"><h2>Shop by category</h2>{links}</nav>'
        f'<section id="deals" class="deals" aria-label="Today\'s deals"><h2>Today\'s deals</h2>'
        f'<ol class="deals__list">{deals}</ol></section></div>'
    )
    return _document("Home", "home", main, cart_count=cart_count)


def _refinements(result: SearchResult) -> str:
    query = result.query
    groups = []
    for facet in result.facets:
        links = " ".join(
            f'<a class="facet__link" href="{_a(query.with_filter(facet.key, value).to_url())}" '
            f'data-track="facet_{facet.key}"><span class="facet__text">{escape(text)}</span></a>'
            for value, text, _ in facet.values
        )
        groups.append(
            f'<div class="facet" role="group" aria-label="{_a(facet.label)}">'
            f'<span class="facet__title">{escape(facet.label)}:</span> {links}</div>'
        )
    if query.has_filters:
        groups.append(f'<a class="facet__clear" href="{_a(_cleared(result))}">Clear filters</a>')
    if not groups:
        return ""
    return f'<div id="refinements" class="s-refinements" aria-label="Filters">{"".join(groups)}</div>'


def _cleared(result: SearchResult) -> str:
    query = result.query
    for key in ("brand", "price", "rating", *(k for k, _ in query.filters)):
        query = query.with_filter(key, None)
    return query.to_url()


def _sort_bar(result: SearchResult, sorts: Sequence[str]) -> str:
    current = result.query.sort
    items = []
    for key in sorts:
        label = SORTS[key]
        if key == current:
            items.append(f'<span class="sort__current" aria-current="true">{escape(label)}</span>')
        else:
            href = _a(replace(result.query, sort=key, page=1).to_url())
            items.append(f'<a class="sort__opt" href="{href}" data-track="sort">{escape(label)}</a>')
    return f'<div id="sort" class="sort" role="group" aria-label="Sort by">Sort: {" | ".join(items)}</div>'


def _pagination(result: SearchResult) -> str:
    if result.pages <= 1:
        return ""
    page = result.query.page
    parts = []

    def link(target: int, text: str) -> str:
        href = _a(replace(result.query, page=target).to_url())
        return f'<a class="pg__link" href="{href}">{text}</a>'

    if page > 1:
        parts.append(link(page - 1, "Previous"))
    for number in range(max(1, page - 1), min(result.pages, page + 1) + 1):
        parts.append(f'<span aria-current="page">{number}</span>' if number == page else link(number, str(number)))
    if page < result.pages:
        parts.append(link(page + 1, "Next"))
    return f'<nav id="pagination" class="pg" aria-label="Pagination">{" ".join(parts)}</nav>'


def render_search(result: SearchResult, *, cart_count: int, sorts: Sequence[str] = tuple(SORTS)) -> str:
    query = result.query
    what = f'"{escape(query.q)}"' if query.q else escape(_category_label(query.category))
    if not result.products:
        main = (
            f'<div class="s-empty"><h1>No results for {what}.</h1>'
            "<p>Check the spelling or try fewer words.</p></div>"
            f"{_refinements(result)}"
        )
    else:
        first = (query.page - 1) * len(result.products) + 1 if query.page == 1 else None
        shown = f"{first}-{first + len(result.products) - 1} of " if first else f"Page {query.page}: "
        cards = "".join(_card(p, i, query.to_url()) for i, p in enumerate(result.products, 1))
        main = (
            f'<div class="s-info"><h1 class="s-info__title">{shown}{result.total} results for {what}</h1></div>'
            f'<div class="s-layout"><div class="s-side">{_refinements(result)}</div>'
            f'<div class="s-main">{_sort_bar(result, sorts)}<ol id="search-results" class="s-results">{cards}</ol>'
            f"{_pagination(result)}</div></div>"
        )
    return _document(f"Results for {query.q or _category_label(query.category)}", "search", main,
                     query=query.q, cart_count=cart_count)


def _category_label(key: str | None) -> str:
    return next((c.label for c in CATEGORIES if c.key == key), "all products")


def render_product(
    product: Product,
    selected: Mapping[str, str],
    reviews: Sequence[Review],
    *,
    more_reviews: bool,
    back_url: str | None,
    cart_count: int,
    buy_now: bool = True,
) -> str:
    option_groups = []
    for name, values in product.options.items():
        buttons = " ".join(
            f'<button type="button" class="swatch" role="radio" aria-checked="{str(value == selected[name]).lower()}" '
            f'data-href="{_a(product_url(product, {**selected, name: value}))}">{escape(value)}</button>'
            for value in values
        )
        option_groups.append(
            f'<div class="opt" role="radiogroup" aria-label="{_a(name.capitalize())}">'
            f'<span class="opt__label">{escape(name.capitalize())}: </span>{buttons}</div>'
        )
    details = "".join(
        f'<li><span class="k">{escape(name.capitalize())}:</span> {escape(value)}</li>'
        for name, value in product.attributes.items()
    )
    buy_params = urlencode([("pid", product.pid), *((k, slugify(v)) for k, v in selected.items())])
    review_items = "".join(
        f'<div class="review" data-review-id="{_impression(product.pid, i)}"><span class="review__stars" '
        f'aria-label="{r.stars} out of 5 stars">{"★" * r.stars}{"☆" * (5 - r.stars)}</span> '
        f'<span class="review__title">{escape(r.title)}:</span> <span class="review__body">{escape(r.body)}</span>'
        "</div>"
        for i, r in enumerate(reviews)
    )
    more = (
        f'<a class="reviews__more" href="{_a(product_url(product, selected, reviews="all"))}">See more reviews</a>'
        if more_reviews else ""
    )
    back = (
        f'<div class="breadcrumb"><a id="back-to-results" href="{_a(back_url)}" data-track="bc_back">'
        "‹ Back to results</a></div>" if back_url else ""
    )
    main = (
        f'{back}<div class="ppd" data-pid="{product.pid}"><div class="ppd__media">'
        f'<img src="https://img.shop.example/{product.pid}_main.jpg" alt=""></div>'
        f'<div class="ppd__info"><h1 class="ppd__title"><span id="productTitle">{escape(product.title)}</span></h1>'
        f'<div class="ppd__meta"><span class="price">{product.price_text}</span> · '
        f'<span class="rating">{product.rating} out of 5 stars ({product.review_count:,} ratings)</span></div>'
        f'<ul class="ppd__details">{details}</ul>'
        f'<div id="product-options" class="ppd__options">{"".join(option_groups)}</div>'
        f'<div id="buybox" class="buybox"><form action="/cart/add" method="post">'
        f'<input type="hidden" name="pid" value="{product.pid}"><input type="hidden" name="csrf" '
        f'value="{_impression("csrf", product.pid)}">'
        f'<button id="add-to-cart" class="btn btn-primary" type="submit" formaction="/cart/add?{_a(buy_params)}">'
        "Add to Cart</button> "
        + (f'<button id="buy-now" class="btn btn-buy" type="submit" formaction="/buy?{_a(buy_params)}">Buy Now'
           "</button>" if buy_now else "")
        + "</form></div></div></div>"
        f'<div id="reviews" class="reviews" aria-label="Customer reviews"><h2>Customer reviews</h2>'
        f"{review_items}{more}</div>"
    )
    return _document(product.title, "product", main, cart_count=cart_count)


def render_cart(lines: Sequence[CartLine], *, notice: str | None = None) -> str:
    if not lines:
        body = '<p class="cart__empty">Your cart is empty.</p>'
    else:
        items = "".join(
            f'<li class="cart-line" data-line="{i}"><a class="cart-line__title" '
            f'href="{_a(product_url(line.product, line.options))}">{escape(line.product.title)}</a>'
            f'<div class="cart-line__meta">{escape(line.options_text)} · {line.product.price_text}</div>'
            f'<button type="button" class="cart-line__delete" data-href="/cart/remove?line={i}">Delete</button></li>'
            for i, line in enumerate(lines, 1)
        )
        total = format_price(sum(line.product.price_cents for line in lines))
        count = f"{len(lines)} item{'s' if len(lines) > 1 else ''}"
        body = (
            f'<ul class="cart__lines">{items}</ul><div class="cart__subtotal">Subtotal ({count}): {total}</div>'
            '<a class="btn btn-primary" href="/checkout" data-track="cart_checkout">Proceed to checkout</a>'
        )
    flash = f'<div class="flash" role="status">{escape(notice)}</div>' if notice else ""
    main = (
        f'<div id="cart" class="cart">{flash}<h1>Shopping Cart</h1>{body} '
        '<a class="cart__continue" href="/">Continue shopping</a></div>'
    )
    return _document("Shopping Cart", "cart", main, cart_count=len(lines))


def render_checkout(lines: Sequence[CartLine], *, shopper: str) -> str:
    items = "".join(
        f"<li>{escape(line.product.title)} ({escape(line.options_text)}) {line.product.price_text}</li>"
        for line in lines
    )
    total = format_price(sum(line.product.price_cents for line in lines))
    main = (
        f'<div id="checkout" class="checkout"><h1>Checkout</h1>'
        f'<div class="checkout__ship">Ship to: {escape(shopper)}, 12 Example Street</div>'
        f'<ul class="checkout__items">{items}</ul><div class="checkout__total">Order total: {total}</div>'
        '<button type="button" class="btn btn-primary" data-href="/order/place">Place order</button> '
        '<a href="/cart" class="checkout__back">Back to cart</a></div>'
    )
    return _document("Checkout", "checkout", main, cart_count=len(lines))


def render_confirmation(lines: Sequence[CartLine]) -> str:
    titles = ", ".join(escape(line.product.title) for line in lines)
    main = (
        '<div id="order-confirmation" class="confirm"><h1>Thank you, your order has been placed.</h1>'
        f'<p>{titles}</p><a href="/">Continue shopping</a></div>'
    )
    return _document("Order placed", "confirmation", main)


def render_not_found(path: str, *, cart_count: int) -> str:
    main = f'<div class="nf"><h1>Page not found</h1><p>{escape(path)} does not exist.</p></div>'
    return _document("Not found", "not_found", main, cart_count=cart_count)
