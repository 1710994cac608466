"""Fake generators for the simulation tests: scripted by (visit, step, attempt), or a shopper that reads the page.

Both see exactly the prompts the simulator builds and answer deterministically, so every count a test
asserts is known in advance.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable, Sequence

from shop_r1.evaluation.generation import Generation

GARBAGE = "I think I will click the first result."


def answer(action: dict, rationale: str = "Because.") -> str:
    return json.dumps({"rationale": rationale, "action": action})


SEARCH = answer({"type": "type_and_submit", "name": "search_input", "text": "headphones"}, "I look for headphones.")
TERMINATE = answer({"type": "terminate"}, "I am done.")
MISSING_NAME = answer({"type": "click", "name": "no_such_button"}, "I click something that is not there.")


class ScriptedGenerator:
    """`script(visit_id, step, attempt) -> completion text`; records every prompt and batch size."""

    backend = "fake"

    def __init__(self, script: Callable[[str, int, int], str]) -> None:
        self.script = script
        self.prompts: dict[tuple[str, int, int], list[dict[str, str]]] = {}
        self.batch_sizes: list[int] = []

    def generate(self, prompts: Sequence[list[dict[str, str]]], keys: Sequence[tuple]) -> list[Generation]:
        self.batch_sizes.append(len(prompts))
        out = []
        for messages, key in zip(prompts, keys, strict=True):
            self.prompts[key] = messages
            out.append(Generation(self.script(*key), 10, "stop"))
        return out


_CURRENT = re.compile(r"Current page, page \d+ \([^)]*\):\n(?P<html>.*?)\n\nWhat do you do next", re.S)
_NAME = re.compile(r'name="([^"]+)"')


def page_names(messages: list[dict[str, str]]) -> list[str]:
    """The element names of the current page, read off the prompt as a model would."""
    match = _CURRENT.search(messages[-1]["content"])
    return _NAME.findall(match.group("html")) if match else []


def page_shopper(visit_id: str, step: int, attempt: int, names: list[str]) -> str:
    """A simple deterministic shopper: search, open the first result, buy now when the button is there,
    else add to cart; half of the visits (by id) abandon the cart, the rest check out."""
    if "buy_now" in names:
        return answer({"type": "click", "name": "buy_now"}, "It fits, I buy it now.")
    if "add_to_cart" in names:
        return answer({"type": "click", "name": "add_to_cart"}, "It fits, into the cart.")
    if "cart.proceed_to_checkout" in names:
        if zlib.crc32(visit_id.encode()) % 2:
            return TERMINATE
        return answer({"type": "click", "name": "cart.proceed_to_checkout"}, "On to checkout.")
    place = [n for n in names if n.startswith("checkout.") and "place" in n]
    if place:
        return answer({"type": "click", "name": place[0]}, "I place the order.")
    if "search_results.item_1" in names:
        return answer({"type": "click", "name": "search_results.item_1"}, "The first one looks right.")
    if step == 0:
        return SEARCH
    return TERMINATE


class PageShopperGenerator(ScriptedGenerator):
    def __init__(self) -> None:
        super().__init__(lambda *key: "")

    def generate(self, prompts, keys):  # type: ignore[no-untyped-def]
        self.batch_sizes.append(len(prompts))
        return [Generation(page_shopper(*key, page_names(messages)), 10, "stop")
                for messages, key in zip(prompts, keys, strict=True)]
