"""First-person rationale sentences written from a step's true reason and its slots.

Every reason code has several templates with different wording and emphasis, so that a model cannot
learn "one reason, one sentence"; the shopper's own random stream picks one. Slots are the facts the
policy acted on (`price`, `budget`, `query`, `product`, ...), so a rationale never claims something
the step did not involve.

    >>> import random
    >>> write_rationale("filter_price", {"band": "$25 to $50", "budget": "$45"}, random.Random(0))
    'Let me limit the price to $25 to $50.'
"""

from __future__ import annotations

import random
import string
from collections.abc import Mapping

__all__ = ["REASONS", "TEMPLATES", "write_rationale"]

TEMPLATES: Mapping[str, tuple[str, ...]] = {
    # Searching and browsing.
    "search": (
        "I'll start by searching for {query}.",
        "Let me type what I need, {query}, into the search box.",
        "Searching for {query} seems like the quickest way to find {item}.",
        "I know roughly what I want, so I'll search for {query}.",
        "The search bar is right there; {query} should bring up what I need.",
    ),
    "browse_category": (
        "I'll browse the {category} section to see what's on offer.",
        "Let me look through {category} first instead of searching.",
        "Clicking into {category} gives me an overview of the options.",
        "I want to get a feel for the {category} range before narrowing down.",
    ),
    "refine_query": (
        "These results aren't quite right, so I'll search for {query} instead.",
        "Let me rephrase my search as {query} to get closer to {item}.",
        "{previous} didn't give me what I want; trying {query}.",
        "I'll make the search more precise: {query}.",
        "None of these match well, so I'm changing the search to {query}.",
    ),
    "refine_no_results": (
        "Nothing came up, so I'll try a simpler search: {query}.",
        "No results for that; let me search for {query} instead.",
        "My search was too specific, so I'm dropping some words: {query}.",
        "That returned nothing. I'll try {query}.",
    ),
    "new_search": (
        "I'll search again, this time for {query}.",
        "Let me start a fresh search for {query}.",
        "Time for a different search: {query}.",
        "Maybe {query} will turn up something better.",
    ),
    # Narrowing results.
    "filter_price": (
        "My budget is {budget}, so the {band} range is where I should look.",
        "I'll filter to {band} so I don't see things I can't afford.",
        "Anything above {budget} is out, so I'm picking the {band} price filter.",
        "Let me limit the price to {band}.",
        "I only want options around {band}; filtering by price.",
    ),
    "filter_brand": (
        "I trust {brand}, so I'll only show their products.",
        "{brand} has worked well for me before; filtering to that brand.",
        "Let me narrow this down to {brand}.",
        "I'd rather stick with {brand}, so I'm selecting it.",
    ),
    "filter_rating": (
        "I only want well-reviewed items, so I'll filter to 4 stars and up.",
        "Let me hide anything rated under 4 stars.",
        "Good reviews matter to me; filtering by customer rating.",
        "I'll only consider products other buyers rated highly.",
    ),
    "filter_attribute": (
        "I specifically want {value}, so I'll use the {attribute} filter.",
        "Let me filter by {attribute}: {value}.",
        "Only {value} ones are useful to me; selecting that filter.",
        "Narrowing the results to {value} will save me time.",
    ),
    "sort_price": (
        "I'll sort by price so the cheapest options come first.",
        "Let me see the lowest prices first.",
        "Price matters most to me, so I'm sorting from low to high.",
        "Sorting by price should show me what fits my budget of {budget}.",
    ),
    "sort_rating": (
        "I'll sort by rating to see the best-reviewed ones first.",
        "Let me put the top-rated products at the top.",
        "Sorting by customer rating should surface the reliable options.",
        "I care about what other buyers think, so I'll sort by rating.",
    ),
    "next_page": (
        "Nothing on this page fits, so I'll check the next one.",
        "Let me look at more results on the next page.",
        "These aren't right; maybe page {page} has better options.",
        "I'll keep looking on the next page.",
    ),
    # Opening products.
    "open_best_match": (
        "The {product} looks like what I need, so I'll open it.",
        "This one, {product}, matches what I'm after; let me check the details.",
        "{product} at {price} seems promising.",
        "I want to take a closer look at the {product}.",
        "The {product} sounds right for me; opening it.",
    ),
    "compare_price": (
        "The {product} is only {price}, so I'll check whether it's good enough.",
        "At {price}, the {product} is the cheapest here; let me compare it.",
        "I'll look at the {product} because it's well within my budget.",
        "Let me see if the {product} for {price} is a better deal.",
    ),
    "open_favourite_brand": (
        "It's from {brand}, a brand I like, so I'll look at the {product}.",
        "I tend to trust {brand}; let me open the {product}.",
        "The {product} is a {brand} product, which is a good sign for me.",
        "{brand} usually doesn't disappoint, so I'm checking this one.",
    ),
    "open_top_rated": (
        "The {product} has {rating} stars from {reviews} reviews; worth a look.",
        "With a {rating} rating, the {product} stands out.",
        "Lots of people rate the {product} highly, so I'll open it.",
        "Let me check the {product}; its reviews look strong.",
    ),
    "return_to_best": (
        "After comparing, the {product} is still the best option, so I'm going back to it.",
        "I keep coming back to the {product}; let me open it again.",
        "None of the others beat the {product} at {price}, so I'll return to it.",
        "The {product} was my favourite so far; reopening it.",
    ),
    # On a product page.
    "read_reviews": (
        "Before deciding, I want to read what other buyers say about the {product}.",
        "Let me check more reviews to make sure it's reliable.",
        "A {rating} rating is fine, but I'd like to read the reviews first.",
        "I'll read a few more reviews before I commit.",
        "What do other customers think? Let me see more reviews.",
    ),
    "choose_option": (
        "I want it in {value}, so I'll select that.",
        "Let me pick {value} as the {option}.",
        "The {option} I need is {value}; selecting it.",
        "Choosing {value} before I go any further.",
    ),
    "reject_price": (
        "At {price} the {product} is over my budget of {budget}, so I'll go back.",
        "That's too expensive for me; back to the results.",
        "{price} is more than I want to spend. Let me look at other options.",
        "I can't justify {price} for this; going back.",
    ),
    "reject_features": (
        "This isn't {wanted}, which is what I need, so I'll go back.",
        "It's {actual}, not {wanted}; not what I'm looking for.",
        "The details show it doesn't fit my needs. Back to the list.",
        "I need {wanted}, and this one isn't. Let me keep looking.",
    ),
    "reject_option": (
        "It doesn't come in {value}, so it's not for me.",
        "No {value} option here; I'll look elsewhere.",
        "I really want {value}, and this product doesn't offer it.",
        "Without a {value} version this won't work for me; going back.",
    ),
    "reject_rating": (
        "{rating} stars is too low for me to trust it; going back.",
        "The rating of {rating} makes me hesitant, so I'll look at other options.",
        "Too many unhappy buyers for my taste. Back to the results.",
        "I'd rather find something rated better than {rating}.",
    ),
    "reject_reviews": (
        "The reviews mention problems with the {aspect}, so I'll pass on this one.",
        "After reading the reviews I'm not convinced; going back.",
        "Complaints about the {aspect} put me off. Let me look at something else.",
        "These reviews are worse than I hoped, so I'll keep looking.",
    ),
    "compare_alternatives": (
        "The {product} could work, but I want to compare it with a few others first.",
        "This is a candidate at {price}; let me see what else is out there before deciding.",
        "I'll keep the {product} in mind and look at other options.",
        "Before I buy, I'd like to check whether there's something better.",
    ),
    # Buying.
    "add_to_cart": (
        "The {product} is what I want, so I'll add it to my cart.",
        "This fits my needs and my budget; adding it to the cart.",
        "I'm happy with the {product} at {price}. Into the cart it goes.",
        "Let me add this to my cart.",
        "Good enough for me: adding the {product} to my cart.",
    ),
    "buy_now": (
        "This is exactly what I need, so I'll buy it right away.",
        "No need to look further; I'm buying the {product} now.",
        "At {price} it's within my budget, so I'll just buy it now.",
        "I've decided: Buy Now on the {product}.",
    ),
    "proceed_to_checkout": (
        "Everything I want is in the cart, so I'll go to checkout.",
        "Let me proceed to checkout and finish this.",
        "The cart looks right at {total}; checking out.",
        "Time to check out.",
    ),
    "place_order": (
        "The order looks right, so I'll place it.",
        "Everything checks out at {total}; placing the order.",
        "I'm ready to buy. Placing my order.",
        "All good; let me confirm the purchase.",
    ),
    "go_home": (
        "I'll go back to the home page and start over.",
        "This isn't working; let me start again from the home page.",
        "Let me head back to the start.",
        "Back to the home page to rethink my search.",
    ),
    # Leaving without buying.
    "terminate_no_results": (
        "I can't find anything matching {item}, so I'll stop here.",
        "Nothing here fits what I need; I'm giving up for now.",
        "The store doesn't seem to have what I want. I'll leave.",
        "I've searched enough without finding {item}; closing the site.",
    ),
    "terminate_nothing_fits": (
        "None of the options fit my needs and budget, so I'll look somewhere else.",
        "I've seen enough and nothing is right for me. I'm done.",
        "Nothing here is worth buying at these prices; leaving.",
        "I haven't found {item} within {budget}, so I'll try another day.",
    ),
    "terminate_out_of_patience": (
        "This is taking too long; I'll come back another time.",
        "I've spent enough time on this for today.",
        "I'm tired of looking, so I'm closing the site.",
        "I don't have time to keep browsing; maybe later.",
    ),
    "terminate_abandon_cart": (
        "On second thought, I'm not ready to spend {total} right now.",
        "I'll leave it in the cart and decide later.",
        "I want to think about it before buying, so I'm leaving for now.",
        "Maybe I'll find a better deal elsewhere; I'm not checking out today.",
    ),
    "terminate_hesitate_checkout": (
        "Seeing the total of {total}, I'd rather wait.",
        "I'm having second thoughts, so I won't place the order now.",
        "I'll hold off on buying until I'm sure.",
        "Not today; I'll come back to this order later.",
    ),
}
REASONS: tuple[str, ...] = tuple(TEMPLATES)


def template_slots(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def write_rationale(reason: str, slots: Mapping[str, object], rng: random.Random) -> str:
    """One sentence for `reason`, using only templates whose slots are all known."""
    if reason not in TEMPLATES:
        raise ValueError(f"unknown reason {reason!r}; known: {', '.join(REASONS)}")
    usable = [t for t in TEMPLATES[reason] if template_slots(t) <= slots.keys()]
    if not usable:
        raise ValueError(f"reason {reason!r} has no template for slots {sorted(slots)}")
    sentence = rng.choice(usable).format(**slots)
    return sentence[0].upper() + sentence[1:]
