"""Shared fixtures: the real OPeRA test actions (tests/data), the embedded tokenizer, small sessions."""

from __future__ import annotations

from pathlib import Path

import pytest

from shop_r1.schema import Action, Session, Step

REPO_ROOT = Path(__file__).resolve().parents[1]
TEST_DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def opera_actions_path() -> Path:
    """OPeRA's public test split (CC-BY-4.0; source and attribution in its README beside it)."""
    path = TEST_DATA / "opera-test-actions" / "actions.jsonl"
    if not path.is_file():
        pytest.fail(f"the OPeRA fixture is missing at {path}: it is part of the repository")
    return path


@pytest.fixture(scope="session")
def smollm2_tokenizer():
    """The embedded SmolLM2 tokenizer (read from the GGUF once, then from the shop-r1 cache)."""
    from shop_r1.models.tokenizers import load_tokenizer

    return load_tokenizer("embedded:smollm2-135m")


def make_session(
    session_id: str = "s1", user_id: str | None = "u1", n_steps: int = 3, html_size: int = 40, persona=None
) -> Session:
    """A session whose pages are distinguishable (`page-<i>` markers) and sized by `html_size` words."""
    steps = []
    for i in range(n_steps):
        action = (
            Action("type_and_submit", name="search_input", text=f"query {i}")
            if i == 0
            else Action("terminate")
            if i == n_steps - 1
            else Action("click", name=f"search_results.item_{i}")
        )
        html = f"<body><p>page-{i}</p>" + " ".join(f"word{i}x{j}" for j in range(html_size)) + "</body>"
        steps.append(Step(action=action, html=html, url=f"https://shop.example/p{i}", rationale=f"reason {i}"))
    return Session(session_id=session_id, steps=tuple(steps), user_id=user_id, persona=persona)
