"""Teacher-written rationales for sessions that lack them (paper, section 2), over any OpenAI-compatible API.

`prompt` (what the teacher is asked, versioned) and `parse` (reply validation) are pure; `client` talks
HTTP with retries; `cache` keeps finished replies on disk; `synthesize` ties them together.
"""

from shop_r1.rationales.prompt import PROMPT_VERSION, RationalePromptConfig, SynthesisMode
from shop_r1.rationales.synthesize import (
    SessionFailure,
    SynthesisConfig,
    SynthesisResult,
    SynthesisSummary,
    synthesize_rationales,
    synthesize_rationales_async,
)

__all__ = [
    "PROMPT_VERSION",
    "RationalePromptConfig",
    "SessionFailure",
    "SynthesisConfig",
    "SynthesisMode",
    "SynthesisResult",
    "SynthesisSummary",
    "synthesize_rationales",
    "synthesize_rationales_async",
]
