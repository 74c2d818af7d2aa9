"""A byte-level BPE tokenizer cut down to the tokens a domain's text uses, for a from-scratch student.

A tiny student that speaks the teacher's 49,152-token vocabulary spends most of every training step
in its output layer and its softmax (docs/bench.md, "Runtime"), though its domain's text uses a few
hundred of those tokens. The cut tokenizer keeps the 256 byte tokens, the special tokens and every
token the sample text is split into, together with the merges that build them. It splits the domain's
text into exactly the tokens the full one does (same count, so token budgets mean the same), and it
still reads any other text, falling back to shorter pieces down to single bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from transformers import PreTrainedTokenizerFast


def _with_parts(used: set[str], merges: list[list[str]]) -> set[str]:
    """``used`` plus, recursively, the two parts every merged token was built from."""
    parts = {}
    for left, right in merges:
        parts.setdefault(left + right, (left, right))
    kept, todo = set(), list(used)
    while todo:
        token = todo.pop()
        if token in kept:
            continue
        kept.add(token)
        todo.extend(parts.get(token, ()))
    return kept


def cut_tokenizer(full: PreTrainedTokenizerFast, texts: Iterable[str], out: Path) -> Path:
    """Write to ``out`` the tokenizer ``full`` cut down to what ``texts`` use; returns ``out``.

    Ids are renumbered in the full vocabulary's order, so special tokens keep their ids.
    """
    spec = json.loads(full.backend_tokenizer.to_str())
    model = spec["model"]
    if model["type"] != "BPE" or spec["pre_tokenizer"].get("type") != "ByteLevel":
        raise ValueError(f"only a byte-level BPE tokenizer can be cut (found {model['type']})")
    merges = [m.split(" ") if isinstance(m, str) else m for m in model["merges"]]
    used = {token for text in texts for token in full.tokenize(text)}
    specials = {t["content"] for t in spec["added_tokens"]}
    # The byte alphabet is what every merge chain starts from: its 256 tokens are the ones no merge builds.
    built = {left + right for left, right in merges}
    alphabet = {token for token in model["vocab"] if token not in built and token not in specials}
    kept = _with_parts(used, merges) | alphabet | specials
    order = sorted(kept, key=model["vocab"].__getitem__)
    new_id = {token: i for i, token in enumerate(order)}
    model["vocab"] = new_id
    model["merges"] = [[left, right] for left, right in merges if {left, right, left + right} <= kept]
    for added in spec["added_tokens"]:
        added["id"] = new_id[added["content"]]
    # The folder as the full tokenizer saves it (config, chat template), with the cut vocabulary in tokenizer.json.
    full.save_pretrained(out)
    (Path(out) / "tokenizer.json").write_text(json.dumps(spec, ensure_ascii=False))
    return Path(out)
