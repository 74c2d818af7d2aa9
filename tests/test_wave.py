"""A synthesis wave waits for its stragglers only so long (ioa.teacher.wave): once half of it has finished, the rest
get until STRAGGLER_FACTOR times that, and a late reply is kept up to its last complete line."""

from __future__ import annotations

import time

from fault_proxy import FakeOpenAIServer

from ioa.config import TeacherConfig
from ioa.teacher.client import ChatTeacher, build_chat_model
from ioa.teacher.exercises import parse_exercises
from ioa.teacher.ledger import teacher_summary
from ioa.teacher.wave import STRAGGLER_FACTOR, Wave
from ioa.traces import Tracer, read_traces

CAT = 'Problem: What is the plural of "cat"?\nSteps: One cat, two cats.\nAnswer: cats\nCheck: One cat, many cats.'
DOG = 'Problem: What is the plural of "dog"?\nSteps: One dog, two dogs.\nAnswer: dogs\nCheck: One dog, many dogs.'
REQUEST = {
    "skill": "plural/regular (Regular plurals): Most nouns take -s.",
    "prerequisites": "none",
    "level": "level 1 of 3",
    "size_cap": "words of at most 4 letters",
    "complexity_cap": "one rule only",
    "student": "the student scores 0% of what you score on this skill",
    "count": 2,
}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_rest_of_a_wave_is_late_once_it_ran_past_the_factor_times_its_first_half() -> None:
    clock = Clock()
    wave = Wave(4, clock)
    clock.now += 10
    wave.done()
    clock.now += 100
    assert not wave.late()  # one of four finished: no half yet, however long it takes
    clock.now = 100 + 20
    wave.done()  # half the wave finished after 20 s
    clock.now = 100 + 20 * STRAGGLER_FACTOR
    assert not wave.late()
    clock.now += 0.1
    assert wave.late()
    assert not Wave(1, clock).late()  # a single request waits for nothing


def test_a_straggler_is_cut_at_its_last_complete_line_and_the_wave_goes_on(tmp_path) -> None:
    ramble = " ".join(f"word{i}" for i in range(400))  # 8 s at the pace below: no loop, no echo to derail on
    requests = [{**REQUEST, "items": item} for item in ("cat, dog", "dog, cat", "cat", "slow")]

    def reply(messages):
        slow = "items: slow" in messages[-1]["content"]
        return f"exercises: {CAT}\n\n{DOG}" + (f"\n\n{ramble}" if slow else "")

    config = TeacherConfig(model="fake", max_concurrency=4)
    with FakeOpenAIServer(reply, pace=lambda messages: 0.02) as server:
        teacher = ChatTeacher(build_chat_model(config, server.url, None), config, Tracer(tmp_path / "traces.jsonl"))
        started = time.monotonic()
        wave = Wave(len(requests))  # as the teach node sends its step: every request in one wave
        predictions = teacher.run("synthesize_new", requests, round=1, node="teach", temperature=0.7, wave=wave)
        took = time.monotonic() - started
    assert took < 4.0  # the straggler alone would take 8 s
    *whole, cut = predictions
    assert all([e.answer for e in parse_exercises(p.exercises)] == ["cats", "dogs"] for p in whole)
    assert "cats" in [e.answer for e in parse_exercises(cut.exercises)]  # its finished exercise is kept
    assert "word399" not in cut.exercises
    events = [e for e in read_traces(tmp_path / "traces.jsonl") if e.get("program") == "synthesize_new"]
    assert [e["late"] for e in events if "slow" in e["inputs"]["items"]] == [1]
    summary = teacher_summary(events, config)
    assert summary["late"] == 1 and summary["derailed"] == 0 and summary["dropped"] == 0
