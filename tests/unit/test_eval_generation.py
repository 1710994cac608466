"""Batched generation: left padding, stop tokens, seeds; a fake model for exact checks, a tiny random one for real."""

from __future__ import annotations

import json

import pytest

from shop_r1.evaluation.generation import GenerationSettings, HFGenerator, request_seed, stop_token_ids
from tests.unit.eval_helpers import build_tiny_model, rl_rows

ANSWER = json.dumps({"rationale": "Done.", "action": {"type": "terminate"}})


class FakeModel:
    """`generate` appends scripted new tokens to each row (padding after a stop, as transformers does)."""

    def __init__(self, new_tokens: list[list[int]], pad: int) -> None:
        self.new_tokens = new_tokens
        self.pad = pad
        self.device = None
        self.generation_config = None
        self.kwargs: dict = {}

    def generate(self, input_ids, attention_mask, **kwargs):
        import torch

        self.kwargs = {"input_ids": input_ids, "attention_mask": attention_mask, **kwargs}
        width = max(len(t) for t in self.new_tokens)
        tail = torch.tensor([t + [self.pad] * (width - len(t)) for t in self.new_tokens], dtype=torch.long)
        return torch.cat([input_ids, tail], dim=1)


PROMPTS = [[{"role": "user", "content": "short"}],
           [{"role": "system", "content": "You shop."}, {"role": "user", "content": "a much longer prompt " * 5}]]
KEYS = [("s", 0), ("s", 1)]


@pytest.fixture(scope="module")
def fake_run(smollm2_tokenizer):
    tokenizer = smollm2_tokenizer
    answer = tokenizer(ANSWER, add_special_tokens=False)["input_ids"]
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    # Row 0 ends its turn and is padded; row 1 runs into max_new_tokens without a stop token.
    model = FakeModel([answer + [im_end], answer + answer[:1]], pad=im_end)
    generator = HFGenerator(model, tokenizer, GenerationSettings(max_new_tokens=len(answer) + 1, greedy=True))
    return generator.generate(PROMPTS, KEYS), model, tokenizer, len(answer)


def test_left_padding_puts_every_prompt_flush_right(fake_run):
    _, model, tokenizer, _ = fake_run
    ids, mask = model.kwargs["input_ids"], model.kwargs["attention_mask"]
    lengths = [len(tokenizer(tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True),
                             add_special_tokens=False)["input_ids"]) for p in PROMPTS]
    assert mask.sum(dim=1).tolist() == lengths
    assert mask[0, -1] == 1 and mask[0, 0] == 0  # the short prompt is padded on the left
    prompt_text = tokenizer.decode(ids[0, mask[0].bool()])
    assert prompt_text.endswith("<|im_start|>assistant\n")


def test_generation_stops_at_end_of_turn_and_reports_why(fake_run):
    results, _, tokenizer, n_answer = fake_run
    assert results[0].text == ANSWER
    assert (results[0].finish_reason, results[0].tokens) == ("stop", n_answer + 1)
    assert (results[1].finish_reason, results[1].tokens) == ("length", n_answer + 1)
    first_token = tokenizer(ANSWER, add_special_tokens=False)["input_ids"][:1]
    assert results[1].text == ANSWER + tokenizer.decode(first_token)


def test_generate_gets_stop_ids_cache_and_plain_decoding(fake_run):
    _, model, tokenizer, _ = fake_run
    assert model.kwargs["use_cache"] is True
    assert tokenizer.convert_tokens_to_ids("<|im_end|>") in model.kwargs["eos_token_id"]
    assert (model.kwargs["do_sample"], model.kwargs["repetition_penalty"]) == (False, 1.0)


def test_stop_tokens_of_smollm2(smollm2_tokenizer):
    # <|endoftext|> (0) and <|im_end|> (2, also EOS) end a turn; unknown markers are not added.
    assert stop_token_ids(smollm2_tokenizer) == [0, 2]


def test_request_seed_is_stable_and_depends_on_every_part():
    assert request_seed(0, ("s", 1)) == request_seed(0, ("s", 1))
    assert len({request_seed(0, ("s", 1)), request_seed(1, ("s", 1)), request_seed(0, ("s", 2))}) == 3
    assert 0 <= request_seed(5, "x") < 2**63


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"temperature": 0.0}, "temperature"), ({"max_new_tokens": 0}, "max_new_tokens"), ({"top_p": 0.0}, "top_p")],
    ids=["zero-temperature", "no-tokens", "zero-top-p"],
)
def test_generation_settings_reject_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GenerationSettings(**kwargs)


