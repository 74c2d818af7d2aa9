"""Answered probes per second: batched student generation against one probe at a time.

Usage (from the repository root):

    .venv/bin/python benchmarks/probe_throughput.py [--model tiny|PATH|HUB_ID|FILE.gguf] [--checkpoint DIR]
        [--probes-per-module 16] [--batch-size 64] [--max-new-tokens N] [--threads N]

Both paths answer the same probes of the default domain with the same greedy decoding, capped at the run's
derived student answer cap (ioa.lengths) unless --max-new-tokens says otherwise; batching uses left
padding and the KV cache (ioa.student_train.generate). A random tiny student rarely emits eos early, so
every answer runs to --max-new-tokens: the worst case for one-at-a-time and a fair one for batching.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from ioa.config import Config, StudentConfig
from ioa.domains import get_domain
from ioa.lengths import derive_lengths
from ioa.student_train import generate_answers, load_student
from ioa.student_train.model import TINY_TOKENIZER


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny", help="student.model: 'tiny', a folder, a hub id or a .gguf file")
    parser.add_argument("--checkpoint", type=Path, help="a student checkpoint folder (RUN_DIR/student/round_N)")
    parser.add_argument("--probes-per-module", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=StudentConfig().eval_batch_size)
    parser.add_argument("--max-new-tokens", type=int, help="default: the run's derived student answer cap")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    cfg = StudentConfig(model=args.model)
    student = load_student(cfg, TINY_TOKENIZER, args.checkpoint)
    defaults = Config()
    domain = get_domain(defaults.domain.name, 0)
    probes = [t for m in domain.modules for t in domain.probes(m.id, args.probes_per_module, seed=0)]
    questions = [t.question for t in probes]
    if args.max_new_tokens is None:
        lengths, _ = derive_lengths(
            domain,
            probes,
            student.tokenizer,
            student.context_window(),
            defaults.synthesis.examples_per_module,
            defaults.lengths,
        )
        args.max_new_tokens = lengths.student_answer
    total, _ = student.params()
    print(f"student {args.model} ({total / 1e6:.1f}M params) on {student.device}, {torch.get_num_threads()} threads")
    print(f"{len(questions)} probes from {len(domain.modules)} modules, max_new_tokens {args.max_new_tokens}")

    generate_answers(student, questions[:2], max_new_tokens=2, batch_size=2)  # warm-up: first-call overheads
    rates = {}
    answers = {}
    for name, batch_size in (("batched", args.batch_size), ("one at a time", 1)):
        start = time.perf_counter()
        answers[name] = generate_answers(student, questions, max_new_tokens=args.max_new_tokens, batch_size=batch_size)
        seconds = time.perf_counter() - start
        rates[name] = len(questions) / seconds
        print(f"{name:>14} (batch {batch_size:>3}): {seconds:7.2f} s, {rates[name]:7.2f} answered probes/s")
    same = sum(a == b for a, b in zip(answers["batched"], answers["one at a time"], strict=True))
    print(f"ratio batched / one at a time: {rates['batched'] / rates['one at a time']:.1f}x")
    print(f"identical answers: {same}/{len(questions)}")


if __name__ == "__main__":
    main()
