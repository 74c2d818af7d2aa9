"""Synthesis waves read whole against read until they derail (ioa.teacher.derail), on the embedded teacher.

Each pass sends one wave of the main job's first synthesis requests (capitals and regular plurals, mode new,
as many requests as the teacher's concurrency, sampled at the run's temperature, capped as a run caps them)
and times it. Passes alternate between reading every reply whole and dropping each where it derails, so a drift
of the machine falls on both. It prints each pass's wall time, completion tokens and parsed exercises, then the
medians and the ratio of cut to whole.

    .venv/bin/python benchmarks/synthesis_derail.py --passes 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from transformers import AutoTokenizer

from ioa.agents.synthesis import build_requests
from ioa.config import load_config
from ioa.domains import get_domain
from ioa.events import Reporter
from ioa.graph.runner import teacher_endpoint
from ioa.lengths import derive_lengths, synthesis_cap
from ioa.rundir import RunDir
from ioa.state import IOAState
from ioa.student_train.model import TINY_TOKENIZER
from ioa.teacher.client import ChatTeacher, build_chat_model
from ioa.teacher.exercises import parse_exercises
from ioa.traces import Tracer

FOCUS = ["capitals", "plural/regular"]


def wave(config: Any, focus: list[str] = FOCUS, draw: int = 100) -> tuple[list[dict[str, Any]], int]:
    """One wave of synthesis requests for ``focus`` at its first level, and their completion cap, as the main job sends
    them (by default its first stage's); ``draw`` rotates the items each request leads with."""
    domain = get_domain("words", 0)
    # A measured yield of 0.3 kept per request, as the embedded teacher's: the wave fills the concurrency.
    state = IOAState(
        modules=[m.id for m in domain.modules],
        focus=focus,
        p_teacher=dict.fromkeys(focus, 0.8),
        p_student=dict.fromkeys(focus, 0.0),
        synthesis=[{"module": m, "requests": 10, "kept": 3} for m in focus],
    )
    requests = build_requests(state, SimpleNamespace(config=config, domain=domain), dict.fromkeys(focus, "new"), draw)
    probes = [t for m in domain.modules for t in domain.probes(m.id, config.domain.probes_per_module, 0)]
    tokenizer = AutoTokenizer.from_pretrained(TINY_TOKENIZER)
    j = config.synthesis.examples_per_module
    lengths, _ = derive_lengths(domain, probes, tokenizer, config.student.context_length, j, config.lengths)
    return [r.inputs for r in requests], synthesis_cap(lengths.teacher_synthesis, requests[0].count, j)


@contextmanager
def embedded_teacher(config: Any) -> Iterator[ChatTeacher]:
    """ioa's teacher client against the embedded server, as a run starts them, with its traces in a scratch folder."""
    work = Path(tempfile.mkdtemp(prefix="ioa-bench-teacher-"))
    with teacher_endpoint(config, RunDir(work), Reporter()) as (url, model):
        teacher_cfg = config.teacher.for_embedded_server().model_copy(update={"model": model})
        yield ChatTeacher(build_chat_model(teacher_cfg, url, None), teacher_cfg, Tracer(work / "traces.jsonl"))


def one_pass(teacher: ChatTeacher, inputs: list[dict[str, Any]], cap: int, cut: bool, draw: str) -> dict[str, Any]:
    derails = teacher.derails
    teacher.derails = derails if cut else {}
    before = teacher.snapshot()
    started = time.perf_counter()
    replies = teacher.run(
        "synthesize_new", inputs, round=1, node="teach", temperature=teacher.cfg.temperature, max_tokens=cap, draw=draw
    )
    seconds = time.perf_counter() - started
    teacher.derails = derails
    after = teacher.snapshot()
    return {
        "read": "until derailed" if cut else "whole",
        "seconds": round(seconds, 1),
        "completion_tokens": after["completion_tokens"] - before["completion_tokens"],
        "parsed": sum(len(parse_exercises(p.exercises)) for p in replies if p is not None),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passes", type=int, default=3, help="passes of each way of reading (default 3)")
    args = parser.parse_args()
    config = load_config(None)
    inputs, cap = wave(config)
    rows = []
    with embedded_teacher(config) as teacher:
        for k in range(args.passes):
            for cut in (False, True):
                rows.append(one_pass(teacher, inputs, cap, cut, draw=f"pass{k}/{cut}"))
                print(rows[-1], flush=True)
    print(f"{len(inputs)} requests a wave, completion cap {cap} tokens")
    medians = {}
    for way in ("whole", "until derailed"):
        mine = [r for r in rows if r["read"] == way]
        medians[way] = {k: statistics.median(r[k] for r in mine) for k in ("seconds", "completion_tokens", "parsed")}
        print(f"{way:<15} median {medians[way]}")
    whole, cut = medians["whole"], medians["until derailed"]
    print(
        f"until derailed / whole: wall {cut['seconds'] / whole['seconds']:.2f}, "
        f"completion tokens {cut['completion_tokens'] / whole['completion_tokens']:.2f}, "
        f"parsed {cut['parsed'] / max(whole['parsed'], 1):.2f}"
    )


if __name__ == "__main__":
    main()
