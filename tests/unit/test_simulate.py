"""The simulation loop on scripted generators: retries, endings, counts, prompts, output schema."""

from __future__ import annotations

import json

import pytest

from shop_r1.data.io import read_sessions
from shop_r1.errors import ShopR1Error
from shop_r1.prompts import PromptConfig, rl_prompt
from shop_r1.simulation.config import SimulationConfig, parse_store_config
from shop_r1.simulation.drivers import ModelDriver, WorldDriver, proposal_from_completion
from shop_r1.simulation.loop import simulate
from shop_r1.simulation.output import failed_path, summary_path
from shop_r1.world.store import StoreConfig
from shop_r1.world.synth import synthesize_sessions
from tests.unit.sim_fakes import GARBAGE, MISSING_NAME, SEARCH, TERMINATE, ScriptedGenerator, answer

PROMPT = PromptConfig(include_persona=False, max_context_tokens=None)


def _script(visit_id: str, step: int, attempt: int) -> str:
    """v00001: garbage, then a name not on the page, then a search; then leaves.
    v00002: garbage every time (never takes a step). v00003: searches until the step cap.
    v00004: a click without a name (incomplete), then leaves."""
    if visit_id == "v00001":
        if step == 0:
            return [GARBAGE, MISSING_NAME, SEARCH][attempt]
        return TERMINATE
    if visit_id == "v00002":
        return GARBAGE
    if visit_id == "v00003":
        return SEARCH
    return [answer({"type": "click", "name": ""}), TERMINATE][attempt]


@pytest.fixture()
def scripted_run(tmp_path):
    generator = ScriptedGenerator(_script)
    config = SimulationConfig(shoppers=4, max_steps=3, max_retries=2, batch_size=4, prompt=PROMPT)
    out = tmp_path / "sims.jsonl"
    result = simulate(config, ModelDriver(generator, PROMPT), out, settings={"model": "fake"})
    return generator, out, result.summary


def test_retries_endings_and_counts(scripted_run):
    _, out, summary = scripted_run
    sessions = {s.session_id: s for s in read_sessions(out)}
    assert sorted(sessions) == ["v00001", "v00003", "v00004"]
    first = sessions["v00001"].steps
    assert [s.action.type.value for s in first] == ["type_and_submit", "terminate"]
    assert first[0].meta == {"source": "model", "page": "home", "samples": 3, "retries": 2,
                             "failures": ["unparseable", "invalid_action"], "finish_reason": "stop"}
    assert first[1].meta["end"] == "terminate" and first[1].meta["page"] == "search"
    assert first[0].rationale == "I look for headphones."
    capped = sessions["v00003"].steps
    assert len(capped) == 3 and capped[-1].meta["end"] == "step_cap"
    assert sessions["v00004"].steps[0].meta["failures"] == ["incomplete_action"]
    failed = [json.loads(line) for line in failed_path(out).read_text().splitlines()]
    assert failed == [{"session_id": "v00002", "user_id": "u0002", "end": "invalid_output", "samples": 3,
                       "failures": ["unparseable"] * 3, "last_rejected": GARBAGE}]
    assert summary["visits"] == 4 and summary["sessions"] == 3 and summary["visits_without_steps"] == 1
    assert summary["ends"] == {"invalid_output": 1, "step_cap": 1, "terminate": 2}
    assert summary["failures"] == {"incomplete_action": 1, "invalid_action": 1, "unparseable": 4}
    # samples: v1 3+1, v2 3, v3 3, v4 2 -> 12; steps 2+3+1 = 6; one undecided step (v2) -> 5 retries
    assert (summary["samples"], summary["steps"], summary["retries"]) == (12, 6, 5)
    assert summary["actions"] == {"terminate": 2, "type_and_submit": 4}
    assert json.loads(summary_path(out).read_text())["status"] == "complete"


def test_prompts_are_the_training_prompts(scripted_run):
    generator, out, _ = scripted_run
    for session in read_sessions(out):
        for index in range(len(session.steps)):
            final_attempt = session.steps[index].meta["samples"] - 1
            seen = generator.prompts[(session.session_id, index, final_attempt)]
            assert seen == rl_prompt(session, index, PROMPT).messages


