"""A domain made from a seed file (``domain.path``): modules from the teacher's decomposition.

Its modules are unknown until the Identifier decomposes the seeds (``ioa.domains.decompose``);
the decomposition is saved in the run directory, so a resumed run reloads it instead of asking
the teacher again. Probes are the held-out seeds of a module, exercises its synthesis seeds
(which the teacher then solves step by step), and answers are scored by the metric of the
task's ``kind`` (``ioa.metrics``).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from pathlib import Path

from ioa.config import Config
from ioa.domains.base import ModuleSpec, Task
from ioa.domains.decomposition import Decomposition
from ioa.domains.seeds import SeedTask, load_seeds
from ioa.errors import UsageError
from ioa.metrics import choice_correct, code_correct, math_correct, text_correct
from ioa.rundir import write_json

DECOMPOSITION = "data/decomposition.json"
"""Where the decomposition is kept, relative to the run directory."""

Judge = Callable[[str, str, str], float]
"""(question, reference, answer) -> 0..1: the optional teacher judge for text tasks."""


class SeedDomain:
    """Knowledge modules, probes and exercises from a seed file (see the module docstring)."""

    name = "seeds"

    def __init__(self, seeds: list[SeedTask], config: Config, judge: Judge | None = None) -> None:
        if len(seeds) < 2:
            raise UsageError(f"{config.domain.path}: a seed file needs at least 2 tasks (a probe and a synthesis seed)")
        self.seeds = seeds
        self.config = config
        self.judge = judge
        self.modules: list[ModuleSpec] = []
        self.decomposition: Decomposition | None = None
        self._probes: dict[str, list[int]] = {}
        self._synthesis: dict[str, list[int]] = {}
        # A choice task may list its labels; otherwise the labels are the references of its category.
        self._labels: dict[str, list[str]] = {}
        for s in seeds:
            if s.kind == "choice":
                self._labels.setdefault(s.category, []).append(s.reference)

    @classmethod
    def from_config(cls, config: Config, judge: Judge | None = None) -> SeedDomain:
        assert config.domain.path, "from_config needs domain.path"
        return cls(load_seeds(config.domain.path), config, judge)

    def adopt(self, decomposition: Decomposition) -> None:
        """Take the modules, assignment and split of a decomposition (fresh, or saved by an earlier run)."""
        if len(decomposition.assignment) != len(self.seeds):
            raise UsageError(
                f"the saved decomposition covers {len(decomposition.assignment)} seeds but the seed file has "
                f"{len(self.seeds)}; the seed file changed since the run started"
            )
        self.decomposition = decomposition
        self.modules = [
            ModuleSpec(
                m.id, m.id.split("/")[1].replace("_", " ").capitalize(), m.description, tuple(m.prerequisites), 1
            )
            for m in decomposition.modules
        ]
        held_out = set(decomposition.probes)
        self._probes = {m.id: [] for m in self.modules}
        self._synthesis = {m.id: [] for m in self.modules}
        for i, module in enumerate(decomposition.assignment):
            (self._probes if i in held_out else self._synthesis)[module].append(i)

    def save(self, path: Path) -> None:
        """The seeds and their decomposition, so a resumed run needs neither the seed file nor the teacher."""
        assert self.decomposition is not None, "save after adopt"
        write_json(path, {"seeds": [s.model_dump(mode="json") for s in self.seeds], **self.decomposition.to_json()})

    @classmethod
    def restore(cls, path: Path, config: Config, judge: Judge | None = None) -> SeedDomain:
        """The domain as ``save`` left it in a run directory."""
        data = json.loads(path.read_text())
        domain = cls([SeedTask.model_validate(s) for s in data.pop("seeds")], config, judge)
        domain.adopt(Decomposition.from_json(data))
        return domain

    # --- the Domain protocol ----------------------------------------------------------

    def probes(self, module_id: str, n: int, seed: int) -> list[Task]:
        """The module's held-out seeds (at most ``n``), always the same ones: the split fixed them."""
        return [self._task(module_id, i) for i in self._indices(self._probes, module_id)[:n]]

    def exercises(self, module_id: str, level: int, n: int, seed: int) -> list[Task]:
        """``n`` of the module's synthesis seeds, shuffled by ``seed``, repeating when there are fewer."""
        pool = list(self._indices(self._synthesis, module_id))
        digest = hashlib.blake2b(f"{seed}|{module_id}".encode(), digest_size=8).digest()
        random.Random(int.from_bytes(digest, "big")).shuffle(pool)
        return [self._task(module_id, pool[k % len(pool)]) for k in range(n)] if pool else []

    def score(self, task: Task, answer: str | None) -> float:
        """The task kind's metric: math-verify, ROUGE-L (or the judge), sandboxed tests, or the label."""
        if not answer:
            return 0.0
        seed = SeedTask.model_validate(task.entry)
        if seed.kind == "math":
            return math_correct(seed.reference, answer)
        if seed.kind == "code":
            return code_correct(answer, seed.tests, self.config.sandbox)
        if seed.kind == "choice":
            return choice_correct(seed.reference, answer, seed.choices or self._labels.get(seed.category, []))
        if self.judge is not None:
            return self.judge(task.question, seed.reference, answer)
        return text_correct(seed.reference, answer, self.config.metric.rouge_correct)

    # --- helpers ------------------------------------------------------------------------

    def _indices(self, table: dict[str, list[int]], module_id: str) -> list[int]:
        if module_id not in table:
            raise UsageError(f"unknown module {module_id!r} in the seed domain; known: {', '.join(table)}")
        return table[module_id]

    def _task(self, module_id: str, i: int) -> Task:
        s = self.seeds[i]
        # For code the tests are the reference; the answer field shows them to the adapter's budget.
        reference = s.reference or s.tests
        return Task(module_id, 0, s.question, reference, s.model_dump(mode="json"))