def test_greedy_settings_do_not_record_sampling_knobs():
    assert GenerationSettings(greedy=True, temperature=0.0).to_dict() == {"max_new_tokens": 128, "greedy": True,
                                                                          "seed": 0}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, smollm2_tokenizer):
    import torch
    from transformers import AutoModelForCausalLM

    directory = build_tiny_model(tmp_path_factory.mktemp("tiny"), smollm2_tokenizer)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: threads only add overhead (and contention on shared machines)
    yield AutoModelForCausalLM.from_pretrained(directory).eval(), smollm2_tokenizer
    torch.set_num_threads(threads)


def test_batched_greedy_generation_equals_one_at_a_time(tiny_model):
    model, tokenizer = tiny_model
    rows = rl_rows(2, 3)
    prompts, keys = [r["prompt"] for r in rows], [(r["session_id"], r["step_index"]) for r in rows]
    generator = HFGenerator(model, tokenizer, GenerationSettings(max_new_tokens=6, greedy=True))
    batched = generator.generate(prompts, keys)
    single = [generator.generate([p], [k])[0] for p, k in zip(prompts, keys, strict=True)]
    assert [g.text for g in batched] == [g.text for g in single]
    assert len({len(p[1]["content"]) for p in prompts}) > 1  # the batch really needed padding


def test_sharing_the_prompts_opening_changes_no_generated_token(tiny_model):
    from shop_r1.prompts import SYSTEM_PROMPT

    model, tokenizer = tiny_model
    rows = rl_rows(3, 3)
    # The real system prompt, as every prompt of `data build` opens with it.
    prompts = [[{"role": "system", "content": SYSTEM_PROMPT}, *r["prompt"][1:]] for r in rows]
    keys = [(r["session_id"], r["step_index"]) for r in rows]
    outputs = {}
    for share in (False, True):
        for greedy in (True, False):
            generator = HFGenerator(model, tokenizer, GenerationSettings(max_new_tokens=8, greedy=greedy, seed=5),
                                    share_prefix=share)
            texts = [g.text for begin in (0, 5) for g in
                     generator.generate(prompts[begin:begin + 5], keys[begin:begin + 5])]
            outputs[share, greedy] = texts
            if share:  # the system prompt was prefilled once, for both batches
                assert generator.prefix_cache.prefills == 1 and len(generator.prefix_cache.tokens) >= 32
    assert outputs[True, True] == outputs[False, True]
    assert outputs[True, False] == outputs[False, False]


def test_sampling_is_reproducible_for_the_same_seed_and_steps(tiny_model):
    model, tokenizer = tiny_model
    rows = rl_rows(1, 3)
    prompts, keys = [r["prompt"] for r in rows], [(r["session_id"], r["step_index"]) for r in rows]
    first = HFGenerator(model, tokenizer, GenerationSettings(max_new_tokens=6, seed=3)).generate(prompts, keys)
    again = HFGenerator(model, tokenizer, GenerationSettings(max_new_tokens=6, seed=3)).generate(prompts, keys)
    other = HFGenerator(model, tokenizer, GenerationSettings(max_new_tokens=6, seed=4)).generate(prompts, keys)
    assert [g.text for g in first] == [g.text for g in again]
    assert [g.text for g in first] != [g.text for g in other]


def test_a_sampled_row_does_not_depend_on_the_rows_beside_it(tiny_model):
    # The pairing an A/B test relies on: the same step samples the same tokens alone, in a batch, or in a
    # different order (transformers' own sampling draws every row from one shared RNG stream).
    model, tokenizer = tiny_model
    rows = rl_rows(2, 3)
    prompts, keys = [r["prompt"] for r in rows], [(r["session_id"], r["step_index"]) for r in rows]
    generator = HFGenerator(model, tokenizer, GenerationSettings(max_new_tokens=8, temperature=1.0, seed=2),
                            share_prefix=False)
    batched = [g.text for g in generator.generate(prompts, keys)]
    alone = [generator.generate([p], [k])[0].text for p, k in zip(prompts, keys, strict=True)]
    reverse = [g.text for g in generator.generate(prompts[::-1], keys[::-1])][::-1]
    assert batched == alone == reverse
    greedy = HFGenerator(model, tokenizer, GenerationSettings(max_new_tokens=8, greedy=True), share_prefix=False)
    assert batched != [g.text for g in greedy.generate(prompts, keys)]  # it really sampled
