"""The teacher programs `ioa optimize-prompts` can compile, and how each is asked about the domain.

Free of DSPy and torch at import, so that the CLI lists the programs in its help without loading them.

The answer programs (``worked_solution``, ``answer_probe``) are asked about one exercise of the split.
The synthesis programs (``synthesize_new``, ``synthesize_remedial``, ``synthesize_bridging``) are asked
for J exercises (``synthesis.examples_per_module``) of the module at the level of one split slot, with
the fields a run's teach node sends: they are built by the run's own code (``ioa.agents.synthesis``)
from the domain's ``ModuleSpec`` and ``Lesson``, for a student who has not learnt the module yet. What
a run measures and the optimizer cannot is stood in for:

- ``mistakes`` (remedial): the student's wrong answers on fresh exercises of the module
  (``optimize.student_checkpoint``, else the initial student), in a run's lines; "none recorded" when it
  got them all right; the ``student`` ratio is its success there against a teacher taken to score 1;
- ``mastered`` (bridging): the module's first prerequisite in the domain, the module a run's stages
  master before it; "none yet" for a module without one (what a run sends before anything is mastered).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from ioa.config import Config
    from ioa.domains.base import Domain, ModuleSpec, Task

Mode = Literal["new", "remedial", "bridging"]
MAX_DEMOS = 4
"""Bootstrapped demos of an answer program: a small teacher's context has room for a few worked examples."""
SYNTHESIS_DEMOS = 1
"""Bootstrapped demos of a synthesis program: one reply of J exercises, as a run shows one style reference."""


@dataclass(frozen=True)
class StudentMistakes:
    """The student's answers on one module's fresh exercises, as a remedial request shows them."""

    text: str
    """Its wrong answers, one per line as in a run (``ioa.agents.synthesis.mistake_lines``); "" when none."""
    success: float
    """Its share of right answers."""


@dataclass(frozen=True)
class Slot:
    """What one example's inputs are built from: a task of the split and what the command measured around it."""

    task: Task
    spec: ModuleSpec
    domain: Domain
    count: int = 0
    """J, the exercises a synthesis request asks for."""
    turn: int = 0
    """Earlier slots of the same module and level: a synthesis request's items start at another one, as the
    requests of a run's step do."""
    mistakes: StudentMistakes | None = None
    """The student's mistakes on the module (remedial requests)."""


@dataclass(frozen=True)
class ProgramTask:
    """How a teacher program is asked about a domain task, and how a run calls it."""

    inputs: Callable[[Slot], dict[str, Any]]
    calibrated: bool
    """Whether the student's success on the exercise's module and level weights the score."""
    settings: Callable[[Config], dict[str, Any]]
    """Temperature and token cap as a run passes them (ioa.agents)."""
    mode: Mode | None = None
    """The synthesis mode of a synthesis program (scored by ``SynthesisMetric``); None for an answer program."""
    max_demos: int = MAX_DEMOS


def synthesis_inputs(mode: Mode, slot: Slot) -> dict[str, Any]:
    """A synthesis request's fields for the slot's module and level, built by the run's ``_fields`` and ``_items``."""
    from types import SimpleNamespace

    from ioa.agents.synthesis import _fields, _items
    from ioa.state import IOAState

    if slot.count < 1:
        raise ValueError("a synthesis request asks for at least one exercise (count)")
    spec, level = slot.spec, slot.task.level
    success = slot.mistakes.success if slot.mistakes else 0.0
    # A state that says what the optimizer knows: the teacher knows the module, the student scores `success`.
    state = IOAState(p_teacher={spec.id: 1.0}, p_student={spec.id: success})
    svc = SimpleNamespace(domain=slot.domain)  # _fields reads only the domain for a new request
    fields = _fields(state, svc, spec, level, slot.count, "new")  # type: ignore[arg-type]
    fields["items"] = _items(slot.domain.lesson(spec.id, level), slot.turn, taught=[])  # nothing kept yet
    if mode == "remedial":
        fields["mistakes"] = (slot.mistakes.text if slot.mistakes else "") or "none recorded"
    elif mode == "bridging":
        fields["mastered"] = first_prerequisite(slot.domain, slot.spec) or "none yet"
    return fields


def first_prerequisite(domain: Domain, spec: ModuleSpec) -> str:
    """The module's first prerequisite in the domain as 'name: description' (how a run names a mastered module)."""
    specs = {m.id: m for m in domain.modules}
    known = [specs[p] for p in spec.prerequisites if p in specs]
    return f"{known[0].name}: {known[0].description}" if known else ""


def _synthesis_settings(cfg: Config) -> dict[str, Any]:
    # A request for J exercises gets the whole teacher_synthesis cap (ioa.lengths.synthesis_cap with count = J).
    return {"temperature": cfg.teacher.temperature, "max_tokens": cfg.lengths.teacher_synthesis}


def _synthesis(mode: Mode) -> ProgramTask:
    return ProgramTask(
        inputs=partial(synthesis_inputs, mode),
        calibrated=False,
        settings=_synthesis_settings,
        mode=mode,
        max_demos=SYNTHESIS_DEMOS,
    )


PROGRAM_TASKS: dict[str, ProgramTask] = {
    "worked_solution": ProgramTask(
        inputs=lambda slot: {"skill": slot.spec.description, "exercise": slot.task.question},
        calibrated=True,
        settings=lambda cfg: {"temperature": cfg.teacher.temperature},
    ),
    "answer_probe": ProgramTask(
        inputs=lambda slot: {"question": slot.task.question},
        calibrated=False,
        settings=lambda cfg: {
            "temperature": cfg.synthesis.answer_temperature,
            "max_tokens": cfg.lengths.teacher_answer,
        },
    ),
    "synthesize_new": _synthesis("new"),
    "synthesize_remedial": _synthesis("remedial"),
    "synthesize_bridging": _synthesis("bridging"),
}
"""The optimizable teacher programs; the adapter's ``rewrite_solution`` has no task set to score it on."""
