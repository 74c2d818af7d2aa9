"""Training time of a from-scratch student's rounds: every planned step against stopping once the batch is learnt.

Usage (from the repository root):

    .venv/bin/python benchmarks/round_stop.py [--threads 2] [--recipe both|every|learnt]

Three rounds of worked word exercises in the adapter's template, as the main job's first rounds teach them
(capitals and regular plurals at levels 1-2, then their next levels, then plurals in -es), train the default tiny
student twice from the same initial weights with the run's own recipe: epochs from ``round_epochs``
(``SCRATCH_STEPS``), replay from every earlier round (``training.replay_fraction``), optimizer moments carried.
Once with every planned step, once with ``stop_when_learnt`` (the run's default, ``until_learnt``). After each
round it prints the round's steps and training seconds, and how many of every example taught so far the student
answers right, greedy and scored by the domain's checker as a probe is; at the end, the ratio of the two recipes'
training time. ``--recipe`` runs one of them alone, for timing the whole process (farm-bench ``--vs``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from transformers.utils import logging

from ioa.adapter.text import solution_lines, templated
from ioa.config import Config
from ioa.domains.base import Task
from ioa.domains.words import UNITS, WordsDomain
from ioa.student_train import Example, generate_answers, load_student, train_student
from ioa.student_train.run_vocab import run_tokenizer
from ioa.student_train.train import Replay, replay_count, round_epochs

LESSONS = (  # (module, levels) per round
    (("capitals", (0, 1)), ("plural/regular", (0, 1))),
    (("capitals", (2,)), ("plural/regular", (2,))),
    (("plural/es", (0, 1)),),
)


DOMAIN = WordsDomain()


def lesson(module: str, levels: tuple[int, ...]) -> list[tuple[Task, Example]]:
    """Each word of ``levels`` as its probe asks it, with a worked solution in the adapter's template."""
    unit = next(u for u in UNITS if u.spec.id == module)
    words = sum(len(level) for level in unit.words)  # every word of the unit, once
    out = []
    for task in DOMAIN.probes(module, words, seed=0):
        if task.level in levels:
            steps = templated(solution_lines(unit.steps(task.entry["word"], task.answer)))
            out.append((task, Example(prompt=task.question, target="\n".join([*steps, f"Answer: {task.answer}"]))))
    return out


def run(recipe: str, stop: bool, tokenizer_dir: Path, tmp: Path) -> float:
    cfg = Config()
    student = load_student(cfg.student, tokenizer_dir, None, cfg.training)
    taught: list[Example] = []
    tasks: list[Task] = []
    total = 0.0
    for index, round_ in enumerate(LESSONS, start=1):
        pairs = [pair for module, levels in round_ for pair in lesson(module, levels)]
        batch = [example for _, example in pairs]
        per_epoch = replay_count(cfg.training, len(batch)) if taught else 0
        replay = Replay(pool=list(taught), weights=[1.0] * len(taught), per_epoch=per_epoch) if taught else None
        drawn = replay.drawn if replay else 0
        epochs = round_epochs(student, cfg.training, len(batch) + drawn)
        training = cfg.training.model_copy(update={"epochs": epochs, "seed": cfg.training.seed + index})
        started = time.perf_counter()
        result = train_student(
            student, batch, training, tmp / f"{recipe}_{index}", replay=replay, stop_when_learnt=stop
        )
        seconds = time.perf_counter() - started
        total += seconds
        taught += batch
        tasks += [task for task, _ in pairs]
        answers = generate_answers(student, [t.question for t in tasks], max_new_tokens=64, batch_size=64)
        right = sum(DOMAIN.score(t, a) for t, a in zip(tasks, answers, strict=True))
        print(
            f"{recipe:>14}  round {index}: {len(batch):2d} new + {drawn} replayed, {result.steps:3d} steps, "
            f"{seconds:5.1f} s; answers {right:.0f}/{len(tasks)} taught so far",
            flush=True,
        )
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (the run uses torch's default)")
    parser.add_argument("--recipe", choices=("both", "every", "learnt"), default="both")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        tokenizer_dir = run_tokenizer(DOMAIN, tmp / "tokenizer")
        every = run("every step", False, tokenizer_dir, tmp) if args.recipe != "learnt" else None
        learnt = run("until learnt", True, tokenizer_dir, tmp) if args.recipe != "every" else None
    if every and learnt:
        print(f"training time: every step {every:.1f} s, until learnt {learnt:.1f} s; ratio {every / learnt:.2f}x")


if __name__ == "__main__":
    main()
