"""A stochastic shopper policy acting on rendered store pages by element name.

At each page the shopper reads what a person would (titles, prices, ratings on a results page; the
full details, options and reviews on a product page), weighs the moves open to it according to its
traits and goal, and samples one. Every decision carries its true reason as a code plus the slots it
was based on; `rationales.write_rationale` turns that into the first-person sentence.

Element names always come from the page itself: a product card is found by the URL it links to
(`Page.name_for`), a filter by the URL it sets, so the policy only ever clicks what is on screen.

Sessions end with a purchase click (`buy_now`, `checkout.place_order`) or a `terminate`: nothing
fits, no results, patience spent, or cold feet in the cart or at checkout.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from typing import Any

from shop_r1.schema import Action
from shop_r1.world.catalog import Product, format_price
from shop_r1.world.pages import product_url
from shop_r1.world.personas import Goal, Persona, describe_item
from shop_r1.world.queries import make_query, refine_specificity
from shop_r1.world.search import SearchResult
from shop_r1.world.store import Page
from shop_r1.world.vocab import PRICE_BANDS

__all__ = ["Decision", "PolicyConfig", "Shopper"]


@dataclass(frozen=True)
class PolicyConfig:
    max_steps: int = 30  # hard cap whatever the patience
    typo_rate: float = 0.08
    browse_rate: float = 0.15  # first move is a category click instead of a search
    max_queries: int = 4


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str
    slots: dict[str, Any]


def _click(name: str, reason: str, **slots: Any) -> Decision:
    return Decision(Action("click", name=name), reason, slots)


def _type(name: str, text: str, reason: str, **slots: Any) -> Decision:
    return Decision(Action("type_and_submit", name=name, text=text), reason, slots)


def _leave(reason: str, **slots: Any) -> Decision:
    return Decision(Action("terminate"), reason, slots)


def _pick(rng: random.Random, options: list[tuple[float, Decision]]) -> Decision:
    options = [(w, d) for w, d in options if w > 0]
    total = sum(w for w, _ in options)
    point = rng.random() * total
    for weight, decision in options:
        point -= weight
        if point < 0:
            return decision
    return options[-1][1]


@dataclass
class _Memory:
    queries: list[str] = field(default_factory=list)
    specificity: str = "exact"
    verdicts: dict[str, str] = field(default_factory=dict)  # pid -> "fits" | rejection reason
    shortlist: list[str] = field(default_factory=list)
    reviews_read: list[str] = field(default_factory=list)
    narrowed: int = 0  # filters and sorts applied to the current query
    frustration: float = 0.0
    target: str | None = None  # the product the shopper has decided on


class Shopper:
    """One shopping visit's decision maker; call `decide(page, step)` until it ends the visit."""

    def __init__(
        self,
        persona: Persona,
        goal: Goal,
        rng: random.Random,
        *,
        favourite_brand: str | None = None,
        config: PolicyConfig | None = None,
    ) -> None:
        self.persona = persona
        self.goal = goal
        self.rng = rng
        self.favourite = favourite_brand if persona.brand_loyalty >= 0.4 else None
        self.config = config or PolicyConfig()
        self.memory = _Memory()
        # Patience in steps: 6 for the most impatient shopper, 21 for the most patient.
        self.step_budget = min(self.config.max_steps, 6 + round(persona.patience * 15))
        self.tolerance = 1 + 0.3 * (1 - persona.price_sensitivity)  # how far over budget is still fine
        self.min_rating = 3.2 + persona.review_reliance

    # Shared facts, in the words rationales use.
    @property
    def item(self) -> str:
        goal = self.goal
        return describe_item(goal.noun, goal.attributes, goal.options, countable=False)

    @property
    def budget(self) -> str:
        return f"${self.goal.budget_cents // 100}"

    def decide(self, page: Page, step: int) -> Decision:
        """The next action on `page`, the `step`-th (0-based) of this visit."""
        in_checkout = page.kind in ("cart", "checkout") and self.memory.target is not None
        if step >= self.config.max_steps - 1 or (step >= self.step_budget and not in_checkout) \
                or step >= self.step_budget + 4:
            return _leave("terminate_out_of_patience")
        handler = {
            "home": self._on_home,
            "search": self._on_search,
            "product": self._on_product,
            "cart": self._on_cart,
            "checkout": self._on_checkout,
        }.get(page.kind, self._on_home)
        return handler(page)

    def _search(self, reason: str, specificity: str) -> Decision:
        memory = self.memory
        query = ""
        for _ in range(4):  # a refinement should differ from what was already tried
            query = make_query(self.goal, specificity, self.rng, favourite_brand=self.favourite,
                               typo_rate=self.config.typo_rate)
            if query not in memory.queries:
                break
        slots: dict[str, Any] = {"query": query, "item": self.item, "specificity": specificity}
        if memory.queries:
            slots["previous"] = memory.queries[-1]
        memory.queries.append(query)
        memory.specificity = specificity
        memory.narrowed = 0
        return _type("search_input", query, reason, **slots)

    def _on_home(self, page: Page) -> Decision:
        memory = self.memory
        if not memory.queries:
            category = page.name_for(f"/search?category={self.goal.category}")
            if category and self.rng.random() < self.config.browse_rate:
                memory.queries.append("")
                memory.specificity = "under"
                return _click(category, "browse_category", category=self.goal.spec.label)
            weights = (0.3, 0.5, 0.2)
            specificity = self.rng.choices(("under", "exact", "over"), weights=weights)[0]
            return self._search("search", specificity)
        if len(memory.queries) >= self.config.max_queries:
            return _leave("terminate_nothing_fits", item=self.item, budget=self.budget)
        return self._search("new_search", self.rng.choice(("under", "exact")))

    # Results pages.
    def _visible_score(self, product: Product, cheapest: int) -> float:
        """How promising a result looks from its title, price and rating alone."""
        goal, persona = self.goal, self.persona
        if product.category != goal.category:
            return -5.0
        title = product.title.lower()
        score = 0.0
        if goal.kind:  # every title names its type, so a different type is plain to see
            score += 1.5 if goal.kind.lower() in title else -2.5
        spec = goal.spec
        for attribute, wanted in goal.attributes.items():
            if wanted.lower() in title:
                score += 0.7
            elif any(v.lower() in title for v in spec.attributes[attribute] if v != wanted):
                score -= 1.5  # the title shows a different value than the one wanted
        over = product.price_cents / goal.budget_cents - 1
        score += 1.0 if over <= 0 else -0.5 - 4 * over * persona.price_sensitivity
        score += (product.rating - 4.0) * 1.5 * persona.review_reliance
        if self.favourite and product.brand == self.favourite:
            score += 1.5 * persona.brand_loyalty
        if product.price_cents == cheapest:
            score += 0.5 * persona.price_sensitivity
        return score + self.rng.gauss(0, 0.4)

    def _open_reason(self, product: Product, cheapest: int) -> str:
        persona = self.persona
        if self.favourite and product.brand == self.favourite:
            return "open_favourite_brand"
        if product.price_cents == cheapest and persona.price_sensitivity >= 0.55:
            return "compare_price"
        if product.rating >= 4.5 and persona.review_reliance >= 0.55:
            return "open_top_rated"
        return "open_best_match"

    def _narrowing(self, page: Page, result: SearchResult) -> list[tuple[float, Decision]]:
        """Filters and sorts worth applying, with weights from the shopper's traits."""
        persona, goal, query = self.persona, self.goal, result.query
        if self.memory.narrowed >= 2 or result.total <= len(result.products):
            return []
        options: list[tuple[float, Decision]] = []
        facets = {f.key: f for f in result.facets}
        dollars = goal.budget_cents / 100
        if "price" in facets:
            affordable = [v for v in facets["price"].values
                          if next(low for key, _, low, _ in PRICE_BANDS if key == v[0]) < dollars]
            over = any(p.price_cents > goal.budget_cents for p in result.products)
            if affordable:
                key, label, _ = affordable[-1]
                name = page.name_for(query.with_filter("price", key).to_url())
                if name:
                    weight = (1.4 if over else 0.3) * persona.price_sensitivity
                    options.append((weight, _click(name, "filter_price", band=label, budget=self.budget)))
        if self.favourite and "brand" in facets:
            for value, label, _ in facets["brand"].values:
                name = page.name_for(query.with_filter("brand", value).to_url())
                if label == self.favourite and name:
                    options.append((2.0 * persona.brand_loyalty, _click(name, "filter_brand", brand=label)))
        if "rating" in facets and persona.review_reliance >= 0.5:
            name = page.name_for(query.with_filter("rating", "4").to_url())
            if name:
                options.append((0.8 * persona.review_reliance, _click(name, "filter_rating")))
        for attribute, wanted in goal.attributes.items():
            facet = facets.get(attribute)
            for value, label, _ in facet.values if facet else ():
                name = page.name_for(query.with_filter(attribute, value).to_url())
                if label == wanted and name:
                    options.append((0.8, _click(name, "filter_attribute", attribute=attribute, value=label)))
        if query.sort == "featured":
            name = page.name_for(replace(query, sort="price_asc", page=1).to_url())
            if name and persona.price_sensitivity >= 0.5:
                options.append((0.6 * persona.price_sensitivity, _click(name, "sort_price", budget=self.budget)))
            name = page.name_for(replace(query, sort="rating", page=1).to_url())
            if name and persona.review_reliance >= 0.6:
                options.append((0.4 * persona.review_reliance, _click(name, "sort_rating")))
        return options

    def _on_search(self, page: Page) -> Decision:
        memory, result = self.memory, page.search
        assert result is not None
        if not result.products:
            memory.frustration += 1
            if len(memory.queries) < self.config.max_queries and self.rng.random() < 0.85:
                specificity = refine_specificity(memory.specificity, had_results=False, rng=self.rng)
                return self._search("refine_no_results", specificity)
            return _leave("terminate_no_results", item=self.item)
        cheapest = min(p.price_cents for p in result.products)
        target = next((p for p in result.products if p.pid == memory.target), None)
        shortlisted = [p for p in result.products if p.pid in memory.shortlist]
        unseen = [(self._visible_score(p, cheapest), p) for p in result.products if p.pid not in memory.verdicts]
        unseen.sort(key=lambda item: -item[0])
        options: list[tuple[float, Decision]] = []
        if target is not None or (shortlisted and (not unseen or unseen[0][0] < 1.0 or len(memory.verdicts) >= 3)):
            best = target or shortlisted[0]
            memory.target = best.pid
            name = page.name_for(product_url(best))
            if name:
                return _click(name, "return_to_best", product=best.title, price=best.price_text, pid=best.pid)
        if unseen:
            score, product = unseen[0]
            name = page.name_for(product_url(product))
            if name:
                reason = self._open_reason(product, cheapest)
                slots = {"product": product.title, "price": product.price_text, "brand": product.brand,
                         "rating": product.rating, "reviews": f"{product.review_count:,}", "position":
                         result.products.index(product) + 1, "pid": product.pid}
                options.append((2.5 + self.persona.decisiveness if score > 0 else 0.4, _click(name, reason, **slots)))
        options += self._narrowing(page, result)
        good = bool(unseen) and unseen[0][0] > 0
        next_page = page.name_for(replace(result.query, page=result.query.page + 1).to_url()) \
            if result.query.page < result.pages else None
        if next_page:
            options.append((0.2 if good else 1.0, _click(next_page, "next_page", page=result.query.page + 1)))
        if len(memory.queries) < self.config.max_queries:
            options.append((0.2 if good else 1.8, self._deferred_search(memory)))
        home = page.name_for("/", within="nav_bar")
        if home and memory.frustration >= 2 and len(memory.queries) >= 2:
            options.append((0.2, _click(home, "go_home")))
        if not good:
            options.append((0.3 * memory.frustration, _leave("terminate_nothing_fits", item=self.item,
                                                             budget=self.budget)))
        decision = _pick(self.rng, options)
        if decision.action.type == "click" and decision.reason.startswith(("filter_", "sort_")):
            memory.narrowed += 1
        if decision.reason == "refine_query":
            return self._search("refine_query", decision.slots["specificity"])
        if decision.reason == "next_page":
            memory.frustration += 0.3
        return decision

    def _deferred_search(self, memory: _Memory) -> Decision:
        """A placeholder for "search again", so that the query is only drawn when chosen."""
        specificity = refine_specificity(memory.specificity, had_results=True, rng=self.rng)
        return Decision(Action("type_and_submit", name="search_input", text="?"), "refine_query",
                        {"specificity": specificity})

    # Product pages.
    def _problem(self, page: Page) -> tuple[str, dict[str, Any]] | None:
        """The most salient reason this product does not fit, if any (all visible on the page)."""
        product, goal = page.product, self.goal
        assert product is not None
        base = {"product": product.title, "price": product.price_text, "pid": product.pid}
        if product.category != goal.category or (goal.kind and product.kind != goal.kind):
            return "reject_features", {**base, "wanted": goal.noun, "actual": product.kind}
        for attribute, wanted in goal.attributes.items():
            if product.attributes.get(attribute) != wanted:
                actual = product.attributes.get(attribute, "different")
                return "reject_features", {**base, "wanted": wanted, "actual": actual, "attribute": attribute}
        for option, wanted in goal.options.items():
            if wanted not in product.options.get(option, ()):
                return "reject_option", {**base, "option": option, "value": wanted}
        if product.price_cents > goal.budget_cents * self.tolerance:
            return "reject_price", {**base, "budget": self.budget}
        if product.rating < self.min_rating:
            return "reject_rating", {**base, "rating": product.rating}
        if page.reviews and len(page.reviews) > 1 and product.pid in self.memory.reviews_read:
            average = sum(r.stars for r in page.reviews) / len(page.reviews)
            if average < 3.2 + 0.5 * self.persona.review_reliance:
                aspect = next((r.aspect for r in page.reviews if r.stars <= 3), page.reviews[0].aspect)
                return "reject_reviews", {**base, "aspect": aspect}
        return None

    def _on_product(self, page: Page) -> Decision:
        memory, persona, product = self.memory, self.persona, page.product
        assert product is not None
        decided = memory.target == product.pid
        problem = None if decided else self._problem(page)
        more = "reviews.see_more_reviews" in page.elements
        # Details first, reviews second: nobody reads reviews of a product they can already rule out.
        if problem is None and more and not decided and product.pid not in memory.reviews_read \
                and self.rng.random() < 0.7 * persona.review_reliance:
            memory.reviews_read.append(product.pid)
            return _click("reviews.see_more_reviews", "read_reviews", product=product.title, rating=product.rating,
                          pid=product.pid)
        if problem is not None:
            reason, slots = problem
            memory.verdicts[product.pid] = reason
            memory.frustration += 0.5
            rejected = sum(1 for v in memory.verdicts.values() if v != "fits")
            if self.rng.random() < 0.08 * memory.frustration * (1.2 - persona.patience):
                return _leave("terminate_nothing_fits", item=self.item, budget=self.budget)
            if "back_to_results" not in page.elements or (
                rejected >= 2 and len(memory.queries) < self.config.max_queries and self.rng.random() < 0.45
            ):
                # Fed up with this result list: search again straight from the product page.
                specificity = refine_specificity(memory.specificity, had_results=True, rng=self.rng)
                return self._search("refine_query", specificity)
            return _click("back_to_results", reason, **slots)
        memory.verdicts[product.pid] = "fits"
        for option, wanted in self.goal.options.items():
            if page.selected.get(option) != wanted:
                name = page.name_for(product_url(product, {**page.selected, option: wanted}))
                if name:
                    return _click(name, "choose_option", option=option, value=wanted, pid=product.pid)
        slots = {"product": product.title, "price": product.price_text, "pid": product.pid}
        if product.pid not in memory.shortlist:
            memory.shortlist.append(product.pid)
        compared = len([v for v in memory.verdicts.values() if v == "fits"])
        if not decided and "back_to_results" in page.elements and compared < 3 \
                and self.rng.random() > persona.decisiveness + 0.3:
            return _click("back_to_results", "compare_alternatives", **slots)
        memory.target = product.pid
        # The draw comes first so that a store without the button leaves every other choice unchanged.
        if self.rng.random() < 0.25 + 0.35 * persona.decisiveness and "buy_now" in page.elements:
            return _click("buy_now", "buy_now", **slots)
        return _click("add_to_cart", "add_to_cart", **slots)

    # Cart and checkout.
    def _on_cart(self, page: Page) -> Decision:
        total = _total(page)
        checkout = page.name_for("/checkout")
        if not page.cart or checkout is None:
            return self._search("new_search", "exact")
        leave = 0.06 + 0.12 * self.persona.price_sensitivity
        if self.rng.random() < leave:
            return _leave("terminate_abandon_cart", total=total)
        return _click(checkout, "proceed_to_checkout", total=total)

    def _on_checkout(self, page: Page) -> Decision:
        total = _total(page)
        place = page.name_for("/order/place")
        if place is None or self.rng.random() < 0.04 + 0.1 * self.persona.price_sensitivity:
            return _leave("terminate_hesitate_checkout", total=total)
        return _click(place, "place_order", total=total)


def _total(page: Page) -> str:
    return format_price(sum(line.product.price_cents for line in page.cart))