def test_invalid_output_after_steps_is_recorded_on_the_last_step(tmp_path):
    script = lambda visit, step, attempt: SEARCH if step == 0 else MISSING_NAME  # noqa: E731
    config = SimulationConfig(shoppers=1, max_retries=1, prompt=PROMPT)
    summary = simulate(config, ModelDriver(ScriptedGenerator(script), PROMPT), tmp_path / "o.jsonl").summary
    (session,) = read_sessions(tmp_path / "o.jsonl")
    assert len(session.steps) == 1
    assert session.steps[0].meta["end"] == "invalid_output"
    assert session.steps[0].meta["next_step_failures"] == ["invalid_action", "invalid_action"]
    assert session.steps[0].meta["last_rejected"] == MISSING_NAME
    assert summary["failures"] == {"invalid_action": 2} and summary["retries"] == 1


def test_batches_cover_all_live_visits(tmp_path):
    generator = ScriptedGenerator(lambda visit, step, attempt: SEARCH if step == 0 else TERMINATE)
    config = SimulationConfig(shoppers=5, batch_size=3, prompt=PROMPT)
    simulate(config, ModelDriver(generator, PROMPT), tmp_path / "o.jsonl")
    # ticks: 3 visits search; those 3 leave and 2 new ones start (one refilled batch of 3 + ... )
    assert generator.batch_sizes == [3, 3, 2, 2]
    assert len(read_sessions(tmp_path / "o.jsonl")) == 5


def test_world_driver_reproduces_data_synth(tmp_path):
    out = tmp_path / "world.jsonl"
    simulate(SimulationConfig(shoppers=8, seed=5, batch_size=3), WorldDriver(), out)
    mine = {s.session_id: s for s in read_sessions(out)}
    for index, reference in enumerate(synthesize_sessions(8, 1, 5)):
        session = mine[f"v{index + 1:05d}"]
        assert session.persona == reference.persona
        assert [s.action for s in session.steps] == [s.action for s in reference.steps]
        assert [s.html for s in session.steps] == [s.html for s in reference.steps]
        assert [s.rationale for s in session.steps] == [s.rationale for s in reference.steps]
        assert [s.meta["reason"] for s in session.steps] == [s.meta["reason"] for s in reference.steps]


def test_world_personas_reach_the_prompt(tmp_path):
    prompt = PromptConfig(include_persona=True, max_context_tokens=None)
    generator = ScriptedGenerator(lambda *key: TERMINATE)
    config = SimulationConfig(shoppers=2, seed=5, prompt=prompt, persona_mode="world")
    simulate(config, ModelDriver(generator, prompt), tmp_path / "o.jsonl")
    references = list(synthesize_sessions(2, 1, 5))
    for index, session in enumerate(read_sessions(tmp_path / "o.jsonl")):
        assert session.persona == references[index].persona
        content = generator.prompts[(session.session_id, 0, 0)][1]["content"]
        assert content.startswith("About you (the shopper):\n" + references[index].persona["description"])


def test_no_persona_by_default(tmp_path):
    generator = ScriptedGenerator(lambda *key: TERMINATE)
    simulate(SimulationConfig(shoppers=1), ModelDriver(generator, SimulationConfig(1).prompt), tmp_path / "o.jsonl")
    assert "About you" not in generator.prompts[("v00001", 0, 0)][1]["content"]
    assert read_sessions(tmp_path / "o.jsonl")[0].persona is None


def test_completion_failures_are_classified():
    assert proposal_from_completion(GARBAGE).failure == "unparseable"
    assert proposal_from_completion(answer({"type": "type_and_submit", "name": "search_input"})).failure \
        == "incomplete_action"
    assert proposal_from_completion("", "request_failed: HTTP 503").failure == "request_failed"
    good = proposal_from_completion(SEARCH)
    assert good.failure is None and good.action.text == "headphones"


def test_store_overrides():
    config = parse_store_config(["results_per_page=8", "buy_now_button=false", "sorts=featured,rating"])
    assert config == StoreConfig(results_per_page=8, buy_now_button=False, sorts=("featured", "rating"))
    with pytest.raises(ShopR1Error, match="unknown key 'colour'; known: results_per_page"):
        parse_store_config(["colour=red"])
    with pytest.raises(ShopR1Error, match="expected an integer"):
        parse_store_config(["reviews_shown=many"])
    with pytest.raises(ShopR1Error, match="results_per_page must be at least 1"):
        parse_store_config(["results_per_page=0"])
    with pytest.raises(ShopR1Error, match="expected KEY=VALUE"):
        parse_store_config(["buy_now_button"])


