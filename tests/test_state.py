"""The shared state: a reducer on every list channel that nodes append to, and forks rebuilt from the state."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

from langgraph.graph import StateGraph
from langgraph.types import Overwrite

import ioa.state
from ioa.config import load_config
from ioa.memory import ConceptMemory
from ioa.run_history import _rebuild_memory
from ioa.rundir import RunDir
from ioa.state import IOAState, unique

REPLACED = {"modules", "edges", "stages", "focus"}
"""List fields a node always sets whole (the curriculum and the planner's focus), never appends to."""

BASIC, LEGS = "numbers/basic", "counting/legs"
GYM = (
    "domain.gym=[{dataset: basic_arithmetic, id: numbers/basic, levels: 2, answer: number}, "
    "{dataset: leg_counting, id: counting/legs, prerequisites: [numbers/basic], levels: 2, answer: number}]"
)


def test_every_list_channel_but_the_wholly_replaced_ones_has_a_reducer() -> None:
    hints = typing.get_type_hints(IOAState, include_extras=True)
    # An Annotated[list[...], reducer] hint has origin Annotated; a bare list hint has origin list.
    bare = {name for name, hint in hints.items() if typing.get_origin(hint) is list}
    assert bare == REPLACED


def test_every_state_field_has_a_docstring() -> None:
    source = Path(ioa.state.__file__).read_text()
    for f in dataclasses.fields(IOAState):
        after = source.split(f"\n    {f.name}:", 1)[1].split("\n", 2)
        assert after[1].strip().startswith('"""'), f"{f.name} has no docstring"


def test_stuck_holds_each_module_once() -> None:
    assert unique(["a"], ["b", "a", "b", "c"]) == ["a", "b", "c"]
    assert unique([], []) == []


def test_the_graph_appends_to_list_channels_and_empties_the_batch_by_overwrite() -> None:
    def teach(state: IOAState) -> dict:
        return {"teach_files": ["t0"], "batch": ["a0"], "stuck": ["m"]}

    def train(state: IOAState) -> dict:
        assert state.batch == ["b", "a0"] and state.teach_files == ["t", "t0"]
        return {"batch": Overwrite([]), "trained_files": list(state.batch), "stuck": ["m"]}

    g = StateGraph(IOAState)
    g.add_node("teach", teach)
    g.add_node("train", train)
    g.add_edge("__start__", "teach")
    g.add_edge("teach", "train")
    start = dataclasses.asdict(IOAState(batch=["b"], teach_files=["t"], stuck=["m"]))
    final = g.compile().invoke(start)
    assert final["batch"] == [] and final["trained_files"] == ["b", "a0"] and final["stuck"] == ["m"]


def test_a_fork_rebuilds_chroma_from_the_state_under_the_runs_own_modules(tmp_path: Path) -> None:
    # A reasoning-gym run: the built-in domain's modules are nowhere in it.
    config = load_config(None, [GYM], environ={})
    dst = RunDir.create(tmp_path / "fork", config.to_yaml())
    state = IOAState(
        round=2,
        modules=[BASIC, LEGS],
        p_teacher={LEGS: 1.0, BASIC: 1.0},
        p_student={LEGS: 0.95, BASIC: 0.2},
        mastery=[
            {LEGS: "unmastered", BASIC: "unmastered"},
            {LEGS: "unmastered", BASIC: "mastered"},
            {LEGS: "mastered", BASIC: "unmastered"},
        ],
    )
    _rebuild_memory(dst, config, state)
    memory = ConceptMemory.open(dst.chroma)
    assert {k: memory.state(k) for k in (LEGS, BASIC)} == {LEGS: "mastered", BASIC: "unmastered"}
    [(module, text, _)] = memory.nearest_mastered("How many legs do 3 spiders have?", k=1)
    assert module == LEGS and text.startswith("Leg counting: ")
