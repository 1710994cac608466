"""What one session shows, for comparing distributions of sessions: pure functions of a `Session`.

Real logs (OPeRA) and the embedded world name their elements differently, so every click gets a
*category* in one shared vocabulary, OPeRA's `click_type` (review, filter, product_link, purchase, ...):

- an imported OPeRA step keeps its own `meta["click_type"]`;
- any other click is categorised by its `name`: the first rule of `CLICK_RULES` whose name prefix
  matches (`sort.top_rated` -> filter), else the name's first segment before `.` (`back_to_results`).
  An element with no counterpart in the real vocabulary keeps its own segment, so a behaviour only
  the simulation shows stays visible as its own category instead of being hidden in a real one.

A visit *ends in a purchase* when its last action is a purchase click: a click whose OPeRA click_type is
`purchase` (OPeRA closes a session at that click), or in the embedded world `buy_now` or
`checkout.place_order` (the store's `/buy` and `/order/place`, the two clicks that end a visit there;
see `world/store.py`). Adding to the cart is not a purchase.

    >>> from shop_r1.schema import Action, Step
    >>> click_category(Step(Action("click", name="refinements.price.under_25")))
    'filter'
    >>> click_category(Step(Action("click", name="reviews.x"), meta={"click_type": "other"}))
    'other'
"""

from __future__ import annotations

from dataclasses import dataclass

from shop_r1.schema import ActionType, Session, Step

__all__ = [
    "CLICK_RULES", "ENDINGS", "FUNNEL_STAGES", "PURCHASE_NAMES", "SessionFeatures", "click_category",
    "funnel_depth", "is_purchase_click", "session_features",
]

# (name prefix, category), first match wins. Left: the embedded world's names; right: OPeRA's click_type.
# `sort` counts as a filter because OPeRA files sort controls under its refinements toolbar.
CLICK_RULES: tuple[tuple[str, str], ...] = (
    ("nav_bar.search", "search"),
    ("cart.proceed_to_checkout", "purchase"),  # OPeRA: `check_out` is a purchase click
    ("search_results", "product_link"),
    ("refinements", "filter"),
    ("sort", "filter"),
    ("reviews", "review"),
    ("product_options", "product_option"),
    ("add_to_cart", "purchase"),  # OPeRA: buybox add_to_cart is a purchase click
    ("buy_now", "purchase"),
    ("checkout", "purchase"),
    ("cart", "cart_page_select"),
    ("pagination", "page_related"),
    ("nav_bar", "nav_bar"),
)
PURCHASE_NAMES = frozenset({"buy_now", "checkout.place_order"})
FUNNEL_STAGES = ("search", "product", "cart", "purchase")
ENDINGS = ("purchase", "terminate", "cut_off")  # cut_off: the log stops without either

# Evidence for funnel stages, by click category (a search is also any type_and_submit).
_STAGE_CATEGORIES = {
    "search": frozenset({"search", "suggested_term"}),
    "product": frozenset({"product_link", "review", "product_option"}),
    "cart": frozenset({"cart_side_bar", "cart_page_select", "quantity"}),
}
# Clicks that put something in the cart or open it, by name segment (both vocabularies).
_CART_SEGMENTS = frozenset({"add_to_cart", "cart", "go_to_cart", "cart_button", "check_out", "checkout",
                            "proceed_to_checkout"})


def _matches(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def click_category(step: Step) -> str:
    """The step's click category (see the module docstring); `""` for a step that is not a click."""
    if step.action.type is not ActionType.CLICK:
        return ""
    click_type = step.meta.get("click_type")
    if isinstance(click_type, str) and click_type:
        return click_type
    name = step.action.name or ""
    for prefix, category in CLICK_RULES:
        if _matches(name, prefix):
            return category
    return name.split(".", 1)[0]


def is_purchase_click(step: Step) -> bool:
    """A click that buys: OPeRA click_type `purchase`, or a world name in `PURCHASE_NAMES`."""
    if step.action.type is not ActionType.CLICK:
        return False
    if step.meta.get("click_type") == "purchase":
        return True
    return (step.action.name or "") in PURCHASE_NAMES


def _stage_of(step: Step) -> int:
    """The deepest funnel stage (1-based index into FUNNEL_STAGES) this one step proves, 0 for none."""
    if step.action.type is ActionType.TYPE_AND_SUBMIT:
        return 1
    if step.action.type is not ActionType.CLICK:
        return 0
    category = click_category(step)
    segments = set((step.action.name or "").split("."))
    if category in _STAGE_CATEGORIES["cart"] or segments & _CART_SEGMENTS:
        return 3
    if category in _STAGE_CATEGORIES["product"]:
        return 2
    if category in _STAGE_CATEGORIES["search"]:
        return 1
    return 0


def funnel_depth(session: Session) -> int:
    """How far the visit got: 0 nowhere, 1 search, 2 product, 3 cart, 4 purchase.

    "Reached" means *at least this far*: a `buy_now` purchase passed the cart stage although it never
    opened the cart, and a visit that starts on a product page counts as past search.
    """
    if ending(session) == "purchase":
        return len(FUNNEL_STAGES)
    return max((_stage_of(step) for step in session.steps), default=0)


def ending(session: Session) -> str:
    """How the visit ends: `purchase`, `terminate` or `cut_off` (see ENDINGS)."""
    last = session.steps[-1]
    if is_purchase_click(last):
        return "purchase"
    if last.action.type is ActionType.TERMINATE:
        return "terminate"
    return "cut_off"


@dataclass(frozen=True, slots=True)
class SessionFeatures:
    """Everything the realism metrics read from one session."""

    action_types: tuple[str, ...]
    click_categories: tuple[str, ...]
    length: int
    searches: int
    query_lengths: tuple[int, ...]  # words per type_and_submit text
    ending: str
    depth: int  # funnel_depth
    terminate_step: int | None  # 1-based step of the terminate, when the visit ends with one
    leave_stage: str | None  # for a terminated visit: the deepest stage reached before leaving ("none" if none)


def session_features(session: Session) -> SessionFeatures:
    steps = session.steps
    types = tuple(step.action.type.value for step in steps)
    queries = [step.action.text or "" for step in steps if step.action.type is ActionType.TYPE_AND_SUBMIT]
    end = ending(session)
    depth = funnel_depth(session)
    terminated = end == "terminate"
    return SessionFeatures(
        action_types=types,
        click_categories=tuple(click_category(s) for s in steps if s.action.type is ActionType.CLICK),
        length=len(steps),
        searches=len(queries),
        query_lengths=tuple(len(text.split()) for text in queries),
        ending=end,
        depth=depth,
        terminate_step=len(steps) if terminated else None,
        leave_stage=(("none", *FUNNEL_STAGES)[depth] if terminated else None),
    )
