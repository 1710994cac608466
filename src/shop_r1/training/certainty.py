"""Per-token self-certainty of the policy's rationale tokens, taken from forwards the GRPO step already runs.

Shop-R1's rationale reward (section 3, Eq. 3) needs the policy's *full* next-token distribution at
every rationale token; TRL gives reward functions only text and ids. Two capture points, neither of
which adds a pass over the sequences nor holds (batch, length, vocab) logits:

- `GenerationCapture`: while `transformers.generate` samples the rollouts, a forward hook on the output
  embeddings reduces each decoding step's (B, 1, V) logits, the very distribution the token was
  sampled from, to one self-certainty value per row. Cost: a logsumexp and a mean over V per step.
- `ForwardCapture`: when the rollouts come from elsewhere (vLLM, continuous batching), a forward hook
  on the decoder backbone reads the final hidden states of a no-grad policy forward (TRL's
  old-log-prob pass when it runs one, else one such pass run for this purpose) and projects only the
  rationale positions through the LM head, `chunk_size` positions at a time. The head weight is
  gathered once per forward call whatever the rows hold, so every rank issues the same collectives
  under ZeRO-3 / FSDP.

Both leave the math to `shop_r1.rewards.per_token_self_certainty` (temperature-scaled, float32) and the
choice of rationale tokens to `shop_r1.rewards.rationale_token_mask`; `masked_means` reduces per-token
values to one s(r) per completion (`None` when it has no rationale token).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn


def masked_means(per_token: Sequence[Sequence[float]], masks: Sequence[Sequence[bool]]) -> list[float | None]:
    """Mean of each row's values over its masked positions; `None` for a row with no masked position.

    >>> masked_means([[1.0, 2.0, 4.0], [5.0]], [[False, True, True], [False]])
    [3.0, None]
    """
    out: list[float | None] = []
    for values, mask in zip(per_token, masks, strict=True):
        picked = [v for v, m in zip(values, mask, strict=False) if m]
        out.append(math.fsum(picked) / len(picked) if picked else None)
    return out


def _per_token(logits: torch.Tensor, form: str, temperature: float) -> torch.Tensor:
    from shop_r1.rewards import per_token_self_certainty

    return per_token_self_certainty(logits, form=form, temperature=temperature)


class GenerationCapture:
    """Self-certainty of every sampled token, from the logits `generate` computes anyway.

    Use as a context manager around generation; `per_token(lengths)` then returns, per row, the values of
    its first `lengths[i]` generated tokens (decoding step t produced token t of every row).
    """

    def __init__(self, output_embeddings: nn.Module, *, form: str, temperature: float) -> None:
        self.module = output_embeddings
        self.form = form
        self.temperature = temperature
        self.steps: list[torch.Tensor] = []  # one (B,) float32 tensor per decoding step
        self._handle: Any = None

    def _hook(self, module: nn.Module, args: Any, output: torch.Tensor) -> None:
        # generate asks for the last position only (logits_to_keep=1); take it explicitly for models that don't.
        last = output[:, -1, :] if output.dim() == 3 else output  # (B, V)
        with torch.no_grad():
            # Stays on the device: a per-step copy to the CPU would synchronise every decoding step on a GPU.
            self.steps.append(_per_token(last.detach(), self.form, self.temperature))

    def __enter__(self) -> GenerationCapture:
        self.steps.clear()
        self._handle = self.module.register_forward_hook(self._hook)
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.remove()
        self._handle = None

    def per_token(self, lengths: Sequence[int]) -> list[list[float]] | None:
        """Values per row, or `None` when the hook did not see one step per generated token of every row
        (generation ran elsewhere), so the caller falls back to a forward."""
        if not self.steps:
            return None
        table = torch.stack(self.steps, dim=1).cpu()  # (B, steps)
        if table.size(0) != len(lengths) or max(lengths, default=0) > table.size(1):
            return None
        return [table[row, :length].tolist() for row, length in enumerate(lengths)]


def _logit_transform(config: Any) -> tuple[float, float | None]:
    """The output scaling and soft-capping the model's head applies (TRL's fused head reads the same fields)."""
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    scale = getattr(text_config, "logit_scale", None)
    return (1.0 if scale is None else float(scale)), getattr(text_config, "final_logit_softcapping", None)


class ForwardCapture:
    """Self-certainty at the rationale positions of a no-grad policy forward over prompt + completion.

    Rows arrive in order, in as many forward calls as the trainer's micro-batching makes; each call
    covers the next `B` rows. `masks[i][t]` marks completion token t of row i; the completion occupies the
    last `logits_to_keep` positions, so token t is predicted by hidden state `L - logits_to_keep - 1 + t`.
    """

    def __init__(
        self,
        causal_lm: nn.Module,
        masks: Sequence[Sequence[bool]],
        logits_to_keep: int,
        *,
        form: str,
        temperature: float,
        chunk_size: int = 256,
    ) -> None:
        self.causal_lm = causal_lm
        self.masks = [list(m) for m in masks]
        self.logits_to_keep = logits_to_keep
        self.form = form
        self.temperature = temperature
        self.chunk_size = chunk_size
        self.scale, self.softcap = _logit_transform(causal_lm.config)
        self.values: list[list[float]] = [[] for _ in self.masks]
        self.rows_seen = 0
        self._handle: Any = None

    def _positions(self, rows: range, length: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """Batch-local row indices and sequence positions of the rationale tokens of `rows`."""
        row_index, position = [], []
        offset = length - self.logits_to_keep - 1
        for local, row in enumerate(rows):
            for t, marked in enumerate(self.masks[row][: self.logits_to_keep]):
                if marked:
                    row_index.append(local)
                    position.append(offset + t)
        as_tensor = lambda xs: torch.tensor(xs, dtype=torch.long, device=device)  # noqa: E731
        return as_tensor(row_index), as_tensor(position)

    def _head_logits(self, hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        logits = nn.functional.linear(hidden.to(weight.dtype), weight, bias).float()  # (n, V)
        if self.scale != 1.0:
            logits = logits * self.scale
        if self.softcap is not None:
            logits = self.softcap * torch.tanh(logits / self.softcap)
        return logits

    def _hook(self, module: nn.Module, args: Any, output: Any) -> None:
        from trl.trainer.utils import maybe_gather_lm_head_ctx

        hidden = output.last_hidden_state if hasattr(output, "last_hidden_state") else output[0]  # (B, L, H)
        rows = range(self.rows_seen, self.rows_seen + hidden.size(0))
        self.rows_seen += hidden.size(0)
        row_index, position = self._positions(rows, hidden.size(1), hidden.device)
        head = self.causal_lm.get_output_embeddings()
        weight, bias = head.weight, head.bias
        with torch.no_grad():
            # One gather per forward call, never conditional on the data: ZeRO-3 / FSDP ranks stay in step.
            if hasattr(weight, "full_tensor"):  # FSDP2 DTensor
                weight = weight.full_tensor()
                bias = bias.full_tensor() if bias is not None else None
            with maybe_gather_lm_head_ctx(weight, bias):
                picked = hidden[row_index, position]  # (n, H): rationale positions only
                scores = [
                    _per_token(self._head_logits(picked[start : start + self.chunk_size], weight, bias),
                               self.form, self.temperature)
                    for start in range(0, picked.size(0), self.chunk_size)
                ]
        flat = torch.cat(scores).tolist() if scores else []
        for local, value in zip(row_index.tolist(), flat, strict=True):
            self.values[rows[local]].append(value)

    def __enter__(self) -> ForwardCapture:
        backbone = getattr(self.causal_lm, "base_model", None)
        if backbone is None or backbone is self.causal_lm:
            raise TypeError(f"{type(self.causal_lm).__name__} exposes no decoder backbone (`base_model`)")
        self._handle = backbone.register_forward_hook(self._hook)
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.remove()
        self._handle = None

    def means(self) -> list[float | None]:
        """s(r) per row: the mean over its rationale tokens (`None` without any)."""
        if self.rows_seen != len(self.masks):
            raise RuntimeError(f"the policy forward covered {self.rows_seen} rows, expected {len(self.masks)}")
        return [math.fsum(v) / len(v) if v else None for v in self.values]
