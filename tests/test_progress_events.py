"""Progress events (ioa/events.py): one set of typed events for the CLI, notebooks and LangGraph Server clients."""

from __future__ import annotations

import io
from dataclasses import dataclass

from langgraph.graph import END, START, StateGraph
from rich.console import Console

from ioa.events import (
    GraphReporter,
    NodeFinished,
    NodeMessage,
    Reporter,
    RunFinished,
    StepProgress,
    event_from_dict,
    node_finished,
)
from ioa.progress import RunProgress


class Recorder(Reporter):
    def __init__(self) -> None:
        super().__init__()
        self.events: list = []

    def emit(self, event) -> None:
        self.events.append(event)


def test_every_event_survives_the_trip_through_plain_json():
    events = [
        NodeMessage(node="plan", round=1, summary="stage 0 of 2"),
        StepProgress(node="teach", round=1, summary="writing", numbers={"done": 2, "total": 5}, note="x"),
        NodeFinished(node="train", round=1, summary="updated batch", numbers={"usage.elapsed_s": 1.5}),
        RunFinished(node="finish", round=2, summary="completed", numbers={"rounds": 2}, result={"status": "completed"}),
    ]
    for event in events:
        data = event.to_dict()
        assert data["kind"] == event.kind
        assert event_from_dict(data) == event


def test_a_finished_node_reports_its_numbers_usage_and_mean_scores():
    update = {
        "round": 2,
        "p_student": {"a": 0.5, "b": 1.0},
        "usage": {"teacher_calls": 4, "elapsed_s": 2.0},
        "lengths": {"train_seq": 96},  # not a score: no mean of it
        "consolidated": True,
        "focus": ["a"],
    }
    event = node_finished("diagnose", update, 1)
    assert event.round == 2
    assert event.numbers == {"round": 2, "p_student.mean": 0.75, "usage.teacher_calls": 4, "usage.elapsed_s": 2.0}
    assert event.summary == "updated consolidated, focus, lengths, p_student, round, usage"
    assert node_finished("plan", None, 3) == NodeFinished(node="plan", round=3, summary="updated nothing")


def test_a_step_reports_its_start_each_advance_and_its_end_where_it_runs():
    reporter = Recorder()
    reporter.node("train", 3, "5 examples")
    with reporter.step("training", 2) as advance:
        advance(1, "loss 2.0")
        advance()
    message, *steps = reporter.events
    assert message == NodeMessage(node="train", round=3, summary="5 examples")
    assert [(s.numbers["done"], s.note, s.finished) for s in steps] == [
        (0, "", False),
        (1, "loss 2.0", False),
        (2, "", False),
        (2, "", True),
    ]
    assert {(s.node, s.round, s.summary) for s in steps} == {("train", 3, "training")}
    assert steps[1].line() == "round 3 train       training: 1/2 loss 2.0"


@dataclass
class Counter:
    n: int = 0


def test_inside_a_graph_reports_go_to_its_custom_stream_and_outside_to_the_fallback():
    outside: list = []
    reporter = GraphReporter(outside.append)

    def count(state: Counter) -> dict:
        reporter.node("count", state.n, "counting")
        with reporter.step("units", 1) as advance:
            advance()
        return {"n": state.n + 1}

    g = StateGraph(Counter)
    g.add_node("count", count)
    g.add_edge(START, "count")
    g.add_edge("count", END)
    chunks = list(g.compile().stream({"n": 0}, stream_mode=["custom", "updates"]))
    custom = [event_from_dict(chunk) for mode, chunk in chunks if mode == "custom"]
    assert [type(e) for e in custom] == [NodeMessage, StepProgress, StepProgress, StepProgress]
    assert {e.node for e in custom} == {"count"} and outside == []
    assert chunks[-1] == ("updates", {"count": {"n": 1}})
    reporter.node("setup", 0, "starting the teacher")
    assert outside == [NodeMessage(node="setup", round=0, summary="starting the teacher")]


def test_the_cli_display_draws_messages_and_bars_from_the_same_events():
    out = io.StringIO()
    with RunProgress(console=Console(file=out, force_terminal=False, width=120)) as display:
        display.show(NodeMessage(node="plan", round=1, summary="stage 0 of 2"))
        display.show(StepProgress(node="teach", round=1, summary="writing", numbers={"done": 1, "total": 2}))
        assert len(display._tasks) == 1
        display.show(
            StepProgress(node="teach", round=1, summary="writing", numbers={"done": 2, "total": 2}, finished=True)
        )
        assert display._tasks == {}
    assert "round 1 plan      stage 0 of 2" in out.getvalue()
    RunProgress(enabled=False).show(NodeMessage(node="plan", round=1, summary="nothing drawn"))
