"""The built-in default domain: arithmetic and number sense on reasoning-gym.

Eight modules, chosen for a tiny from-scratch student and a 135M teacher: level 0 is
easy, every answer is a short number or a weekday name, and each level turns one knob
of the module's reasoning-gym curriculum one notch up (the knob values are taken from
the curriculum's attribute levels; ``tests/test_domain.py`` checks that they are).
Answers are verified by the dataset's own ``score_answer`` on the original entry; only
the question text is shortened where reasoning-gym wraps it in instructions.

Probes and exercises are disjoint by construction. Level 0 question spaces are tiny
(two single-digit numbers give 121 sums), so disjoint seed streams alone would not keep
them apart. Instead a stable hash of the question text reserves about a fifth of all
questions for probes: probes are drawn only from that reserve and exercises never are.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from ioa.domains.arithmetic_check import verify_new_question
from ioa.domains.base import AnswerKind, ModuleSpec, Task, extract_answer
from ioa.domains.lesson import Lesson, StyleExample, Verdict
from ioa.domains.steps import STEP_WRITERS, worked_steps
from ioa.errors import RuntimeFailure, UsageError

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
PROBE_SHARE = 5
"""One question in PROBE_SHARE is reserved for probes (by a hash of its text); that reserve is halved again into
the diagnostic probes a run measures its student on and the held-out items only a benchmark scores."""
Pool = Literal["exercise", "probe", "held_out"]


@dataclass(frozen=True)
class Recipe:
    """How one module is generated from a reasoning-gym dataset."""

    spec: ModuleSpec
    dataset: str
    """reasoning-gym dataset name, for ``reasoning_gym.create_dataset``."""
    fixed: dict[str, Any]
    """Config fields held fixed at every level."""
    levels: tuple[dict[str, Any], ...]
    """Per level: curriculum attribute name -> one of that attribute's level values.
    A range attribute sets both bounds to the value, unless its lower bound is fixed."""
    present: Callable[[dict], str] = lambda entry: entry["question"]
    """The question text shown to models, made from the entry."""
    kind: AnswerKind = "number"


def _calculate(entry: dict) -> str:
    return f"Calculate {entry['metadata']['expression']}."


def _legs(entry: dict) -> str:
    # Drop the instruction paragraph: "Now, how many legs ... 2 ducks?" -> "How many legs ... 2 ducks?"
    ask = entry["question"].split("Now, ", 1)[-1].strip()
    return ask[0].upper() + ask[1:]


def _gcd(entry: dict) -> str:
    *head, last = [str(n) for n in entry["metadata"]["numbers"]]
    return f"Find the GCD of {', '.join(head)} and {last}."


def _weekday(entry: dict) -> str:
    meta = entry["metadata"]
    start = dt.date.fromisoformat(meta["start_date"]).strftime("%A")
    days = meta["offset_days"]
    unit = "day" if abs(days) == 1 else "days"
    return f"What day of the week is {abs(days)} {unit} {'after' if days >= 0 else 'before'} {start}?"


def _arith(ops: tuple[str, ...]) -> dict[str, Any]:
    # Without parentheses basic_arithmetic evaluates left to right, which is only right
    # for a single operator; fine for one operation on two numbers.
    return {"min_terms": 2, "max_terms": 2, "operators": ops, "allow_parentheses": False, "allow_negation": False}


# Curriculum knob values quoted in the comments are the attribute's levels in reasoning-gym 0.1.25.
RECIPES: tuple[Recipe, ...] = (
    Recipe(
        ModuleSpec("arithmetic/addition", "Addition", "Add two whole numbers, starting with single digits.", (), 3),
        "basic_arithmetic",
        _arith(("+",)),
        # BasicArithmeticCurriculum.num_digits: [1, 2, 3, 4]
        ({"num_digits": 1}, {"num_digits": 2}, {"num_digits": 3}),
    ),
    Recipe(
        ModuleSpec(
            "arithmetic/subtraction",
            "Subtraction",
            "Subtract one whole number from another; the result may be negative.",
            ("arithmetic/addition",),
            3,
        ),
        "basic_arithmetic",
        _arith(("-",)),
        ({"num_digits": 1}, {"num_digits": 2}, {"num_digits": 3}),
    ),
    Recipe(
        ModuleSpec(
            "arithmetic/multiplication",
            "Multiplication",
            "Multiply small whole numbers, as repeated addition.",
            ("arithmetic/addition",),
            3,
        ),
        "products",
        {},
        # ProductsCurriculum.num_terms: 2..12, num_digits: 1..10
        ({"num_terms": 2, "num_digits": 1}, {"num_terms": 3, "num_digits": 1}, {"num_terms": 2, "num_digits": 2}),
        present=_calculate,
    ),
    Recipe(
        ModuleSpec(
            "arithmetic/chain_sum",
            "Chains of sums",
            "Add and subtract a chain of single-digit numbers from left to right.",
            ("arithmetic/addition", "arithmetic/subtraction"),
            3,
        ),
        "chain_sum",
        {"min_digits": 1, "max_digits": 1},
        # ChainSumCurriculum.num_terms: 2..12
        ({"num_terms": 3}, {"num_terms": 4}, {"num_terms": 5}),
        present=_calculate,
    ),
    Recipe(
        ModuleSpec(
            "arithmetic/mixed_operations",
            "Mixed operations",
            "Evaluate expressions that mix +, - and * (and parentheses) with the usual order of operations.",
            ("arithmetic/chain_sum", "arithmetic/multiplication"),
            3,
        ),
        "basic_arithmetic",
        # With parentheses allowed, basic_arithmetic evaluates with normal precedence.
        {
            "min_digits": 1,
            "max_digits": 1,
            "operators": ("+", "-", "*"),
            "allow_parentheses": True,
            "allow_negation": False,
        },
        # BasicArithmeticCurriculum.num_terms: [2, 3, 4, 5, 6]
        ({"num_terms": 2}, {"num_terms": 3}, {"num_terms": 4}),
    ),
    Recipe(
        ModuleSpec(
            "word_problems/leg_counting",
            "Counting legs",
            "Count the legs of a group of animals (a duck has 2, a dog 4, a spider 8): multiply, then add.",
            ("arithmetic/multiplication", "arithmetic/addition"),
            3,
        ),
        "leg_counting",
        # LegCountingCurriculum.num_instances level 0 is the interval [2, 4]: kept at every level.
        {"min_instances": 2, "max_instances": 4},
        # LegCountingCurriculum.num_animals: 1..36
        ({"num_animals": 1}, {"num_animals": 2}, {"num_animals": 3}),
        present=_legs,
    ),
    Recipe(
        ModuleSpec(
            "number_theory/gcd",
            "Greatest common divisor",
            "Find the largest number that divides all the given numbers.",
            ("arithmetic/multiplication", "arithmetic/subtraction"),
            3,
        ),
        "gcd",
        {"min_value": 1},
        # GCDCurriculum.value (upper bound): [100, 1000, 10000, 100000]; num_terms: [2, 3, 4, 5]
        ({"value": 100, "num_terms": 2}, {"value": 1000, "num_terms": 2}, {"value": 1000, "num_terms": 3}),
        present=_gcd,
    ),
    Recipe(
        ModuleSpec(
            "calendar/weekday_offset",
            "Weekday arithmetic",
            "Find the weekday a number of days after or before a given weekday, counting in weeks of seven.",
            ("arithmetic/addition", "arithmetic/subtraction"),
            3,
        ),
        "calendar_arithmetic",
        {"tasks": ["weekday_offset"]},
        # CalendarArithmeticCurriculum.offset_upper_bound: [30, 100, 250, 365]
        ({"offset_upper_bound": 30}, {"offset_upper_bound": 100}, {"offset_upper_bound": 250}),
        present=_weekday,
        kind="word",
    ),
)


def level_config(recipe: Recipe, level: int) -> dict[str, Any]:
    """The reasoning-gym config for one level: fixed fields plus the level's curriculum knobs."""
    from reasoning_gym.factory import create_curriculum

    curriculum = create_curriculum(recipe.dataset)
    config = dict(recipe.fixed)
    for name, value in recipe.levels[level].items():
        attr = curriculum.attributes[name]
        if hasattr(attr, "field_name"):  # a scalar attribute
            config[attr.field_name] = value
            continue
        config[attr.upper_field_name] = value
        if attr.lower_field_name not in recipe.fixed:
            config[attr.lower_field_name] = value
    return config


