"""ModelEngine with the real SmolLM2 tokenizer and a random-token model: prompts, batching, sampling, seeds, stops."""

from __future__ import annotations

import pytest

from shop_r1.prompts import PromptConfig, PromptTooLongError, chat_token_counter, rl_prompt
from shop_r1.serve.engine import MessagesRejectedError, ModelEngine, Sampling, cut_at_stop
from shop_r1.serve.requests import parse_session_so_far
from tests.conftest import make_session
from tests.unit.serve_fakes import RandomTokenModel


@pytest.fixture()
def engine_and_model(smollm2_tokenizer):
    im_end = smollm2_tokenizer.convert_tokens_to_ids("<|im_end|>")
    model = RandomTokenModel(len(smollm2_tokenizer), stop_id=im_end)
    return ModelEngine(model, smollm2_tokenizer, prompt_config=PromptConfig(max_context_tokens=4096)), model


def pending_request(n_steps: int = 3, html_size: int = 40) -> dict:
    data = make_session(n_steps=n_steps, html_size=html_size).to_dict()
    del data["steps"][-1]["action"]
    data["steps"][-1].pop("rationale")
    return data


def test_n_samples_are_one_generate_call_over_copies_of_the_training_prompt(engine_and_model, smollm2_tokenizer):
    engine, model = engine_and_model
    result = engine.predict(parse_session_so_far(pending_request()), Sampling(n=4, max_new_tokens=6, seed=1))
    assert len(model.calls) == 1
    ids = model.calls[0]["input_ids"]
    assert ids.shape[0] == 4 and all((row == ids[0]).all() for row in ids)
    expected = rl_prompt(make_session(n_steps=3), 2, PromptConfig(max_context_tokens=4096),
                         chat_token_counter(smollm2_tokenizer)).messages
    text = smollm2_tokenizer.apply_chat_template(expected, tokenize=False, add_generation_prompt=True)
    assert smollm2_tokenizer.decode(ids[0]) == text
    assert result.prompt.messages == expected
    assert result.prompt_tokens == ids.shape[1]
    assert len(result.generations) == 4
    assert all(g.tokens == 6 and g.finish_reason == "length" for g in result.generations)


def test_the_context_budget_is_counted_with_the_real_tokenizer(smollm2_tokenizer):
    model = RandomTokenModel(len(smollm2_tokenizer), stop_id=0)
    count = chat_token_counter(smollm2_tokenizer)
    full = count(rl_prompt(make_session(n_steps=5, html_size=80), 4, PromptConfig(max_context_tokens=None)).messages)
    engine = ModelEngine(model, smollm2_tokenizer, prompt_config=PromptConfig(max_context_tokens=full - 150))
    result = engine.predict(parse_session_so_far(pending_request(5, 80)), Sampling(max_new_tokens=2))
    assert result.prompt.dropped_pages >= 1
    assert count(result.prompt.messages) <= full - 150
    tiny = ModelEngine(model, smollm2_tokenizer, prompt_config=PromptConfig(max_context_tokens=64))
    with pytest.raises(PromptTooLongError):
        tiny.predict(parse_session_so_far(pending_request()), Sampling(max_new_tokens=2))
    with pytest.raises(PromptTooLongError, match="--max-context-tokens"):
        tiny.chat([{"role": "user", "content": "word " * 100}], Sampling(max_new_tokens=2))


@pytest.mark.parametrize(
    ("sampling", "expected"),
    [
        (Sampling(temperature=0.0, max_new_tokens=3), None),
        (Sampling(temperature=0.9, top_p=0.5, max_new_tokens=3, n=2), (0.9, 0.5, 2)),
    ],
    ids=["zero-is-greedy", "sampled"],
)
def test_sampling_settings_reach_generate(engine_and_model, sampling, expected):
    engine, model = engine_and_model
    engine.chat([{"role": "user", "content": "hi"}], sampling)
    call = model.calls[-1]
    assert call["max_new_tokens"] == 3
    # Sampling is greedy decoding over per-row seeded Gumbel noise (`row_sampling`), one seed per sample.
    assert call["do_sample"] is False
    processors = call.get("logits_processor") or []
    if expected is None:
        assert not processors
    else:
        (sampler,) = processors
        assert (sampler.temperature, sampler.top_p, len(set(sampler.seeds))) == expected


