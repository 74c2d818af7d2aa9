"""Continuous batching on a CPU: transformers' dense-mask SDPA against ioa's SDPA per packed request.

The embedded teacher's model runs `transformers`' continuous batcher (``generate_batch``, what ``transformers serve
--continuous-batching`` runs), here in process on the main job's first synthesis wave (capitals and regular plurals,
mode new, as many requests as the server's concurrency, the prompts rendered as the teacher client renders them).
Passes alternate between the two attentions, so a drift of the machine falls on both; each decodes
``--new-tokens`` tokens per request, greedy, and the two must write the same tokens. It prints each pass, the
medians and the ratio dense / per request (above 1: the per-request attention is faster).

    .venv/bin/python benchmarks/cb_attention.py --passes 2 --new-tokens 64
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import torch
from synthesis_derail import wave  # this folder is on the path of a script run from it
from transformers import AttentionInterface, AutoModelForCausalLM, AutoTokenizer
from transformers.generation import ContinuousBatchingConfig, GenerationConfig
from transformers.integrations.sdpa_attention import sdpa_attention_forward

from ioa.config import load_config
from ioa.teacher.cpu_attention import packed_sdpa
from ioa.teacher.local_server import cache_pages, ensure_teacher_folder
from ioa.teacher.prompt_format import PlainAdapter
from ioa.teacher.signatures import SynthesizeExercises

ATTENTIONS = {"dense mask": sdpa_attention_forward, "per request": packed_sdpa}


def prompts(tokenizer: Any, config: Any) -> list[list[int]]:
    """The wave's synthesis requests as token ids: the teacher client's messages in the model's chat template."""
    inputs, _ = wave(config)
    ids = []
    for request in inputs:
        fields = dict(request)
        demos = fields.pop("demos", [])
        messages = PlainAdapter().format(SynthesizeExercises, demos, fields)
        ids.append(
            tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=False)
        )
    return ids


def one_pass(model: Any, ids: list[list[int]], new_tokens: int, attention: str) -> tuple[float, list[list[int]]]:
    AttentionInterface.register("sdpa", ATTENTIONS[attention])
    generation = GenerationConfig(max_new_tokens=new_tokens, do_sample=False, eos_token_id=-1, pad_token_id=0)
    batching = ContinuousBatchingConfig(num_blocks=cache_pages(len(ids)))  # as the server sizes its cache
    started = time.perf_counter()
    out = model.generate_batch(
        inputs=ids, generation_config=generation, continuous_batching_config=batching, progress_bar=False
    )
    seconds = time.perf_counter() - started
    order = sorted(out, key=lambda request_id: int(request_id.rsplit("_", 1)[1]))
    return seconds, [out[r].generated_tokens for r in order]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passes", type=int, default=2, help="passes of each attention (default 2)")
    parser.add_argument("--new-tokens", type=int, default=64, help="tokens decoded per request (default 64)")
    args = parser.parse_args()
    config = load_config(None)
    torch.set_num_threads(config.teacher.serve_threads)
    folder = ensure_teacher_folder()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="sdpa").eval()
    ids = prompts(tokenizer, config)
    print(f"{len(ids)} requests, {sum(map(len, ids))} prompt tokens, {args.new_tokens} new tokens each", flush=True)
    seconds: dict[str, list[float]] = {name: [] for name in ATTENTIONS}
    outputs: dict[str, list[list[int]]] = {}
    for k in range(args.passes):
        for name in ATTENTIONS:
            took, outputs[name] = one_pass(model, ids, args.new_tokens, name)
            seconds[name].append(took)
            print(f"pass {k} {name:<11} {took:6.1f} s", flush=True)
    AttentionInterface.register("sdpa", sdpa_attention_forward)
    medians = {name: statistics.median(s) for name, s in seconds.items()}
    for name, median in medians.items():
        print(f"{name:<11} median {median:6.1f} s")
    same = outputs["dense mask"] == outputs["per request"]
    print(f"dense mask / per request: {medians['dense mask'] / medians['per request']:.2f}; same tokens: {same}")


if __name__ == "__main__":
    main()
