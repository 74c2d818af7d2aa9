"""The bench's initial students (``bench.student``): what every strategy of a seed starts from.

- ``scratch``: the tiny student, from random weights: it knows nothing, so there is nothing for a diagnosis to find.
- ``warm``: the same tiny student first taught, outside the budget, the oracle's worked solutions of a
  seed-chosen part of the domain: for each module the levels below a seed-drawn level (none, some or all). A
  student that knows some modules and not others is what the paper's identifier is for.
- ``pretrained``: the bundled SmolLM2-135M-Instruct with a LoRA adapter: a real pretrained student.

The warm student is trained once per trial, from the seed alone, so every strategy of that seed starts from the
same weights.
"""

from __future__ import annotations

import random
from pathlib import Path

from ioa.bench.oracle import worked_examples
from ioa.config import Config
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


def initial_student(config: Config, domain: Domain, tokenizer_dir: Path, work_dir: Path) -> Config:
    """The trial's config with ``student`` set to the ``bench.student`` it starts from (trained here for ``warm``)."""
    kind, seed = config.bench.student, config.student.init_seed
    if kind == "pretrained":
        return config.model_copy(update={"student": config.student.model_copy(update={"model": "bundled"})})
    if kind == "scratch":
        return config
    student = load_student(config.student, tokenizer_dir, None, config.training)
    folder = work_dir / "warm"
    examples = warm_examples(domain, seed, config.bench.warm_per_level)
    if examples:
        train_student(student, examples, config.training, folder)
    else:  # the seed drew no known level: the warm student is the scratch one, saved as a folder all the same
        student.model.save_pretrained(folder)
        student.tokenizer.save_pretrained(folder)
    # A folder of full weights: every strategy fine-tunes all of it, as it would the scratch student.
    warm = config.student.model_copy(update={"model": str(folder), "finetune": "full"})
    return config.model_copy(update={"student": warm})
