"""A round of the main job's training, the tiny student over the full tiny tokenizer against the run's cut of it.

Both students are built as a run builds them (``load_student`` from the default config) and trained with
``train_student`` on the same examples: the words domain's style references as worked targets, repeated to a
round's batch, for ``--steps`` optimizer steps (a round takes ``SCRATCH_STEPS``, 150). The passes alternate, so
a drift of the machine falls on both; it prints each pass's wall time and the medians and their ratio.

    .venv/bin/python benchmarks/student_vocab.py --steps 30 --passes 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from ioa.config import load_config
from ioa.domains import get_domain
from ioa.student_train import Example, load_student, train_student
from ioa.student_train.model import TINY_TOKENIZER
from ioa.student_train.run_vocab import run_tokenizer


def _examples(domain_name: str, rows: int) -> list[Example]:
    domain = get_domain(domain_name, 0)
    refs = [
        Example(r.problem, f"{r.steps}\nAnswer: {r.answer}")
        for m in domain.modules
        for level in range(m.levels)
        for r in domain.lesson(m.id, level).references
    ]
    return (refs * (rows // len(refs) + 1))[:rows]


def _timed(tokenizer_dir: Path, examples: list[Example], steps: int) -> tuple[float, int]:
    cfg = load_config(None, [f"training.epochs={steps}", "training.consolidation_epochs=0"])
    student = load_student(cfg.student, tokenizer_dir, training=cfg.training)
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        train_student(student, examples, cfg.training, Path(out))
        return time.perf_counter() - started, len(student.tokenizer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=30, help="optimizer steps per pass (one batch an epoch)")
    parser.add_argument("--rows", type=int, default=16, help="examples in the batch (the training batch size)")
    parser.add_argument("--passes", type=int, default=3, help="passes of each tokenizer, alternating")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    examples = _examples("words", args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        cut = run_tokenizer(get_domain("words", 0), Path(tmp) / "tokenizer")
        times: dict[str, list[float]] = {"full": [], "cut": []}
        sizes = {}
        for _ in range(args.passes):
            for name, folder in (("full", TINY_TOKENIZER), ("cut", cut)):
                seconds, sizes[name] = _timed(folder, examples, args.steps)
                times[name].append(seconds)
                print(f"{name:>4}: vocabulary {sizes[name]:>6}, {args.steps} steps in {seconds:6.1f} s", flush=True)
    full, short = statistics.median(times["full"]), statistics.median(times["cut"])
    print(f"median full {full:.1f} s, cut {short:.1f} s; cut / full {short / full:.2f}")


if __name__ == "__main__":
    main()
