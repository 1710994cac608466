"""Self-certainty s(r) of a generated rationale, from the policy's full next-token distributions.

Shop-R1 (arXiv 2507.17842, section 3, Eq. 3) rewards `alpha * s(r)`, where s(r) averages, over the N
tokens of the rationale, a KL divergence between the next-token distribution p_t (over the whole
vocabulary V) and the uniform distribution U. Three forms (`RewardConfig.self_certainty_form`):

- `"kl_u_p"` (project default, the form of Kang et al. 2025 and Intuitor):
  KL(U || p_t) = logsumexp(z_t) - mean(z_t) - log|V| for the logits z_t;
- `"kl_p_u"`: KL(p_t || U) = log|V| - H(p_t);
- `"paper_eq3"`: the paper's printed Eq. 3, KL(p_t || U) / |V|.

All three are 0 for a uniform distribution and grow as p_t sharpens. The value is a scalar reward:
it is computed under `torch.no_grad()` and never carries a gradient.

Numerical choices:
- Each chunk is copied to float32 before any arithmetic, so bf16 / fp16 logits accumulate in fp32;
  the result is float32 whatever the input dtype.
- Logits are divided by `temperature` *before* the softmax (p_t = softmax(z_t / temperature)), the
  same distribution the sampler used when the caller passes the sampling temperature.
- Each row is shifted by its maximum first: KL(U||p) is shift-invariant, and the shift stops
  logsumexp - mean from cancelling catastrophically when logits share a large offset. Entropy uses
  `torch.special.entr`, so zero-probability tokens (logits of -inf) contribute 0 to KL(p||U);
  KL(U||p) is then genuinely +inf, and `rewards.score.self_certainty_reward` turns a non-finite s into `None`.
- Memory: the sequence axis is processed in chunks of `chunk_size` positions, so at most one chunk of
  (B, chunk_size, V) float32 logits and its softmax exist at a time; chunks without rationale tokens
  are skipped.

Alignment (the caller's job): `logits[b, t]` must be the distribution that *produced* completion token
t, i.e. the model output at the position just before token t (a causal LM's logits at position i
predict token i + 1, so shift by one before calling). `mask[b, t]` marks completion token t as part of
the rationale, as returned by `rewards.token_mask.rationale_token_mask`.
"""

from __future__ import annotations

import math

import torch

from shop_r1.rewards.config import SELF_CERTAINTY_FORMS, SelfCertaintyForm

__all__ = ["per_token_self_certainty", "self_certainty"]


def _check_options(form: str, temperature: float) -> None:
    if form not in SELF_CERTAINTY_FORMS:
        raise ValueError(f"form must be one of {SELF_CERTAINTY_FORMS}, got {form!r}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")


def per_token_self_certainty(
    logits: torch.Tensor, form: SelfCertaintyForm = "kl_u_p", temperature: float = 1.0
) -> torch.Tensor:
    """Self-certainty of every position: logits (..., V) -> (...,) float32. No masking, no chunking."""
    _check_options(form, temperature)
    vocab = logits.shape[-1]
    z = logits.to(torch.float32, copy=True)  # copy: the in-place ops below must never touch the caller's tensor
    if temperature != 1.0:
        z.div_(temperature)
    z.sub_(z.amax(dim=-1, keepdim=True))  # (..., V), max 0 per row
    log_z = torch.logsumexp(z, dim=-1)  # (...,)
    if form == "kl_u_p":
        return log_z - z.mean(dim=-1) - math.log(vocab)
    probs = torch.softmax(z, dim=-1)
    kl_p_u = math.log(vocab) - torch.special.entr(probs).sum(dim=-1)
    return kl_p_u / vocab if form == "paper_eq3" else kl_p_u


def self_certainty(
    logits: torch.Tensor,
    mask: torch.Tensor,
    form: SelfCertaintyForm = "kl_u_p",
    temperature: float = 1.0,
    chunk_size: int = 128,
) -> torch.Tensor:
    """Per-sequence self-certainty: the masked mean over the rationale tokens of each sequence.

    Args:
        logits (`torch.Tensor` of shape `(B, T, V)`): completion logits, aligned as the module docstring says.
        mask (`torch.Tensor` of shape `(B, T)`): true (or 1) at the rationale tokens.
        form (`str`, *optional*, defaults to `"kl_u_p"`): `"kl_u_p"`, `"kl_p_u"` or `"paper_eq3"`.
        temperature (`float`, *optional*, defaults to `1.0`): logits are divided by it before the softmax.
        chunk_size (`int`, *optional*, defaults to `128`): positions processed at a time.

    Returns:
        `torch.Tensor` of shape `(B,)`, float32, on the logits' device; 0 for a sequence without rationale tokens.
    """
    if logits.dim() != 3:
        raise ValueError(f"logits must have shape (B, T, V), got {tuple(logits.shape)}")
    if tuple(mask.shape) != tuple(logits.shape[:2]):
        raise ValueError(f"mask must have shape {tuple(logits.shape[:2])} (B, T), got {tuple(mask.shape)}")
    _check_options(form, temperature)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    mask = mask.to(device=logits.device, dtype=torch.bool)
    batch, length, _ = logits.shape
    total = torch.zeros(batch, dtype=torch.float32, device=logits.device)
    with torch.no_grad():
        for start in range(0, length, chunk_size):
            chunk_mask = mask[:, start : start + chunk_size]  # (B, c)
            if not bool(chunk_mask.any()):
                continue
            per_token = per_token_self_certainty(logits[:, start : start + chunk_size], form, temperature)  # (B, c)
            # where(), not multiplication: an unmasked position may hold inf/NaN (e.g. padding logits).
            total += torch.where(chunk_mask, per_token, 0.0).sum(dim=-1)
        count = mask.sum(dim=-1)  # (B,)
        return torch.where(count > 0, total / count.clamp(min=1), 0.0)
