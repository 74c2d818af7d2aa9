"""The embedded server's per-request SDPA for the continuous batcher (ioa.teacher.cpu_attention)."""

from __future__ import annotations

import pytest
import torch
from torch.nn.functional import scaled_dot_product_attention
from transformers import AttentionInterface, LlamaConfig, LlamaForCausalLM
from transformers.generation import ContinuousBatchingConfig, GenerationConfig
from transformers.generation.continuous_batching.cache import PagedAttentionCache
from transformers.integrations.sdpa_attention import sdpa_attention_forward

from ioa.teacher.cpu_attention import packed_sdpa, register

HEADS, KV_HEADS, DIM = 6, 2, 8


class _Attention(torch.nn.Module):
    """What the attention functions read off the calling module."""

    num_key_value_groups = HEADS // KV_HEADS
    is_causal = True
    training = False


def _dense_reference(q, k, v, lengths_q, lengths_k):
    """The batcher's own way: one dense mask over the packed step, each request seeing its own keys up to its query."""
    mask = torch.zeros(q.shape[2], k.shape[2], dtype=torch.bool)
    q0 = k0 = 0
    for lq, lk in zip(lengths_q, lengths_k, strict=True):
        for j in range(lq):
            mask[q0 + j, k0 : k0 + lk - lq + j + 1] = True
        q0, k0 = q0 + lq, k0 + lk
    out = scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)
    return out.transpose(1, 2)


def test_packed_requests_attend_only_to_their_own_keys() -> None:
    # A step of the batcher: a fresh prompt, a chunk of a longer prompt after its cached start, two decoding
    # requests, and an empty padding slot.
    lengths_q, lengths_k = [7, 3, 1, 1, 0], [7, 10, 12, 5, 0]
    torch.manual_seed(0)
    q = torch.randn(1, HEADS, sum(lengths_q), DIM)
    k, v = (torch.randn(1, KV_HEADS, sum(lengths_k), DIM) for _ in range(2))
    cu_q = torch.tensor([0, *torch.tensor(lengths_q).cumsum(0).tolist()])
    cu_k = torch.tensor([0, *torch.tensor(lengths_k).cumsum(0).tolist()])

    out, weights = packed_sdpa(_Attention(), q, k, v, None, cu_seq_lens_q=cu_q, cu_seq_lens_k=cu_k)

    assert weights is None
    assert out.shape == (1, sum(lengths_q), HEADS, DIM)
    torch.testing.assert_close(out, _dense_reference(q, k, v, lengths_q, lengths_k))


def test_without_request_boundaries_it_is_transformers_sdpa() -> None:
    torch.manual_seed(1)
    q = torch.randn(2, HEADS, 5, DIM)
    k, v = (torch.randn(2, KV_HEADS, 5, DIM) for _ in range(2))
    ours, _ = packed_sdpa(_Attention(), q, k, v, None)
    theirs, _ = sdpa_attention_forward(_Attention(), q, k, v, None)
    torch.testing.assert_close(ours, theirs)


@pytest.fixture
def packed_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """register() for one test: the global attention table is restored afterwards."""
    monkeypatch.setattr(AttentionInterface, "_global_mapping", dict(AttentionInterface._global_mapping))
    register()


def _continuous_batch(prompts: list[list[int]], share: bool = True) -> list[list[int]]:
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=64,
        hidden_size=48,
        num_hidden_layers=2,
        num_attention_heads=HEADS,
        num_key_value_heads=KV_HEADS,
        intermediate_size=96,
        max_position_embeddings=128,
    )
    model = LlamaForCausalLM(config).eval()
    model.config._attn_implementation = "sdpa"
    generation = GenerationConfig(max_new_tokens=12, do_sample=False, eos_token_id=-1, pad_token_id=0)
    # Small pages and a small step budget: prompts are split into chunks and decode beside other prefills.
    batching = ContinuousBatchingConfig(num_blocks=32, page_size=8, max_batch_tokens=24, allow_block_sharing=share)
    out = model.generate_batch(
        inputs=prompts, generation_config=generation, continuous_batching_config=batching, progress_bar=False
    )
    return [state.generated_tokens for _, state in sorted(out.items(), key=lambda kv: int(kv[0].split("_")[1]))]


def test_continuous_batching_generates_what_the_dense_mask_generates(packed_registered: None) -> None:
    assert AttentionInterface._global_mapping["sdpa"] is packed_sdpa
    requests_per_call = []

    def counted(*args, cu_seq_lens_q=None, **kwargs):
        requests_per_call.append(0 if cu_seq_lens_q is None else len(cu_seq_lens_q) - 1)
        return packed_sdpa(*args, cu_seq_lens_q=cu_seq_lens_q, **kwargs)

    AttentionInterface._global_mapping["sdpa"] = counted
    prompts = [[(7 * i + j) % 60 + 2 for j in range(n)] for i, n in enumerate((5, 30, 11, 2, 17))]
    packed = _continuous_batch(prompts)
    assert max(requests_per_call) > 1  # the batcher packed several requests into one step
    AttentionInterface._global_mapping["sdpa"] = sdpa_attention_forward
    dense = _continuous_batch(prompts)
    assert packed == dense
    assert all(len(tokens) == 12 for tokens in packed)


def test_requests_that_share_a_prompt_start_reuse_its_pages_and_generate_the_same(
    packed_registered: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As a wave of synthesis requests: one long common start (system prompt, style reference), different ends.
    start = [(5 * j) % 60 + 2 for j in range(21)]
    prompts = [start + [(3 * i + j) % 60 + 2 for j in range(4 + i)] for i in range(4)]
    found = []
    search = PagedAttentionCache.search_prefix_match

    def counted(self, request_id, prompt):
        found.append(search(self, request_id, prompt))
        return found[-1]

    monkeypatch.setattr(PagedAttentionCache, "search_prefix_match", counted)
    shared = _continuous_batch(prompts)
    assert sum(found) >= 16  # later requests took two whole 8-token pages of the start from the cache
    AttentionInterface._global_mapping["sdpa"] = sdpa_attention_forward
    assert shared == _continuous_batch(prompts, share=False)
