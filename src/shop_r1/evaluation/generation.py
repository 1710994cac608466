"""Batched text generation for evaluation: transformers on CPU (or one GPU), vLLM when it is installed.

Both backends take chat prompts (lists of messages), apply the tokenizer's chat template with the
generation prompt, and return the new text only, stopped at EOS or the template's end-of-turn token.

transformers: prompts are left-padded so that every row's last prompt token sits at the same position
and generation continues right after it (right padding would put pad tokens between a short prompt and
its answer); the KV cache is on. Prompts that open alike (every prompt here starts with the same system
prompt) share that opening's cache: the batch is laid out as the shared prefix, then the padding, then
each row's own tokens (`shop_r1.shared_prefill`), which changes no real token's position. Sampling draws
from one generator per row, seeded from the run seed and the row's step key
(`shop_r1.evaluation.row_sampling`), so a row samples the same tokens whichever rows share its batch, up
to float differences in the logits. vLLM seeds every request on its own (run seed + step key) too.

Paper (section 4): sampling temperature 0.6 for rollouts and evaluation; `greedy` is the
deterministic alternative.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from shop_r1.errors import ShopR1Error
from shop_r1.evaluation.records import StepKey

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

__all__ = [
    "BACKENDS",
    "Generation",
    "GenerationSettings",
    "Generator",
    "HFGenerator",
    "VLLMGenerator",
    "request_seed",
    "stop_token_ids",
    "vllm_available",
]

logger = logging.getLogger(__name__)

Message = dict[str, str]
Backend = Literal["auto", "hf", "vllm"]
BACKENDS: tuple[str, ...] = ("auto", "hf", "vllm")
# End-of-turn markers of common chat templates (ChatML, Llama 3, Phi, Gemma); used when present in the vocabulary.
_END_OF_TURN_TOKENS = ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "<|endoftext|>")


@dataclass(frozen=True)
class GenerationSettings:
    """How completions are sampled.

    Args:
        max_new_tokens (`int`, *optional*, defaults to 128):
            Cap on generated tokens. Gold answers of the embedded world are 45 tokens on average and at
            most ~80 with the SmolLM2 tokenizer; a well-behaved model stops at its end-of-turn token long before.
        temperature (`float`, *optional*, defaults to 0.6): sampling temperature (the paper's 0.6).
        top_p (`float`, *optional*, defaults to 1.0): nucleus sampling mass (1.0 = off).
        greedy (`bool`, *optional*, defaults to `False`): argmax decoding; temperature and top_p are ignored.
        seed (`int`, *optional*, defaults to 0): base seed of the per-row (per-request) sampling seeds.
    """

    max_new_tokens: int = 128
    temperature: float = 0.6
    top_p: float = 1.0
    greedy: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}")
        if not self.greedy and self.temperature <= 0:
            raise ValueError(f"temperature must be > 0 when sampling, got {self.temperature}; use greedy instead")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if self.greedy:  # they do not affect greedy decoding; recording them would only cause false mismatches
            out.pop("temperature")
            out.pop("top_p")
        return out


@dataclass(frozen=True, slots=True)
class Generation:
    """One completion: the new text, how many tokens it took, and why it ended (`stop` or `length`)."""

    text: str
    tokens: int
    finish_reason: str


class Generator(Protocol):
    """Anything that turns a batch of chat prompts into completions (the predict loop only needs this)."""

    backend: str

    def generate(self, prompts: Sequence[list[Message]], keys: Sequence[StepKey]) -> list[Generation]: ...


def request_seed(seed: int, *parts: object) -> int:
    """A 63-bit seed derived from the run seed and any identifying parts (stable across processes)."""
    digest = hashlib.sha256(repr((seed, *parts)).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def stop_token_ids(tokenizer: PreTrainedTokenizerBase, extra: Sequence[int] = ()) -> list[int]:
    """EOS plus every end-of-turn token the vocabulary has: generation stops at whichever comes first."""
    ids = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    ids.extend(extra)
    vocab = tokenizer.get_vocab()
    ids.extend(vocab[token] for token in _END_OF_TURN_TOKENS if token in vocab)
    return sorted(set(ids))


def chat_texts(tokenizer: PreTrainedTokenizerBase, prompts: Sequence[list[Message]]) -> list[str]:
    return [tokenizer.apply_chat_template(m, tokenize=False, add_generation_prompt=True) for m in prompts]


class HFGenerator:
    """Batched `model.generate` with left padding and the KV cache.

    Args:
        model: a causal LM (`PreTrainedModel`, or any object with the same `generate` and `device`).
        tokenizer: its tokenizer, with a chat template.
        settings (`GenerationSettings`): sampling settings.
        share_prefix (`bool`, *optional*, defaults to `True`): prefill the prompts' common opening (the
            system prompt) once and reuse its cache across batches (`shared_prefill.PromptPrefixCache`);
            the same tokens and scores within float tolerance, about a quarter fewer prompt FLOPs here.
    """

    backend = "hf"

    def __init__(self, model: Any, tokenizer: PreTrainedTokenizerBase, settings: GenerationSettings,
                 share_prefix: bool = True) -> None:
        from shop_r1.shared_prefill import PromptPrefixCache

        self.model = model
        self.tokenizer = tokenizer
        self.settings = settings
        self.prefix_cache = PromptPrefixCache(model) if share_prefix else None
        config_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
        extra = [config_eos] if isinstance(config_eos, int) else list(config_eos or [])
        self.stop_ids = stop_token_ids(tokenizer, extra)
        if not self.stop_ids:
            raise ShopR1Error("the tokenizer has no EOS or end-of-turn token: generation could never stop early")
        # Padding only fills the left of short prompts and is masked out; any stop token serves as filler.
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.stop_ids[0]

    def _token_rows(self, prompts: Sequence[list[Message]]) -> list[list[int]]:
        return [self.tokenizer(text, add_special_tokens=False)["input_ids"]
                for text in chat_texts(self.tokenizer, prompts)]

    def generate(self, prompts: Sequence[list[Message]], keys: Sequence[StepKey]) -> list[Generation]:
        import torch

        if not prompts:
            return []
        settings = self.settings
        from shop_r1.shared_prefill import prefix_layout

        rows = self._token_rows(prompts)
        prefix, cache = self.prefix_cache.cache_for(rows) if self.prefix_cache is not None else (0, None)
        input_ids, attention_mask = prefix_layout(rows, prefix, self.pad_id)  # prefix 0: plain left padding
        device = getattr(self.model, "device", None) or torch.device("cpu")
        # Explicit values override the model's generation_config (Qwen's ships top_k=20 and a repetition
        # penalty): evaluation samples from the plain temperature-scaled distribution, as vLLM does by default.
        # Sampling runs as greedy decoding over Gumbel-perturbed scores, with each row's noise from its own
        # seed: transformers' own sampling would share one RNG stream across the batch.
        sampling: dict[str, Any] = {"do_sample": False, "num_beams": 1, "repetition_penalty": 1.0}
        if not settings.greedy:
            from transformers import LogitsProcessorList

            from shop_r1.evaluation.row_sampling import RowSeededSampler

            seeds = [request_seed(settings.seed, key) for key in keys]
            sampling["logits_processor"] = LogitsProcessorList(
                [RowSeededSampler(seeds, settings.temperature, settings.top_p)])
        with torch.inference_mode():
            output = self.model.generate(
                input_ids=input_ids.to(device),
                attention_mask=attention_mask.to(device),
                max_new_tokens=settings.max_new_tokens,
                eos_token_id=self.stop_ids,
                pad_token_id=self.pad_id,
                use_cache=True,
                **({"cache": cache} if cache is not None else {}),
                **sampling,
            )
        new_tokens = output[:, input_ids.shape[1]:].tolist()  # (B, new)
        return [self._finish(ids) for ids in new_tokens]

    def _finish(self, ids: list[int]) -> Generation:
        """Cut a row at its first stop token (rows that stopped early are padded after it)."""
        stops = set(self.stop_ids)
        for index, token in enumerate(ids):
            if token in stops:
                return Generation(self._decode(ids[:index]), index + 1, "stop")
        return Generation(self._decode(ids), len(ids), "length")

    def _decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)


def vllm_available() -> bool:
    """True when vLLM is importable and a CUDA device is visible (vLLM is never required)."""
    if importlib.util.find_spec("vllm") is None:
        return False
    import torch

    return torch.cuda.is_available()


class VLLMGenerator:
    """vLLM's offline `LLM.chat` on a local model directory; each request carries its own seed."""

    backend = "vllm"

    def __init__(self, model_dir: str, settings: GenerationSettings, **llm_kwargs: Any) -> None:
        try:
            from vllm import LLM
        except ImportError as err:
            raise ShopR1Error("the vllm backend needs vLLM: `pip install 'shop-r1[vllm]'` on a GPU machine") from err
        self.settings = settings
        self.llm = LLM(model=model_dir, seed=settings.seed, **llm_kwargs)
        tokenizer = self.llm.get_tokenizer()
        self.stop_ids = stop_token_ids(tokenizer)

    def generate(self, prompts: Sequence[list[Message]], keys: Sequence[StepKey]) -> list[Generation]:
        from vllm import SamplingParams

        settings = self.settings
        params = [
            SamplingParams(
                temperature=0.0 if settings.greedy else settings.temperature,
                top_p=1.0 if settings.greedy else settings.top_p,
                max_tokens=settings.max_new_tokens,
                seed=request_seed(settings.seed, key),
                stop_token_ids=self.stop_ids,
            )
            for key in keys
        ]
        outputs = self.llm.chat([list(p) for p in prompts], params, use_tqdm=False)
        results = []
        for output in outputs:
            choice = output.outputs[0]
            results.append(Generation(choice.text, len(choice.token_ids), choice.finish_reason or "length"))
        return results