def test_store_without_buy_now_button():
    from shop_r1.schema import Action
    from shop_r1.world.store import InvalidActionError, Store

    with_button, without = Store(config=StoreConfig()), Store(config=StoreConfig(buy_now_button=False))
    for store in (with_button, without):
        store.step(Action("type_and_submit", name="search_input", text="headphones"))
        store.step(Action("click", name="search_results.item_1"))
    assert "buy_now" in with_button.page.elements and "add_to_cart" in with_button.page.elements
    assert "buy_now" not in without.page.elements and "add_to_cart" in without.page.elements
    with pytest.raises(InvalidActionError, match="no element named 'buy_now'"):
        without.step(Action("click", name="buy_now"))


def test_world_shoppers_without_the_button_never_buy_now(tmp_path):
    out = tmp_path / "o.jsonl"
    simulate(SimulationConfig(shoppers=30, store=StoreConfig(buy_now_button=False)), WorldDriver(), out)
    sessions = read_sessions(out)
    assert all(step.action.name != "buy_now" for s in sessions for step in s.steps)
    assert any(s.steps[-1].meta["end"] == "purchase" for s in sessions)  # through the cart


def test_personas_from_a_file(tmp_path):
    from shop_r1.simulation.shoppers import load_personas

    path = tmp_path / "personas.jsonl"
    path.write_text('"A student on a tight budget."\n{"description": "A runner who trains daily.", "name": "Ola"}\n')
    personas = load_personas(path)
    prompt = PromptConfig(include_persona=True, max_context_tokens=None)
    generator = ScriptedGenerator(lambda *key: TERMINATE)
    config = SimulationConfig(shoppers=3, prompt=prompt, persona_mode="file", personas=personas)
    simulate(config, ModelDriver(generator, prompt), tmp_path / "o.jsonl")
    shown = [generator.prompts[(f"v0000{i}", 0, 0)][1]["content"].split("\n\n")[0] for i in (1, 2, 3)]
    assert shown == ["About you (the shopper):\nA student on a tight budget.",
                     "About you (the shopper):\nA runner who trains daily.",
                     "About you (the shopper):\nA student on a tight budget."]
    assert [s.persona for s in read_sessions(tmp_path / "o.jsonl")][1] == personas[1]
    bad = tmp_path / "bad.jsonl"
    bad.write_text("[1, 2]\n")
    with pytest.raises(ShopR1Error, match="bad.jsonl:1: a persona must be"):
        load_personas(bad)


def test_shared_prefill_gives_the_same_visits(tmp_path):
    from shop_r1.evaluation.generation import GenerationSettings, HFGenerator
    from shop_r1.models.inference import load_for_inference
    from shop_r1.simulation.drivers import SharedPrefillGenerator

    model, tokenizer = load_for_inference("tiny-random:llama", device="cpu")
    settings = GenerationSettings(max_new_tokens=12, greedy=True)
    config = SimulationConfig(shoppers=3, batch_size=3, max_retries=1, prompt=PROMPT)
    outs = []
    for name, generator in (("plain", HFGenerator(model, tokenizer, settings)),
                            ("shared", SharedPrefillGenerator(HFGenerator(model, tokenizer, settings)))):
        simulate(config, ModelDriver(generator, PROMPT), tmp_path / f"{name}.jsonl")
        outs.append([json.loads(line) for line in failed_path(tmp_path / f"{name}.jsonl").read_text().splitlines()])
    # The random model fails every sample; what it wrote (greedy) is the same with one shared prefill.
    assert outs[0] == outs[1] and len(outs[0]) == 3 and outs[0][0]["last_rejected"]


def test_sampled_visits_do_not_depend_on_the_batch(tmp_path):
    # Each visit's draws come from its own key, so a visit samples the same text whichever visits share its
    # tick: what lets the two arms of an A/B test stay paired once their visits drift apart.
    from shop_r1.evaluation.generation import GenerationSettings, HFGenerator
    from shop_r1.models.inference import load_for_inference

    model, tokenizer = load_for_inference("tiny-random:llama", device="cpu")
    generator = HFGenerator(model, tokenizer, GenerationSettings(max_new_tokens=12, temperature=1.0, seed=4))
    outs = []
    for batch_size in (1, 3):
        config = SimulationConfig(shoppers=3, batch_size=batch_size, max_retries=1, prompt=PROMPT)
        path = tmp_path / f"batch{batch_size}.jsonl"
        simulate(config, ModelDriver(generator, PROMPT), path)
        outs.append([json.loads(line) for line in failed_path(path).read_text().splitlines()])
    rejected = [visit["last_rejected"] for visit in outs[0]]
    assert outs[0] == outs[1] and len(set(rejected)) == 3
