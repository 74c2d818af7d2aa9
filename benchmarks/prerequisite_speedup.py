"""Are the bench domain's prerequisites real in learning? Module B learnt after its prerequisite A, against after
an unrelated module C, against from scratch.

Usage (from the repository root):

    .venv/bin/python benchmarks/prerequisite_speedup.py [--edges A>B,...] [--control C] [--seeds 2]
        [--rounds 4] [--per-round 150] [--first 600] [--epochs 4] [--lr 2e-3] [--held-out 60]

An organizer that orders modules by prerequisites can only help where learning A first makes B faster to learn.
For each edge A -> B and seed, three tiny students (the bench's, same init seed) learn B's easiest level in
``--rounds`` rounds of ``--per-round`` fresh oracle worked solutions each (what every strategy trains on):

- ``scratch``: from random weights;
- ``after A``: first taught ``--first`` worked solutions of A's two lowest levels;
- ``after C``: first taught as many of an unrelated module C: the control for "any earlier training helps"
  (answer format, end of sequence), so that what ``after A`` gains over it is what the prerequisite gives.

Each round scores B's held-out items (the bench's held-out pool). The figure per condition is the mean held-out
accuracy over the rounds (the area under the learning curve); the ratio ``after A / after C`` is the
prerequisite's speed-up, printed per edge with the per-seed values.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from statistics import fmean

import torch
from transformers.utils import logging

from ioa.bench.oracle import worked_examples
from ioa.bench.student_vocab import domain_tokenizer
from ioa.config import Config
from ioa.domains import get_domain
from ioa.rules import even_split
from ioa.student_train import Example, load_student, train_student
from ioa.student_train.generate import generate_answers
from ioa.student_train.model import TINY_TOKENIZER

EDGES = "arithmetic/addition>arithmetic/chain_sum,arithmetic/multiplication>word_problems/leg_counting"
CONTROL = "calendar/weekday_offset"
ANSWER_CAP = 96
"""Tokens per held-out answer: room for an oracle worked solution of these modules at level 0."""


def worked(domain, module: str, levels: int, n: int, seed: int) -> list[Example]:
    """``n`` oracle worked solutions spread over the ``levels`` lowest levels, from the exercise pool."""
    split = even_split(n, levels)
    return worked_examples(t for level, k in split.items() for t in domain.exercises(module, level, k, seed))


def curve(domain, cfg: Config, tokenizer_dir: Path, tmp: Path, first: list[Example], module: str, args) -> list[float]:
    """B's held-out accuracy after each round, for a student first taught ``first`` (nothing when empty)."""
    student = load_student(cfg.student, tokenizer_dir, None, cfg.training)
    if first:
        train_student(student, first, cfg.training, tmp / "first")
    held_out = [t for t in domain.held_out(module, 3 * args.held_out, cfg.student.init_seed) if t.level == 0]
    out = []
    for r in range(args.rounds):
        lesson = worked(domain, module, 1, args.per_round, 5000 + 100 * cfg.student.init_seed + r)
        train_student(student, lesson, cfg.training, tmp / f"round_{r}")
        answers = generate_answers(student, [t.question for t in held_out], max_new_tokens=ANSWER_CAP, batch_size=64)
        out.append(fmean(domain.score(t, a) for t, a in zip(held_out, answers, strict=True)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", default=EDGES, help="comma-separated A>B prerequisite edges")
    parser.add_argument("--control", default=CONTROL, help="a module that is no prerequisite of any B")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--per-round", type=int, default=150)
    parser.add_argument("--first", type=int, default=600, help="worked solutions of A (or C) taught first")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--held-out", type=int, default=60, help="held-out items of B's easiest level")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    logging.disable_progress_bar()

    domain = get_domain("arithmetic", 0)
    with tempfile.TemporaryDirectory(prefix="ioa-prerequisites-") as tmp_name:
        tmp = Path(tmp_name)
        tokenizer_dir = domain_tokenizer(domain, TINY_TOKENIZER, tmp / "tokenizer")
        for edge in args.edges.split(","):
            a, b = edge.split(">")
            rows: dict[str, list[float]] = {"scratch": [], f"after {a}": [], f"after {args.control}": []}
            for seed in range(args.seeds):
                cfg = Config.model_validate(
                    {"student": {"init_seed": seed}, "training": {"epochs": args.epochs, "lr": args.lr, "seed": seed}}
                )
                firsts = {
                    "scratch": [],
                    f"after {a}": worked(domain, a, 2, args.first, 7000 + seed),
                    f"after {args.control}": worked(domain, args.control, 2, args.first, 7000 + seed),
                }
                for name, first in firsts.items():
                    accs = curve(domain, cfg, tokenizer_dir, tmp / f"{seed}-{len(rows[name])}", first, b, args)
                    rows[name].append(fmean(accs))
                    print(f"{a} > {b} seed {seed} {name:<32} per round {[round(x, 2) for x in accs]}", flush=True)
            means = {name: fmean(v) for name, v in rows.items()}
            control = means[f"after {args.control}"]
            ratio = f"{means[f'after {a}'] / control:.2f}x" if control > 0 else "undefined (the control learnt nothing)"
            print(
                f"{b}: mean held-out accuracy over rounds "
                + ", ".join(f"{name} {m:.3f}" for name, m in means.items())
                + f"; after the prerequisite / after the control = {ratio}",
                flush=True,
            )


if __name__ == "__main__":
    main()
