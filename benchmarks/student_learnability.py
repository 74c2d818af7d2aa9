"""How fast the embedded tiny student learns one (module, level) cell: the ceiling under every `ioa bench` figure.

Usage (from the repository root):

    .venv/bin/python benchmarks/student_learnability.py [--module arithmetic/addition] [--level 0]
        [--rounds 6] [--per-round 300] [--epochs 3] [--lr X] [--probes 30] [--threads 1] [--vocab teacher]

Each round trains the student (the default tiny from-scratch one, `student.init_seed` 0, the project's
`train_student` recipe) on ``--per-round`` fresh exercises of one cell, answered by the domain's checker
(``Answer: X``, the adapter's practice format), then scores it on the cell's held-out items (the bench's
held-out pool, which exercises never come from) and on the last round's own exercises. The gap between
the two is memorisation without generalisation: a strategy can only be as good as this curve allows.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from statistics import fmean

import torch
from transformers.utils import logging

from ioa.bench.student_vocab import domain_tokenizer
from ioa.config import Config
from ioa.domains import get_domain
from ioa.student_train import Example, generate_answers, load_student, train_student
from ioa.student_train.model import TINY_TOKENIZER


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", default="arithmetic/addition")
    parser.add_argument("--level", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--per-round", type=int, default=300, help="checker-answered exercises per round")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=None, help="default: the config's (training.lr)")
    parser.add_argument("--probes", type=int, default=30, help="held-out probes of the cell")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--vocab",
        choices=["teacher", "domain"],
        default="teacher",
        help="the student's tokenizer: the teacher's, or the one `ioa bench` cuts to the domain (bench.vocab)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    logging.disable_progress_bar()  # a checkpoint is saved every round

    cfg = Config.model_validate({"training": {"epochs": args.epochs, "lr": args.lr}})
    domain = get_domain("arithmetic", 0)
    with tempfile.TemporaryDirectory(prefix="ioa-learnability-") as tmp_name:
        tmp = Path(tmp_name)
        tokenizer_dir = TINY_TOKENIZER
        if args.vocab == "domain":
            tokenizer_dir = domain_tokenizer(domain, tokenizer_dir, tmp / "tokenizer")
        student = load_student(cfg.student, tokenizer_dir, None, cfg.training)
        levels = next(m.levels for m in domain.modules if m.id == args.module)
        # held_out() spreads n over the levels; ask for enough to get --probes at the chosen one.
        probes = [t for t in domain.held_out(args.module, args.probes * levels, 0) if t.level == args.level]

        def accuracy(tasks: list) -> float:
            answers = generate_answers(student, [t.question for t in tasks], max_new_tokens=12, batch_size=64)
            return fmean(domain.score(t, a) for t, a in zip(tasks, answers, strict=True))

        print(
            f"{args.module} level {args.level}: {len(probes)} held-out probes, {args.per_round} exercises a round, "
            f"{student.model.config.vocab_size}-token vocabulary"
        )
        for r in range(1, args.rounds + 1):
            tasks = domain.exercises(args.module, args.level, args.per_round, seed=100 + r)
            started = time.perf_counter()
            result = train_student(
                student, [Example(t.question, f"Answer: {t.answer}") for t in tasks], cfg.training, tmp / f"r{r}"
            )
            print(
                f"round {r}: {r * args.per_round} examples seen, {result.steps} steps, loss {result.loss_last:.2f}, "
                f"train accuracy {accuracy(tasks[:64]):.2f}, held-out accuracy {accuracy(probes):.2f} "
                f"({time.perf_counter() - started:.0f} s)",
                flush=True,
            )


if __name__ == "__main__":
    main()
