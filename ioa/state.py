"""The one shared state of the IOA graph.

It holds numbers, module ids and file references only: probes, exercises and
answers live as files in the run directory, so each checkpoint stays small. It is the
one source of truth of a run: mastery.csv, curriculum.json and the Chroma memory are
records and indexes written beside it, and no node reads its decisions back from them.
List channels that nodes append to have a reducer; a node returns only what it adds.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Annotated, Literal


def add_counts(left: dict[str, float], right: dict[str, float]) -> dict[str, float]:
    """Reducer: nodes report deltas (teacher tokens, seconds) and the state keeps the sums."""
    out = dict(left)
    for key, value in right.items():
        out[key] = out.get(key, 0) + value
    return out


def unique(left: list[str], right: list[str]) -> list[str]:
    """Reducer: append the items not yet present, so a module recorded twice is listed once."""
    out = list(left)
    out += [item for item in dict.fromkeys(right) if item not in out]
    return out


@dataclass
class IOAState:
    """What every agent reads and writes; routing decisions are made from these fields alone."""

    round: int = 0
    """Diagnosis rounds done after the initial identification (0 = only the initial one)."""

    modules: list[str] = field(default_factory=list)
    """Every knowledge module id of the domain, in domain order (set once by identify)."""

    p_teacher: dict[str, float] = field(default_factory=dict)
    """P_T(k): teacher accuracy on each module's probes, measured once."""

    teacher_levels: dict[str, list[float]] = field(default_factory=dict)
    """P_T per module per difficulty level (index = level; 0.0 for a level without probes), measured once:
    every diagnosis places the student against it."""

    p_student: dict[str, float] = field(default_factory=dict)
    """P_S(k) at the latest diagnosis."""

    p_student_initial: dict[str, float] = field(default_factory=dict)
    """P_S(k) at the first diagnosis, before any teaching."""

    history: Annotated[list[dict[str, float]], operator.add] = field(default_factory=list)
    """P_S per diagnosis round, oldest first: the data of the empirical dependency estimate (Eq. 3)."""

    mastery: Annotated[list[dict[str, str]], operator.add] = field(default_factory=list)
    """Each diagnosis's verdict per module, oldest first (index = round): 'mastered' or 'unmastered'.

    Replay and forks read it; mastery.csv records it and Chroma mirrors the latest one for similarity search."""

    levels: dict[str, int] = field(default_factory=dict)
    """The student's current difficulty level per module (-1 = not even the easiest)."""

    level_ratios: dict[str, list[float]] = field(default_factory=dict)
    """P_S/P_T per module per difficulty level at the latest diagnosis (``rules.level_ratio``)."""

    edges: list[tuple[str, str]] = field(default_factory=list)
    """Prerequisite edges in force (prerequisite, dependent), a DAG."""

    stages: list[list[str]] = field(default_factory=list)
    """The current curriculum: stages of module ids, taught in order."""

    stage_index: int = 0
    """Index into ``stages`` of the stage being taught."""

    stage_levels: dict[str, int] = field(default_factory=dict)
    """The difficulty level the current stage teaches each of its modules (one notch above the student's)."""

    remedial: int = 0
    """Remedial rounds spent on the current stage."""

    passed: dict[str, int] = field(default_factory=dict)
    """The highest level at which each module passed a stage's mastery gate: falling below it there is forgetting."""

    focus: list[str] = field(default_factory=list)
    """Modules the next teach step synthesises for (the stage, or its weak modules when remedial)."""

    mode: Literal["new", "remedial", "bridging"] = "new"
    """How the stage is taught: introduced (new), repaired below the gate (remedial), or one notch harder after a
    gate pass, scaffolded from the nearest mastered module (bridging)."""

    modes: dict[str, Literal["new", "remedial", "bridging"]] = field(default_factory=dict)
    """The synthesis mode of each focus module (a forgotten module brought back is remedial in any stage)."""

    next: Literal["teach", "finish"] = "teach"
    """The planner's decision after its last look at the scores."""

    teach_attempts: int = 0
    """Teach steps in the current round; the planner trains on what it has after the cap."""

    teach_files: Annotated[list[str], operator.add] = field(default_factory=list)
    """Every exercise file the teacher wrote (relative to the run dir), oldest first; the adapter reads the newest."""

    batch: Annotated[list[str], operator.add] = field(default_factory=list)
    """Adapted-example files (relative to the run dir) that the next training round uses; the train node
    empties it with ``Overwrite([])``."""

    batch_examples: int = 0
    """Adapted examples in ``batch``."""

    trained_files: Annotated[list[str], operator.add] = field(default_factory=list)
    """Every adapted-example file already trained on, oldest first (the replay pool)."""

    student_checkpoint: str | None = None
    """The student's latest checkpoint folder (relative to the run dir); None = the initial student."""

    introduced: Annotated[list[str], operator.add] = field(default_factory=list)
    """Modules the frontier schedule has taught at least once, in the order they joined."""

    stuck: Annotated[list[str], unique] = field(default_factory=list)
    """Modules of stages given up after the remedial cap, each once (a retried module may be given up again)."""

    train_log: Annotated[list[dict[str, float]], operator.add] = field(default_factory=list)
    """One record per training round: round, steps, passes (examples over all epochs), loss_first, loss_last,
    examples, replay.

    Consolidation's record counts its examples under ``consolidation`` instead of examples and replay."""

    consolidated: bool = False
    """Whether the consolidation over everything taught (``training.consolidation_epochs``) has run."""

    usage: Annotated[dict[str, float], add_counts] = field(default_factory=dict)
    """Summed counters: teacher calls and tokens, dropped items, elapsed seconds."""

    synthesis: Annotated[list[dict], operator.add] = field(default_factory=list)
    """Synthesis counts, oldest first: per module per teach step (round, module, mode, requests, asked, parsed)
    and per module per adapt step (round, module, verified, kept, dropped: reason -> count); summary.json sums them."""

    probes_file: str = ""
    """The probes (relative to the run dir), fixed by identify."""

    answer_files: Annotated[list[str], operator.add] = field(default_factory=list)
    """The student's answers to the probes at each diagnosis (index = round): what remedial requests show."""

    lengths: dict[str, int] = field(default_factory=dict)
    """The caps in force (``ioa.lengths.Lengths``), fixed by identify from the student and the domain's data."""

    set_aside: Annotated[list[str], unique] = field(default_factory=list)
    """Modules for which the adapter kept nothing ``budget.max_empty_rounds`` rounds in a row: no longer taught."""

    finish_reason: str = ""
    """Why the planner finished, in the words the CLI prints."""

    status: Literal["running", "completed"] = "running"
    """Set to completed by the finish node."""
