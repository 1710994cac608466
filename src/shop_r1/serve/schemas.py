"""Request and response bodies of the HTTP API (pydantic), as they appear in /docs.

Requests forbid unknown fields: a misspelt or unsupported option (`presence_penalty`, `logprobs`) is a
422 naming it rather than a knob silently ignored. `/v1/chat/completions` follows OpenAI's chat
completions API for the fields the official client sends; `/v1/predict` is shop-r1's own.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

__all__ = [
    "ChatCompletion",
    "ChatCompletionRequest",
    "ChatMessage",
    "ModelList",
    "PredictRequest",
    "PredictResponse",
]

_SEED_BOUND = 2**63


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _SamplingFields(_Request):
    # NaN is no temperature: refuse it as such (a range check on NaN would report a misleading bound).
    temperature: float | None = Field(None, ge=0, le=2, allow_inf_nan=False,
                                      description="Sampling temperature; 0 = greedy. "
                                                  "Server default: 0.6 (the paper's).")
    top_p: float | None = Field(None, gt=0, le=1, allow_inf_nan=False,
                                description="Nucleus sampling mass; server default 1 (off).")
    # strict: "3" is a client bug (a form value sent as JSON), not three samples.
    n: int = Field(1, ge=1, strict=True, description="Completions to sample (one batched generate call).")
    seed: int | None = Field(None, ge=-_SEED_BOUND, lt=_SEED_BOUND,
                             description="Makes sampling reproducible on the same server and hardware.")


class PredictRequest(_SamplingFields):
    session: dict[str, Any] = Field(description="The session so far in shop-r1's native schema; its last step "
                                                "may have a page and no action (that page is the current one).")
    max_tokens: int | None = Field(None, ge=1, description="Cap on generated tokens (at most the server's "
                                                           "--max-new-tokens, the default).")
    model: str | None = Field(None, description="Optional; when given it must be the served model's name.")


class TextPart(_Request):
    type: Literal["text"]
    text: str


class ChatMessage(_Request):
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart]
    name: str | None = Field(None, description="Accepted for compatibility; not shown to the model.")

    def text(self) -> str:
        return self.content if isinstance(self.content, str) else "".join(part.text for part in self.content)


class ChatCompletionRequest(_SamplingFields):
    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1, description="Deprecated by OpenAI; max_completion_tokens wins.")
    max_completion_tokens: int | None = Field(None, ge=1)
    stop: str | list[str] | None = Field(None, description="Up to 4 strings; the text is cut before the first.")
    stream: bool | None = False
    user: str | None = Field(None, description="Accepted for compatibility; unused.")


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int
    message: AssistantMessage
    finish_reason: Literal["stop", "length"]
    logprobs: None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage
    system_fingerprint: str | None = None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "shop-r1"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class PredictedActionOut(BaseModel):
    type: Literal["click", "type_and_submit", "terminate"]
    name: str | None = None
    text: str | None = None

    @model_serializer(mode="wrap")
    def _leave_out_absent(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # The action's JSON as everywhere else in shop-r1 (`action_dict`): absent keys are left out, not null.
        return {key: value for key, value in handler(self).items() if value is not None}


class Sample(BaseModel):
    raw_completion: str
    rationale: str | None = Field(description="null when the completion is not one valid JSON answer.")
    action: PredictedActionOut | None
    finish_reason: Literal["stop", "length"]
    completion_tokens: int


class TypeCount(BaseModel):
    count: int
    share: float


class ActionCount(BaseModel):
    action: PredictedActionOut
    count: int
    share: float


class Distribution(BaseModel):
    n: int
    parse_failures: int
    action_types: dict[str, TypeCount]
    actions: list[ActionCount]


class PromptInfo(BaseModel):
    tokens: int
    dropped_pages: int = Field(description="Oldest pages whose HTML the context budget replaced by a marker.")
    current_page_truncated: bool
    has_current_page: bool


class PredictResponse(BaseModel):
    id: str
    object: Literal["shop_r1.prediction"] = "shop_r1.prediction"
    created: int
    model: str
    rationale: str | None = Field(description="The first sample's rationale (null when it did not parse).")
    action: PredictedActionOut | None = Field(description="The first sample's action (null when it did not parse).")
    raw_completion: str = Field(description="The first sample's text.")
    finish_reason: Literal["stop", "length"]
    samples: list[Sample]
    distribution: Distribution
    prompt: PromptInfo
    usage: Usage
    seed: int = Field(description="The seed used (drawn at random when the request gave none).")
