"""The embedded store: catalog, search, and the environment's reset/step contract."""

from __future__ import annotations

import pytest

from shop_r1.errors import ShopR1Error
from shop_r1.schema import Action
from shop_r1.world.catalog import build_catalog
from shop_r1.world.search import SearchEngine, SearchQuery
from shop_r1.world.store import InvalidActionError, Store, StoreConfig
from shop_r1.world.vocab import CATEGORIES


@pytest.fixture(scope="module")
def catalog():
    return build_catalog(seed=0)


@pytest.fixture(scope="module")
def engine(catalog):
    return SearchEngine(catalog)


@pytest.fixture()
def store(catalog, engine):
    return Store(catalog, engine=engine)


def test_catalog_size_and_categories(catalog) -> None:
    assert len(catalog) == 600
    assert {p.category for p in catalog.products} == {c.key for c in CATEGORIES}
    assert len(CATEGORIES) >= 10


def test_catalog_deterministic(catalog) -> None:
    assert build_catalog(seed=0) == catalog
    assert build_catalog(seed=1).products[0] != catalog.products[0]


def test_product_fields(catalog) -> None:
    product = catalog.products[0]
    assert product.brand in product.title and product.price_cents > 0
    assert 1.0 <= product.rating <= 5.0 and product.review_count > 0
    assert product.options and all(product.options.values())


@pytest.mark.parametrize(
    ("query", "category"),
    [("wireless headphones", "headphones"), ("headphnes", "headphones"), ("sneakers", "running-shoes"),
     ("tee", "t-shirts"), ("yoga mat", "yoga-mats")],
    ids=["terms", "typo", "synonym-sneakers", "synonym-tee", "two-words"],
)
def test_search_finds_category(engine, query: str, category: str) -> None:
    result = engine.search(SearchQuery(q=query), per_page=5)
    assert result.total > 0 and all(p.category == category for p in result.products)


def test_search_nonsense_is_empty(engine) -> None:
    assert engine.search(SearchQuery(q="xyzzy qwerty"), per_page=5).total == 0


def test_filters_sort_and_pages(engine) -> None:
    query = SearchQuery(q="headphones", price="25-50", sort="price_asc")
    result = engine.search(query, per_page=4)
    prices = [p.price_cents for p in result.products]
    assert prices == sorted(prices) and all(2500 <= c < 5000 for c in prices)
    second = engine.search(SearchQuery(q="headphones", price="25-50", sort="price_asc", page=2), per_page=4)
    assert not {p.pid for p in result.products} & {p.pid for p in second.products} and result.pages >= 2


def test_url_round_trip() -> None:
    query = SearchQuery(q="red shoes", brand="norra", rating=4, filters=(("colour", "red"),), sort="rating", page=3)
    params = dict(p.split("=") for p in query.to_url().split("?")[1].split("&"))
    params = {k: v.replace("+", " ") for k, v in params.items()}
    assert SearchQuery.from_params(params) == query


def test_reset_gives_home(store) -> None:
    page = store.reset()
    assert page.kind == "home" and page.url == "https://shop.example/"
    assert "search_input" in page.elements and "categories.headphones" in page.elements


def test_full_purchase_flow(store) -> None:
    store.reset()
    page = store.step(Action("type_and_submit", name="search_input", text="wireless headphones"))
    assert page.kind == "search" and page.url.endswith("/search?q=wireless+headphones")
    page = store.step(Action("click", name="search_results.item_1"))
    assert page.kind == "product" and "add_to_cart" in page.elements
    page = store.step(Action("click", name="add_to_cart"))
    assert page.kind == "cart" and len(page.cart) == 1
    page = store.step(Action("click", name="cart.proceed_to_checkout"))
    assert page.kind == "checkout"
    page = store.step(Action("click", name="checkout.place_order"))
    assert page.kind == "confirmation" and store.done and len(store.purchased) == 1


def test_option_and_filter_clicks(store) -> None:
    store.reset()
    page = store.step(Action("type_and_submit", name="search_input", text="t-shirt"))
    brand = page.names_with_prefix("refinements.brand.")[0]
    page = store.step(Action("click", name=brand))
    assert "brand=" in page.url and page.search is not None and page.search.query.brand
    page = store.step(Action("click", name="search_results.item_1"))
    size = page.names_with_prefix("product_options.size.")[-1]
    page = store.step(Action("click", name=size))
    assert page.elements[size].attrs["aria-checked"] == "true"


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (Action("click", name="no_such_button"), "no element named 'no_such_button'"),
        (Action("type_and_submit", name="nav_bar.cart", text="hello"), "not a text input"),
        (Action("click", name="search_inpt"), "did you mean search_input"),
    ],
    ids=["unknown-name", "type-into-link", "suggests-close-name"],
)
def test_invalid_actions(store, action: Action, message: str) -> None:
    store.reset()
    with pytest.raises(InvalidActionError, match=message) as info:
        store.step(action)
    assert isinstance(info.value, ShopR1Error)
    assert store.page.kind == "home" and not store.done  # a bad action changes nothing


def test_terminate_ends_visit(store) -> None:
    store.reset()
    store.step(Action("terminate"))
    with pytest.raises(InvalidActionError, match="visit is over"):
        store.step(Action("click", name="nav_bar.home"))


def test_clicking_text_input_keeps_page(store) -> None:
    page = store.reset()
    assert store.step(Action("click", name="search_input")) is page


@pytest.mark.parametrize("kind", ["home", "search", "product", "cart", "checkout"], ids=str)
def test_default_pages_compact(catalog, engine, kind: str) -> None:
    store = Store(catalog, engine=engine)
    pages = {"home": store.page}
    pages["search"] = store.step(Action("type_and_submit", name="search_input", text="running shoes"))
    pages["product"] = store.step(Action("click", name="search_results.item_1"))
    pages["cart"] = store.step(Action("click", name="add_to_cart"))
    pages["checkout"] = store.step(Action("click", name="cart.proceed_to_checkout"))
    page = pages[kind]
    # Search pages (filters, sort, results, pagination) are the longest; the rest stay near 1,200.
    assert len(page.html) <= (1_600 if kind == "search" else 1_400) < len(page.raw_html)
    assert "<script" in page.raw_html and "<script" not in page.html


def test_results_per_page_configurable(catalog, engine) -> None:
    store = Store(catalog, StoreConfig(results_per_page=6), engine=engine)
    page = store.step(Action("type_and_submit", name="search_input", text="backpack"))
    assert len(page.names_with_prefix("search_results.item_")) == 6
