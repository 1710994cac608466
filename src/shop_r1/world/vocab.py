"""The embedded store's own vocabularies: categories, brands, attributes, options, review aspects.

Everything here is invented for shop-r1 (brand names included) so that the catalog, the shoppers'
goals and their queries share one consistent world. A category lists:

- `attributes`: fixed properties of a product (`connectivity: wireless`); the first one is the
  product type, which names the item in titles and goals;
- `options`: what the buyer picks on the product page (`colour`, `size`);
- `aliases`: other words shoppers use for the category or a type (`sneakers`, `tee`), which the
  search engine also understands.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["CATEGORIES", "CATEGORY_BY_KEY", "CategorySpec", "SHARED_BRANDS"]


@dataclass(frozen=True)
class CategorySpec:
    key: str
    label: str
    attributes: Mapping[str, tuple[str, ...]]
    options: Mapping[str, tuple[str, ...]]
    price_range: tuple[int, int]  # dollars, before the attribute markups of `catalog`
    brands: tuple[str, ...]
    aspects: tuple[str, ...]  # what reviews talk about
    aliases: Mapping[str, tuple[str, ...]]  # word -> other words for it (category label or type)

    @property
    def type_attribute(self) -> str:
        return next(iter(self.attributes))


def _spec(
    key: str,
    label: str,
    attributes: dict[str, tuple[str, ...]],
    options: dict[str, tuple[str, ...]],
    price_range: tuple[int, int],
    brands: tuple[str, ...],
    aspects: tuple[str, ...],
    aliases: dict[str, tuple[str, ...]],
) -> CategorySpec:
    return CategorySpec(
        key, label, MappingProxyType(attributes), MappingProxyType(options), price_range, brands, aspects,
        MappingProxyType(aliases),
    )


# Brands sold in every category, so that a brand-loyal shopper can meet a favourite anywhere.
SHARED_BRANDS: tuple[str, ...] = ("Northwind", "Everyday Basics", "Lumen & Oak")

CATEGORIES: tuple[CategorySpec, ...] = (
    _spec(
        "headphones", "Headphones",
        {"type": ("over-ear headphones", "on-ear headphones", "earbuds"),
         "connectivity": ("wireless", "wired"),
         "feature": ("noise cancelling", "sport", "studio", "foldable")},
        {"colour": ("black", "white", "blue", "silver")},
        (15, 220), ("Sonora", "Auralis", "BassHaus", "Kestrel Audio", "Velto", "Quietline"),
        ("sound", "comfort", "battery life", "bass", "noise cancelling"),
        {"headphones": ("headset",), "earbuds": ("in-ear headphones", "earphones")},
    ),
    _spec(
        "running-shoes", "Running Shoes",
        {"type": ("road running shoes", "trail running shoes"),
         "cushioning": ("light", "balanced", "max"),
         "upper": ("mesh", "knit")},
        {"size": ("7", "8", "9", "10", "11", "12"), "colour": ("black", "grey", "red", "blue")},
        (40, 180), ("Stridewell", "Trailhawk", "Fleetfoot", "Norra", "Pacer & Co", "Vantage"),
        ("fit", "grip", "cushioning", "durability"),
        {"running shoes": ("sneakers", "trainers", "runners")},
    ),
    _spec(
        "backpacks", "Backpacks",
        {"type": ("laptop backpack", "hiking backpack", "travel backpack"),
         "capacity": ("20L", "30L", "40L"),
         "material": ("nylon", "canvas", "polyester")},
        {"colour": ("black", "navy", "olive", "grey")},
        (20, 150), ("Packwell", "Summit Supply", "Rover", "Cairn", "Urbanite", "Duffel Bros"),
        ("straps", "zippers", "pockets", "durability"),
        {"backpack": ("rucksack", "daypack", "bag")},
    ),
    _spec(
        "coffee-makers", "Coffee Makers",
        {"type": ("drip coffee maker", "espresso machine", "single-serve coffee maker", "french press"),
         "capacity": ("1 cup", "4 cups", "12 cups"),
         "material": ("stainless steel", "plastic", "glass")},
        {"colour": ("black", "silver", "red")},
        (20, 380), ("Brewmaster", "Crema", "Morning Ritual", "Kaffa", "Perko", "Steamline"),
        ("taste", "brewing speed", "cleaning", "build quality"),
        {"coffee maker": ("coffee machine", "coffeemaker")},
    ),
    _spec(
        "t-shirts", "T-Shirts",
        {"type": ("crew neck t-shirt", "v-neck t-shirt", "long sleeve t-shirt"),
         "material": ("cotton", "polyester", "linen blend"),
         "fit": ("slim", "regular", "relaxed")},
        {"size": ("XS", "S", "M", "L", "XL"), "colour": ("white", "black", "navy", "grey", "green")},
        (8, 40), ("Threadline", "Basico", "Cotton Club", "Loomworks", "Plainly", "Tidewear"),
        ("fabric", "fit", "colour after washing", "stitching"),
        {"t-shirt": ("tee", "tshirt", "shirt")},
    ),
    _spec(
        "desk-lamps", "Desk Lamps",
        {"type": ("LED desk lamp", "clamp lamp", "architect lamp"),
         "feature": ("dimmable", "USB charging", "touch control"),
         "finish": ("metal", "plastic", "wood")},
        {"colour": ("black", "white", "brass")},
        (15, 120), ("Brightwell", "Lumio", "Arclight", "Glowforge Home", "Halo", "Desk & Co"),
        ("brightness", "stability", "colour temperature", "build quality"),
        {"lamp": ("light", "reading light")},
    ),
    _spec(
        "water-bottles", "Water Bottles",
        {"type": ("insulated water bottle", "sports bottle", "travel water bottle"),
         "capacity": ("500ml", "750ml", "1L"),
         "material": ("stainless steel", "BPA-free plastic", "glass")},
        {"colour": ("black", "teal", "pink", "white")},
        (8, 45), ("Hydrova", "Aquila", "Trailflask", "Sipwell", "Coolcore", "Brookside"),
        ("insulation", "lid", "leaks", "cleaning"),
        {"water bottle": ("bottle", "flask", "tumbler")},
    ),
    _spec(
        "yoga-mats", "Yoga Mats",
        {"type": ("yoga mat", "travel yoga mat", "exercise mat"),
         "thickness": ("3mm", "6mm", "10mm"),
         "material": ("TPE", "natural rubber", "PVC", "cork")},
        {"colour": ("purple", "black", "blue", "green")},
        (15, 110), ("Zenflex", "Asana Works", "Groundwell", "Lotus Line", "Mattea", "Balancia"),
        ("grip", "cushioning", "smell", "durability"),
        {"yoga mat": ("exercise mat", "workout mat", "pilates mat")},
    ),
    _spec(
        "phone-cases", "Phone Cases",
        {"type": ("slim case", "rugged case", "wallet case", "clear case"),
         "model": ("iPhone 15", "Galaxy S24", "Pixel 8"),
         "material": ("silicone", "leather", "polycarbonate")},
        {"colour": ("black", "red", "clear", "blue")},
        (8, 60), ("Shellguard", "Casely", "Armorlite", "Pocketry", "Gripton", "Slimfit Labs"),
        ("protection", "grip", "button feel", "fit"),
        {"case": ("cover", "phone cover")},
    ),
    _spec(
        "cookware", "Cookware",
        {"type": ("frying pan", "skillet", "saute pan"),
         "material": ("non-stick", "cast iron", "stainless steel"),
         "feature": ("induction-ready", "oven-safe", "dishwasher-safe")},
        {"size": ("8 inch", "10 inch", "12 inch")},
        (15, 150), ("Ironhearth", "Panora", "Chef's Mark", "Searwell", "Copperline", "Kitchen Craft"),
        ("heat distribution", "coating", "handle", "weight"),
        {"frying pan": ("fry pan", "pan"), "skillet": ("pan",)},
    ),
    _spec(
        "bedding", "Bedding",
        {"type": ("sheet set", "duvet cover", "fitted sheet"),
         "material": ("cotton percale", "cotton sateen", "linen", "microfiber")},
        {"size": ("twin", "full", "queen", "king"), "colour": ("white", "grey", "sage", "navy")},
        (25, 200), ("Dreamweave", "Linenhaus", "Slumberly", "Nestwell", "Cloud Nine", "Restora"),
        ("softness", "breathability", "fit", "wrinkles"),
        {"sheet set": ("sheets", "bed sheets"), "duvet cover": ("comforter cover",)},
    ),
    _spec(
        "jackets", "Jackets",
        {"type": ("puffer jacket", "parka", "fleece jacket", "rain jacket"),
         "warmth": ("lightweight", "midweight", "heavyweight"),
         "feature": ("waterproof", "hooded", "packable")},
        {"size": ("S", "M", "L", "XL"), "colour": ("black", "navy", "olive", "red")},
        (40, 300), ("Polaris", "Ridgeline", "Boreal", "Stormcrest", "Alpenwear", "Driftwood"),
        ("warmth", "fit", "zipper", "water resistance"),
        {"jacket": ("coat",), "rain jacket": ("raincoat",)},
    ),
)

CATEGORY_BY_KEY: Mapping[str, CategorySpec] = MappingProxyType({c.key: c for c in CATEGORIES})

# Price bands shown as search filters: (key, label, low dollars, high dollars or None).
PRICE_BANDS: tuple[tuple[str, str, int, int | None], ...] = (
    ("0-25", "Under $25", 0, 25),
    ("25-50", "$25 to $50", 25, 50),
    ("50-100", "$50 to $100", 50, 100),
    ("100-200", "$100 to $200", 100, 200),
    ("200-", "$200 & above", 200, None),
)

FIRST_NAMES: tuple[str, ...] = (
    "Alex", "Sam", "Priya", "Jordan", "Mei", "Carlos", "Fatima", "Noah", "Lena", "Omar", "Grace", "Tomás",
    "Aisha", "Ben", "Yuki", "Chloe", "Ravi", "Ines", "Mateo", "Hana",
)
OCCUPATIONS: tuple[str, ...] = (
    "nurse", "software developer", "graduate student", "teacher", "retired engineer", "freelance designer",
    "sales manager", "electrician", "parent of two", "barista", "accountant", "physiotherapist",
)
