"""One synthesis wave through the continuous batcher on a CPU, three ways: what the embedded server runs, and the
two steps that led to it.

- ``dense mask``: transformers' SDPA and paged cache as they come (256-token pages, a step as big as memory allows);
- ``per request``: ioa's SDPA per packed request (``ioa.teacher.cpu_attention``), the same cache;
- ``shared prefix``: per request, with the server's cache (``ioa.teacher.local_server.batching``: 64-token pages,
  512 tokens a step), where a request reuses the pages of a prompt start already in the cache.

The embedded teacher's model runs `transformers`' continuous batcher (``generate_batch``, what ``transformers serve
--continuous-batching`` runs), here in process on the main job's first synthesis wave (capitals and regular plurals,
mode new, as many requests as the server's concurrency, the prompts rendered as the teacher client renders them).
Every pass runs the three in turn, so a drift of the machine falls on all; each decodes ``--new-tokens`` tokens per
request, greedy, and all must write the same tokens. It prints each pass (with the prompt tokens the cache shared),
the medians and each one's ratio to the server's (above 1: the server's way is faster).

    .venv/bin/python benchmarks/cb_wave.py --passes 2 --new-tokens 64
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
from transformers.generation.continuous_batching.cache import PagedAttentionCache
from transformers.integrations.sdpa_attention import sdpa_attention_forward

from ioa.config import load_config
from ioa.teacher.cpu_attention import packed_sdpa
from ioa.teacher.local_server import batching, ensure_teacher_folder
from ioa.teacher.prompt_format import PlainAdapter
from ioa.teacher.signatures import SynthesizeExercises

SERVER = "shared prefix"


def transformers_cache(requests: int) -> ContinuousBatchingConfig:
    """transformers' own page and step sizes, over the same memory as the server's cache."""
    server = batching(requests)
    own_page = ContinuousBatchingConfig().page_size
    return ContinuousBatchingConfig(num_blocks=server["num_blocks"] * server["page_size"] // own_page)


VARIANTS = {
    "dense mask": (sdpa_attention_forward, transformers_cache),
    "per request": (packed_sdpa, transformers_cache),
    SERVER: (packed_sdpa, lambda requests: ContinuousBatchingConfig(**batching(requests))),
}


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


def one_pass(model: Any, ids: list[list[int]], new_tokens: int, variant: str) -> tuple[float, int, list[list[int]]]:
    """Seconds, prompt tokens found in the cache, and each request's tokens."""
    attention, cache = VARIANTS[variant]
    AttentionInterface.register("sdpa", attention)
    generation = GenerationConfig(max_new_tokens=new_tokens, do_sample=False, eos_token_id=-1, pad_token_id=0)
    shared = []
    search = PagedAttentionCache.search_prefix_match

    def counted(self: Any, request_id: str, prompt: list[int]) -> int:
        shared.append(search(self, request_id, prompt))
        return shared[-1]

    PagedAttentionCache.search_prefix_match = counted
    try:
        started = time.perf_counter()
        out = model.generate_batch(
            inputs=ids, generation_config=generation, continuous_batching_config=cache(len(ids)), progress_bar=False
        )
        seconds = time.perf_counter() - started
    finally:
        PagedAttentionCache.search_prefix_match = search
    order = sorted(out, key=lambda request_id: int(request_id.rsplit("_", 1)[1]))
    return seconds, sum(shared), [out[r].generated_tokens for r in order]


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
    seconds: dict[str, list[float]] = {name: [] for name in VARIANTS}
    outputs: dict[str, list[list[int]]] = {}
    for k in range(args.passes):
        for name in VARIANTS:
            took, shared, outputs[name] = one_pass(model, ids, args.new_tokens, name)
            seconds[name].append(took)
            print(f"pass {k} {name:<13} {took:6.1f} s, {shared} prompt tokens from the cache", flush=True)
    AttentionInterface.register("sdpa", sdpa_attention_forward)
    medians = {name: statistics.median(s) for name, s in seconds.items()}
    for name, median in medians.items():
        print(f"{name:<13} median {median:6.1f} s, {median / medians[SERVER]:.2f} x {SERVER}")
    same = all(tokens == outputs[SERVER] for tokens in outputs.values())
    print(f"same tokens: {same}")


if __name__ == "__main__":
    main()
