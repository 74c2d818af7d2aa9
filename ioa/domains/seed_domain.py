"""A domain made from a seed file (``domain.path``): modules from the teacher's decomposition.

Its modules are unknown until the Identifier decomposes the seeds (``ioa.domains.decompose``);
the decomposition is saved in the run directory, so a resumed run reloads it instead of asking
the teacher again. Probes are the held-out seeds of a module, exercises its synthesis seeds,
and answers are scored by the metric of the task's ``kind`` (``ioa.metrics``). For synthesis,
a module's synthesis seeds are the teacher's style references (never its probes); a
teacher-written code exercise is verified in the sandbox, and the other kinds by the
teacher's self-consistency.
"""

from __future__ import annotations

import ast
import hashlib
import json
import random
from collections.abc import Callable
from pathlib import Path

from ioa.config import Config
from ioa.domains.base import ModuleSpec, Task
from ioa.domains.decomposition import Decomposition
from ioa.domains.lesson import Lesson, StyleExample, Verdict
from ioa.domains.seeds import SeedTask, load_seeds
from ioa.errors import UsageError
from ioa.metrics import Kind, choice_correct, code_correct, extract_code, math_correct, text_correct
from ioa.rundir import write_json

DECOMPOSITION = "data/decomposition.json"
"""Where the decomposition is kept, relative to the run directory."""

Judge = Callable[[str, str, str], float]
"""(question, reference, answer) -> 0..1: the optional teacher judge for text tasks."""

REFERENCES = 2
"""Synthesis seeds shown to the teacher as style references per request."""


def exercise_code(steps: str, answer: str) -> str:
    """The Python of a teacher-written code exercise: its answer's code, else the code in its steps."""
    for text in (answer, steps):
        code = extract_code(text).strip()
        if "def " in code:
            return code
    return ""


def called_functions(code: str) -> set[str]:
    """Names of the plain functions that ``code`` calls (what a test exercises); empty when it does not parse."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return set()
    return {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}


def defined_functions(code: str) -> set[str]:
    """Names of the functions ``code`` defines at its top level; empty when it does not parse."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return set()
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}


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

    # --- synthesis ----------------------------------------------------------------------

    def lesson(self, module_id: str, level: int) -> Lesson:
        """The module's synthesis seeds as style references (never its probes), and caps read off them."""
        seeds = [self.seeds[i] for i in self._indices(self._synthesis, module_id)]
        longest = max((len(s.question.split()) for s in seeds), default=0)
        return Lesson(
            items=(),
            size_cap=f"problems of at most {longest} words, like the examples" if longest else "small problems",
            complexity_cap="one skill only",  # the skill itself is on the prompt's skill line
            references=tuple(_reference(s) for s in seeds[:REFERENCES]),
        )

    def verify(self, module_id: str, problem: str, steps: str, answer: str) -> Verdict:
        """A code exercise: its code against the tests of the synthesis seeds whose function it defines, in the
        sandbox (``ok=None`` when no seed's function matches: the teacher's own tests then decide). Other kinds
        have no checker for a new question: ``ok=None``, and self-consistency decides.

        The entry names the kind, so that the adapter knows to run the teacher's tests of a code exercise.
        """
        kind = self.kind(module_id)
        if kind != "code":
            return Verdict(None, f"no checker for a new {kind} question", {"kind": kind})
        code = exercise_code(steps, answer)
        defined = defined_functions(code)
        if not defined:
            return Verdict(False, "no Python function that parses in the answer", {"kind": kind})
        entry = {"kind": kind, "functions": sorted(defined)}
        seeds = [s for s in (self.seeds[i] for i in self._synthesis[module_id]) if _entry_points(s) & defined]
        if not seeds:
            return Verdict(None, "no seed calls these functions: the teacher's tests decide", entry)
        for seed in seeds:
            if not code_correct(code, seed.tests, self.config.sandbox):
                return Verdict(False, f"fails the tests of seed line {seed.line}", {**entry, "seed_line": seed.line})
        lines = [s.line for s in seeds]
        return Verdict(True, f"passes the tests of {len(seeds)} seed(s)", {**entry, "seed_lines": lines})

    def kind(self, module_id: str) -> Kind:
        """The task kind of a module: that of most of its seeds."""
        kinds = [self.seeds[i].kind for i in self._indices(self._synthesis, module_id) + self._probes[module_id]]
        return max(sorted(set(kinds)), key=kinds.count) if kinds else "text"

    def reference_task(self, module_id: str, problem: str, answer: str) -> Task:
        """A task whose reference is ``answer``: how the module's metric judges whether two answers agree."""
        category = module_id.split("/")[0]
        seed = SeedTask(instruction=problem, reference=answer, category=category, kind=self.kind(module_id))
        return Task(module_id, 0, problem, answer, seed.model_dump(mode="json"))

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


def _entry_points(seed: SeedTask) -> set[str]:
    """The functions a code seed's tests exercise: its entry point, else what its tests call."""
    return {seed.entry_point} if seed.entry_point else called_functions(seed.tests)


def _reference(seed: SeedTask) -> StyleExample:
    """A synthesis seed as a style reference: its question and reference; a code seed's check is its tests."""
    if seed.kind == "code":
        name = seed.entry_point or "the function"
        answer = seed.reference or f"the code of {name}"
        return StyleExample(seed.question, f"Write {name} in Python.", answer, seed.tests)
    return StyleExample(seed.question, "", seed.reference)
