"""SDPA for the embedded server's continuous batcher: each packed request attends to its own keys only.

Under continuous batching, `transformers` packs every request of a step into one sequence, and its SDPA attention
takes one dense mask over all the queries and all the keys of the step. So 16 synthesis prompts of about 450 tokens
cost the attention of one 7,000-token sequence, and each decoding step attends every new token to all 16 requests'
keys, copied three times over for the grouped heads. On a CPU that made a wave of 16 synthesis requests about three
times as slow as plain batched ``generate`` (docs/teacher.md).

The batcher also passes where each packed request starts (``cu_seq_lens_q``, ``cu_seq_lens_k``). The server
process registers :func:`packed_sdpa` as its ``sdpa``, which uses them: one SDPA call per request, causal from the
bottom right (a request's queries are its last tokens), the grouped heads shared instead of copied. Outside the
batcher (no boundaries given) it is transformers' own SDPA.
"""

from __future__ import annotations

import torch
from torch.nn.functional import scaled_dot_product_attention
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward


def register() -> None:
    """Use :func:`packed_sdpa` for every model in this process that asks for ``sdpa`` (the server's bootstrap)."""
    AttentionInterface.register("sdpa", packed_sdpa)


def packed_sdpa(
    module: torch.nn.Module,
    query: torch.Tensor,  # [1, heads, query tokens of all requests, head_dim]
    key: torch.Tensor,  # [1, kv heads, key tokens of all requests, head_dim]
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    *,
    scaling: float | None = None,
    cu_seq_lens_q: torch.Tensor | None = None,
    cu_seq_lens_k: torch.Tensor | None = None,
    **kwargs: object,
) -> tuple[torch.Tensor, None]:
    """Attention of each packed request over its own keys; [1, query tokens, heads, head_dim] like SDPA's."""
    if cu_seq_lens_q is None or cu_seq_lens_k is None:
        return sdpa_attention_forward(module, query, key, value, attention_mask, scaling=scaling, **kwargs)
    starts_q = cu_seq_lens_q.tolist()
    starts_k = cu_seq_lens_k.tolist()
    out = torch.empty_like(query)
    for i in range(len(starts_q) - 1):
        q0, q1, k0, k1 = starts_q[i], starts_q[i + 1], starts_k[i], starts_k[i + 1]
        if q1 > q0:  # padding slots have no queries
            out[:, :, q0:q1] = _attend(query[:, :, q0:q1], key[:, :, k0:k1], value[:, :, k0:k1], scaling)
    return out.transpose(1, 2), None


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scaling: float | None) -> torch.Tensor:
    """SDPA of one request whose queries are the last of its keys: each query sees the keys up to its own."""
    length_q, length_k = q.shape[2], k.shape[2]
    if length_q == 1 or length_q == length_k:
        return scaled_dot_product_attention(q, k, v, is_causal=length_q > 1, scale=scaling, enable_gqa=True)
    mask = torch.ones(length_q, length_k, dtype=torch.bool, device=q.device).tril(length_k - length_q)
    return scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scaling, enable_gqa=True)
