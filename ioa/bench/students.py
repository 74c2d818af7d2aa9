"""The bench's initial students (``bench.student``): what every strategy of a seed starts from.

- ``scratch``: the tiny student, from random weights: it knows nothing, so there is nothing for a diagnosis to find.
- ``warm``: the same tiny student first taught, outside the budget, the oracle's worked solutions of a
  seed-chosen part of the domain: for each module the levels below a seed-drawn level (none, some or all). A
  student that knows some modules and not others is what the paper's identifier is for.
- ``pretrained``: the bundled SmolLM2-135M-Instruct with a LoRA adapter: a real pretrained student.

The warm student is trained from the seed alone, so every strategy of that seed starts from the same weights. It
is trained once per seed and settings and kept in the bench's OUT folder (``students/``): the warm-up costs more
than most trials, and every strategy and the rerun of a stopped bench reuse it.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import tempfile
from pathlib import Path

from ioa.bench.oracle import worked_examples
from ioa.config import Config, TrainingConfig
from ioa.domains.base import Domain
from ioa.student_train import Example, load_student, train_student

WARM_STREAM = 90_000
"""Exercise stream of the warm-up material: apart from every round's stream (the exercise pool, never a probe)."""


def known_levels(domain: Domain, seed: int) -> dict[str, int]:
    """Module -> how many of its lowest levels the warm student is taught (0 to all), drawn from the seed."""
    rng = random.Random(f"warm|{seed}")
    return {m.id: rng.randint(0, m.levels) for m in domain.modules}


def warm_examples(domain: Domain, seed: int, per_level: int) -> list[Example]:
    """The oracle's worked solutions of ``per_level`` exercises at every known level (``worked_examples``)."""
    return worked_examples(
        t
        for module, known in known_levels(domain, seed).items()
        for level in range(known)
        for t in domain.exercises(module, level, per_level, WARM_STREAM + seed)
    )


def initial_student(config: Config, domain: Domain, tokenizer_dir: Path, students_dir: Path) -> Config:
    """The trial's config with ``student`` set to the ``bench.student`` it starts from: for ``warm``, a folder in
    ``students_dir`` trained here unless an earlier trial of the same seed and settings left it there."""
    kind = config.bench.student
    if kind == "pretrained":
        return config.model_copy(update={"student": config.student.model_copy(update={"model": "bundled"})})
    if kind == "scratch":
        return config
    folder = students_dir / f"warm_{_warm_key(config, tokenizer_dir)}"
    if not folder.is_dir():
        _train_warm(config, domain, tokenizer_dir, folder)
    # A folder of full weights: every strategy fine-tunes all of it, as it would the scratch student.
    warm = config.student.model_copy(update={"model": str(folder), "finetune": "full"})
    return config.model_copy(update={"student": warm})


def _warm_training(config: Config) -> TrainingConfig:
    """The warm-up's recipe: the trial's, at the student's default learning rate, so strategies that the
    learning-rate search sends to different rates still start a seed from the same weights."""
    return config.training.model_copy(update={"lr": None})


def _warm_key(config: Config, tokenizer_dir: Path) -> str:
    """What the warm student's weights depend on: the student, its warm-up recipe and material, the tokenizer."""
    given = {
        "student": config.student.model_dump(mode="json"),
        "training": _warm_training(config).model_dump(mode="json"),
        "tokenizer": str(tokenizer_dir.resolve()),
        "domain": config.bench.domain,
        "per_level": config.bench.warm_per_level,
    }
    return f"{config.student.init_seed}_" + hashlib.sha256(json.dumps(given, sort_keys=True).encode()).hexdigest()[:12]


def _train_warm(config: Config, domain: Domain, tokenizer_dir: Path, folder: Path) -> None:
    """Train the warm student into ``folder``, atomically: trials running side by side may both train it, and the
    first to finish keeps its folder (the weights are the same)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    training = _warm_training(config)
    student = load_student(config.student, tokenizer_dir, None, training)
    examples = warm_examples(domain, config.student.init_seed, config.bench.warm_per_level)
    if examples:
        train_student(student, examples, training, tmp)
    else:  # the seed drew no known level: the warm student is the scratch one, saved as a folder all the same
        student.model.save_pretrained(tmp)
        student.tokenizer.save_pretrained(tmp)
    try:
        os.rename(tmp, folder)
    except OSError:  # another trial got there first
        shutil.rmtree(tmp, ignore_errors=True)
