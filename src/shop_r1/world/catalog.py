"""A procedurally generated product catalog, the same for the same seed.

Products are spread evenly over the categories of `vocab`. Each has a brand, a title built from its
attributes (some attributes stay out of the title, so a shopper must open the page to learn them),
a price, a rating with a review count, fixed attributes and purchasable options. Reviews are made on
demand from the product's own random stream, so they cost nothing until a page shows them.

    >>> catalog = build_catalog(seed=0, n_products=24)
    >>> product = catalog.products[0]
    >>> product.pid, product.category
    ('P0001', 'headphones')
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from shop_r1.world.rng import stream
from shop_r1.world.vocab import CATEGORIES, CATEGORY_BY_KEY, SHARED_BRANDS, CategorySpec

__all__ = ["Catalog", "Product", "Review", "build_catalog", "format_price"]

DEFAULT_N_PRODUCTS = 600
# Words kept as written in titles (acronyms, model names); everything else is capitalised.
_KEEP_CASE = frozenset({"iPhone", "LED", "USB", "TPE", "PVC", "BPA-free", "ml", "L"})
_REVIEW_TITLES: Mapping[int, tuple[str, ...]] = MappingProxyType({
    5: ("Love it", "Excellent", "Exactly what I wanted", "Five stars"),
    4: ("Very good", "Solid choice", "Happy with it", "Good value"),
    3: ("It's okay", "Mixed feelings", "Average", "Does the job"),
    2: ("Disappointed", "Not great", "Expected more"),
    1: ("Returned it", "Would not buy again", "Poor quality"),
})
_REVIEW_BODIES: Mapping[bool, tuple[str, ...]] = MappingProxyType({
    True: ("The {aspect} is great.", "Really impressed by the {aspect}.", "The {aspect} is better than expected."),
    False: ("The {aspect} could be better.", "Not happy with the {aspect}.", "The {aspect} let me down."),
})


def format_price(cents: int) -> str:
    """`5999` -> `'$59.99'`."""
    return f"${cents // 100:,}.{cents % 100:02d}"


@dataclass(frozen=True)
class Review:
    stars: int
    title: str
    body: str
    aspect: str


@dataclass(frozen=True)
class Product:
    pid: str
    category: str
    brand: str
    title: str
    price_cents: int
    rating: float
    review_count: int
    attributes: Mapping[str, str]
    options: Mapping[str, tuple[str, ...]]

    @property
    def spec(self) -> CategorySpec:
        return CATEGORY_BY_KEY[self.category]

    @property
    def kind(self) -> str:
        """The product type (`over-ear headphones`)."""
        return self.attributes[self.spec.type_attribute]

    @property
    def price_text(self) -> str:
        return format_price(self.price_cents)

    def default_options(self) -> dict[str, str]:
        return {name: values[0] for name, values in self.options.items()}


@dataclass(frozen=True)
class Catalog:
    seed: int
    products: tuple[Product, ...]
    _by_id: Mapping[str, Product] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", MappingProxyType({p.pid: p for p in self.products}))

    def get(self, pid: str) -> Product | None:
        return self._by_id.get(pid)

    def __len__(self) -> int:
        return len(self.products)

    def brands(self, category: str | None = None) -> list[str]:
        """Brand names in first-seen order (stable for a seed)."""
        seen: dict[str, None] = {}
        for product in self.products:
            if category is None or product.category == category:
                seen.setdefault(product.brand, None)
        return list(seen)

    def reviews(self, product: Product, count: int) -> list[Review]:
        """The first `count` reviews of a product, most helpful first; the same on every call."""
        rng = stream(self.seed, "reviews", product.pid)
        aspects = product.spec.aspects
        out = []
        for _ in range(count):
            stars = max(1, min(5, round(rng.gauss(product.rating, 0.9))))
            aspect = rng.choice(aspects)
            body = rng.choice(_REVIEW_BODIES[stars >= 4]).format(aspect=aspect)
            out.append(Review(stars=stars, title=rng.choice(_REVIEW_TITLES[stars]), body=body, aspect=aspect))
        return out


def _title_case(words: str) -> str:
    def cap(word: str) -> str:
        if word in _KEEP_CASE or word == "for" or not word.islower():
            return word
        return "-".join(part[:1].upper() + part[1:] for part in word.split("-"))

    return " ".join(cap(w) for w in words.split())


def _make_title(brand: str, spec: CategorySpec, attributes: Mapping[str, str], shown: list[str]) -> str:
    kind = attributes[spec.type_attribute]
    # "glass" adds nothing to "glass water bottle"; real titles do not repeat it either.
    before = [attributes[name] for name in shown if name != "model" and attributes[name] not in kind]
    title = " ".join([brand, *before, kind])
    if "model" in attributes:  # phone cases name the phone they fit at the end, as shops do
        title += f" for {attributes['model']}"
    return _title_case(title)


def _make_product(index: int, spec: CategorySpec, rng_seed: int) -> Product:
    rng = stream(rng_seed, "product", index)
    brand = rng.choice(SHARED_BRANDS) if rng.random() < 0.15 else rng.choice(spec.brands)
    attributes = {name: rng.choice(values) for name, values in spec.attributes.items()}
    others = [name for name in spec.attributes if name != spec.type_attribute]
    # The model always shows (a case must name its phone); others appear in the title 60% of the time.
    shown = [name for name in others if name == "model" or rng.random() < 0.6]
    options = {}
    for name, values in spec.options.items():
        count = rng.randint(min(2, len(values)), len(values))
        chosen = set(rng.sample(range(len(values)), count))
        options[name] = tuple(v for i, v in enumerate(values) if i in chosen)  # vocabulary order
    low, high = spec.price_range
    dollars = math.exp(rng.uniform(math.log(low), math.log(high)))
    if brand == spec.brands[0]:
        dollars *= 1.25  # each category's first brand is its premium label
    cents = max(499, int(dollars) * 100 + rng.choice((99, 99, 49, 95, 0)))
    rating = round(min(5.0, max(2.1, rng.gauss(4.2, 0.45))), 1)
    review_count = int(math.exp(rng.uniform(math.log(3), math.log(25_000))))
    return Product(
        pid=f"P{index + 1:04d}",
        category=spec.key,
        brand=brand,
        title=_make_title(brand, spec, attributes, shown),
        price_cents=cents,
        rating=rating,
        review_count=review_count,
        attributes=MappingProxyType(attributes),
        options=MappingProxyType(options),
    )


def build_catalog(seed: int = 0, n_products: int = DEFAULT_N_PRODUCTS) -> Catalog:
    """`n_products` products over all categories (round robin), determined by `seed`."""
    if n_products < len(CATEGORIES):
        raise ValueError(f"n_products must be at least {len(CATEGORIES)} (one per category), got {n_products}")
    products = tuple(_make_product(i, CATEGORIES[i % len(CATEGORIES)], seed) for i in range(n_products))
    return Catalog(seed=seed, products=products)