def test_a_seed_makes_samples_reproducible(engine_and_model):
    engine, _ = engine_and_model
    messages = [{"role": "user", "content": "hi"}]

    def texts(seed):
        return [g.text for g in engine.chat(messages, Sampling(n=3, max_new_tokens=8, seed=seed)).generations]

    first = texts(7)
    assert texts(7) == first
    assert texts(8) != first
    assert len(set(first)) == 3  # the copies of one prompt are sampled independently


def test_stop_strings_cut_the_text_and_recount_its_tokens(engine_and_model, smollm2_tokenizer):
    engine, _ = engine_and_model
    messages = [{"role": "user", "content": "hi"}]
    plain = engine.chat(messages, Sampling(max_new_tokens=12, seed=3)).generations[0]
    stop = plain.text[len(plain.text) // 2:][:3]
    cut = engine.chat(messages, Sampling(max_new_tokens=12, seed=3, stop=(stop,))).generations[0]
    assert cut.finish_reason == "stop"
    assert cut.text == plain.text[:plain.text.index(stop)]
    assert cut.tokens == len(smollm2_tokenizer(cut.text, add_special_tokens=False)["input_ids"])
    missing = engine.chat(messages, Sampling(max_new_tokens=12, seed=3, stop=("\x00never",))).generations[0]
    assert missing == plain


def test_end_of_turn_ends_a_completion_with_stop(smollm2_tokenizer):
    im_end = smollm2_tokenizer.convert_tokens_to_ids("<|im_end|>")
    engine = ModelEngine(RandomTokenModel(len(smollm2_tokenizer), im_end, stop_after=2), smollm2_tokenizer)
    generation = engine.chat([{"role": "user", "content": "hi"}], Sampling(max_new_tokens=6)).generations[0]
    assert (generation.tokens, generation.finish_reason) == (3, "stop")


@pytest.mark.parametrize(
    ("text", "stops", "expected"),
    [("a.b.c", [".", "b"], "a"), ("a.b.c", ["b", "."], "a"), ("abc", ["c", "bc"], "a"), ("abc", ["", "z"], None)],
    ids=["first-stop", "earliest-wins", "overlapping", "none"],
)
def test_cut_at_stop(text, stops, expected):
    assert cut_at_stop(text, stops) == expected


def test_zero_temperature_is_greedy_and_other_settings_pass_through():
    settings = Sampling(temperature=0.0, top_p=0.3, max_new_tokens=9, seed=5).generation_settings()
    assert settings.greedy and settings.max_new_tokens == 9 and settings.seed == 5
    assert not Sampling(temperature=0.6).generation_settings().greedy


def test_a_chat_template_refusal_is_a_user_error_and_a_422(smollm2_tokenizer):
    from fastapi.testclient import TestClient

    from shop_r1.serve.app import ServeSettings, create_app

    class StrictTemplate:
        """The SmolLM2 tokenizer behind a template that, like some real ones, insists on alternating roles."""

        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def apply_chat_template(self, messages, **kwargs):
            roles = [m["role"] for m in messages if m["role"] != "system"]
            if any(a == b for a, b in zip(roles, roles[1:], strict=False)):
                import jinja2

                raise jinja2.TemplateError("Conversation roles must alternate user/assistant/user/assistant")
            return self.inner.apply_chat_template(messages, **kwargs)

    tokenizer = StrictTemplate(smollm2_tokenizer)
    engine = ModelEngine(RandomTokenModel(len(smollm2_tokenizer), stop_id=0), tokenizer)
    twice = [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]
    with pytest.raises(MessagesRejectedError, match="roles must alternate"):
        engine.chat(twice, Sampling(max_new_tokens=2))
    client = TestClient(create_app(engine, ServeSettings(model_name="m")))
    response = client.post("/v1/chat/completions", json={"model": "m", "messages": twice})
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith("messages: the model's chat template refused")