class ArithmeticDomain:
    """Arithmetic and number sense (see the module docstring).

    Any other tuple of recipes makes another reasoning-gym domain (``ioa.domains.gym``).
    """

    name = "arithmetic"

    def __init__(self, seed: int = 0, recipes: tuple[Recipe, ...] = RECIPES) -> None:
        self.seed = seed
        self.modules: list[ModuleSpec] = [r.spec for r in recipes]
        self._recipes = {r.spec.id: r for r in recipes}
        self._checkers: dict[str, Any] = {}

    # --- the Domain protocol ----------------------------------------------------------

    def probes(self, module_id: str, n: int, seed: int) -> list[Task]:
        """``n`` diagnostic probes spread over the levels (``level = i % levels``)."""
        return self._spread(module_id, n, ("probes", seed), "probe")

    def held_out(self, module_id: str, n: int, seed: int) -> list[Task]:
        """``n`` held-out items spread over the levels, from the half of the reserve no probe comes from: what a
        benchmark scores, disjoint from every probe and exercise by construction."""
        return self._spread(module_id, n, ("held_out", seed), "held_out")

    def exercises(self, module_id: str, level: int, n: int, seed: int) -> list[Task]:
        """``n`` practice exercises at ``level``; never a probe question."""
        recipe = self._recipe(module_id)
        if not 0 <= level < recipe.spec.levels:
            raise UsageError(f"{module_id} has levels 0..{recipe.spec.levels - 1}, not {level}")
        return self._draw(recipe, level, n, ("exercises", seed), "exercise")

    def score(self, task: Task, answer: str | None) -> float:
        """1.0 when the final answer in ``answer`` passes reasoning-gym's ``score_answer``, else 0.0."""
        recipe = self._recipe(task.module)
        if not answer:  # no answer at all (e.g. a teacher call that failed)
            return 0.0
        choices = WEEKDAYS if recipe.kind == "word" and recipe.dataset == "calendar_arithmetic" else None
        reward = self._checker(recipe).score_answer(extract_answer(answer, recipe.kind, choices), task.entry)
        # Exact or nothing: the default score_answer gives partial credit when the reference
        # is a substring ("2" in "12"), calendar_arithmetic 0.1 for any wrong weekday.
        return 1.0 if reward >= 1.0 else 0.0

    def lesson(self, module_id: str, level: int) -> Lesson:
        """The level's knobs as its size cap, one skill at a time as its complexity cap, and two generator
        exercises with procedural worked solutions as style references (never probes: they come from the
        exercise stream)."""
        recipe = self._recipe(module_id)
        knobs = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in recipe.levels[level].items())
        references = tuple(
            StyleExample(t.question, worked_steps(t), t.answer)
            for t in self._draw(recipe, level, 2, ("references",), "exercise")
            if t.entry.get("metadata", {}).get("source_dataset") in STEP_WRITERS
        )
        return Lesson(items=(), size_cap=knobs, complexity_cap="one skill only", references=references)

    def verify(self, module_id: str, problem: str, steps: str, answer: str) -> Verdict:
        """A teacher-written question checked by computing its answer (``ioa.domains.arithmetic_check``)."""
        self._recipe(module_id)
        return verify_new_question(module_id, problem, answer)

    # --- helpers ------------------------------------------------------------------------

    def is_probe_question(self, question: str) -> bool:
        """Whether ``question`` lies in the probe reserve (exercises never use these)."""
        return self.pool(question) != "exercise"

    def pool(self, question: str) -> Pool:
        """Which of the three disjoint pools ``question`` belongs to, by a hash of its text."""
        digest = int.from_bytes(hashlib.blake2b(f"{self.seed}|{question}".encode(), digest_size=8).digest(), "big")
        if digest % PROBE_SHARE:
            return "exercise"
        return "probe" if (digest // PROBE_SHARE) % 2 == 0 else "held_out"

    def _spread(self, module_id: str, n: int, stream: tuple, pool: Pool) -> list[Task]:
        """``n`` tasks of ``pool`` spread over the module's levels (``level = i % levels``)."""
        recipe = self._recipe(module_id)
        levels = recipe.spec.levels
        per_level = [self._draw(recipe, lv, len(range(lv, n, levels)), stream, pool) for lv in range(levels)]
        return [per_level[i % levels][i // levels] for i in range(n)]

    def _recipe(self, module_id: str) -> Recipe:
        if module_id not in self._recipes:
            raise UsageError(f"unknown module {module_id!r} in domain {self.name}; known: {', '.join(self._recipes)}")
        return self._recipes[module_id]

    def _checker(self, recipe: Recipe) -> Any:
        """A dataset instance of the module's kind, used only for its ``score_answer``."""
        if recipe.spec.id not in self._checkers:
            import reasoning_gym

            config = level_config(recipe, 0)
            self._checkers[recipe.spec.id] = reasoning_gym.create_dataset(recipe.dataset, seed=0, size=1, **config)
        return self._checkers[recipe.spec.id]

    def _draw(self, recipe: Recipe, level: int, n: int, stream: tuple, pool: Pool) -> list[Task]:
        """``n`` tasks from one seed stream, keeping only the questions of ``pool``.

        Distinct questions while the budget lasts; a question space too small for ``n``
        then repeats questions rather than fail.
        """
        import reasoning_gym

        if n < 0:
            raise UsageError(f"cannot draw {n} tasks")
        budget = 50 * n + 500
        # reasoning-gym seeds item i with Random(seed + i), so nearby seeds share items:
        # each stream starts at a hashed 48-bit offset instead.
        start = _stable_int(self.seed, recipe.spec.id, level, *stream)
        config = level_config(recipe, level)
        dataset = reasoning_gym.create_dataset(recipe.dataset, seed=start, size=10 * budget, **config)
        tasks: list[Task] = []
        seen: set[str] = set()
        for idx in range(10 * budget):
            if len(tasks) == n:
                return tasks
            entry = dataset[idx]
            question = recipe.present(entry)
            if self.pool(question) != pool or (question in seen and idx < budget):
                continue
            seen.add(question)
            tasks.append(Task(recipe.spec.id, level, question, entry["answer"], _plain(entry)))
        if len(tasks) == n:
            return tasks
        raise RuntimeFailure(f"could not draw {n} tasks for {recipe.spec.id} level {level}")


def _stable_int(*parts: object) -> int:
    """A 48-bit integer from ``parts``, the same in every process (unlike ``hash``)."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=6).digest()
    return int.from_bytes(digest, "big")


def _plain(obj: Any) -> Any:
    """A JSON-serialisable copy: tuples and sets become lists, numpy scalars Python numbers."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return sorted(_plain(v) for v in obj)
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        return obj.item()
    json.dumps(obj)  # fail here, not in a run directory, on anything else
    return obj
