"""A synthesis reply is read as it arrives and dropped from where it derails: where the teacher starts writing the
request's own fields back, or loops on a line or on a sentence within one. What came before is kept, counted and
traced; a reply that ends in its own time is read whole, with the server's token counts. A wave of requests waits
for its stragglers only so long: once half of it has finished, the rest get until STRAGGLER_FACTOR times that, and
a late reply is kept up to its last complete line."""

from __future__ import annotations

import time

import pytest
from fault_proxy import FakeOpenAIServer

from ioa.config import TeacherConfig
from ioa.teacher.client import ChatTeacher, build_chat_model
from ioa.teacher.derail import derail_point
from ioa.teacher.exercises import parse_exercises
from ioa.teacher.ledger import teacher_summary
from ioa.teacher.signatures import SynthesizeExercises, SynthesizeRemedial
from ioa.teacher.wave import STRAGGLER_FACTOR, Wave
from ioa.traces import Tracer, read_traces

CAT = 'Problem: What is the plural of "cat"?\nSteps: One cat, two cats.\nAnswer: cats\nCheck: One cat, many cats.'
DOG = 'Problem: What is the plural of "dog"?\nSteps: One dog, two dogs.\nAnswer: dogs\nCheck: One dog, many dogs.'
ECHO = "skill: plural/regular (Regular plurals)\nprerequisites: none\nitems: cat, dog, cup\ncount: 9"

derailed_at = derail_point(SynthesizeExercises)


def _kept(text: str) -> str:
    at = derailed_at(text)
    return text if at is None else text[:at]


def test_a_reply_that_writes_the_request_back_is_cut_before_it():
    reply = f"exercises: {CAT}\n\n{DOG}\n\n{ECHO}"
    assert _kept(reply).rstrip() == f"exercises: {CAT}\n\n{DOG}"
    assert [e.answer for e in parse_exercises(_kept(reply))] == ["cats", "dogs"]


def test_any_of_the_programs_own_labels_counts_in_any_case_and_markup():
    remedial = derail_point(SynthesizeRemedial)
    for line in ("Mistakes: cat (the student wrote cat)", "**Size cap:** 4 letters", "- Exercises: more"):
        assert remedial(f"{CAT}\n{line}\n") == len(CAT) + 1
    # Labels the request does not have are an exercise's own, and so are the exercise's fields.
    assert derailed_at(f"{CAT}\nNote: plurals add -s.\n") is None


def test_the_first_line_may_carry_the_output_label_and_a_second_may_not():
    assert derailed_at(f"\n\nexercises: {CAT}\n") is None
    assert _kept(f"exercises: {CAT}\n\nexercises: {DOG}\n").rstrip() == f"exercises: {CAT}"


def test_a_line_written_a_third_time_is_a_loop():
    loop = "Item: cat, cats, cat, cats"
    reply = f"{CAT}\n{loop}\n{loop}\n{loop}\n{loop}\n"
    assert _kept(reply) == f"{CAT}\n{loop}\n{loop}\n"
    # A line still being written is not yet a repeat.
    assert derailed_at(f"{CAT}\n{loop}\n{loop}\n{loop[:10]}") is None


def test_a_sentence_written_a_third_time_within_its_line_is_a_loop():
    ramble = "It is a good example of a pattern. It is used to create patterns. "
    reply = f"exercises: {CAT}\n\n{DOG}\n\nThis is a classic example. {ramble}{ramble}It is used to create patterns."
    kept = _kept(reply)
    assert kept == f"exercises: {CAT}\n\n{DOG}\n\nThis is a classic example. {ramble}{ramble}"
    assert [e.answer for e in parse_exercises(kept)] == ["cats", "dogs"]
    # Across lines a sentence may repeat: one step template for every exercise.
    template = "\n\n".join(
        f'Problem: What is the plural of "{w}"?\nSteps: Add -s to the word. {w} becomes {w}s.\nAnswer: {w}s'
        for w in ("cat", "dog", "cup", "pen")
    )
    assert derailed_at(f"exercises: {template}") is None


def test_a_word_listed_a_third_time_within_its_line_is_a_loop():
    listing = 'Problem: What is the plural of "book"; "dog"; "moose"; "dog"; "cat"; "dog"; "goat"; "dog"'
    reply = f"exercises: {CAT}\n\n{listing}"
    assert _kept(reply) == f'exercises: {CAT}\n\nProblem: What is the plural of "book"; "dog"; "moose"; "dog"; "cat"; '
    # Two clauses alike are no loop: "One cat; two cats; one dog; two dogs."
    assert derailed_at(f"exercises: {CAT}\nSteps: one cat; two cats; one dog; two dogs; so: one cat; two cats.") is None


def _teacher(url, tmp_path) -> ChatTeacher:
    config = TeacherConfig(model="fake", max_concurrency=2)
    return ChatTeacher(build_chat_model(config, url, None), config, Tracer(tmp_path / "traces.jsonl"))


REQUEST = {
    "skill": "plural/regular (Regular plurals): Most nouns take -s.",
    "prerequisites": "none",
    "level": "level 1 of 3",
    "size_cap": "words of at most 4 letters",
    "complexity_cap": "one rule only",
    "student": "the student scores 0% of what you score on this skill",
    "items": "cat, dog",
    "count": 2,
}


@pytest.mark.parametrize("derails", [True, False])
def test_a_synthesis_reply_streams_and_stops_where_it_derails(tmp_path, derails):
    reply = f"exercises: {CAT}\n\n{DOG}" + (f"\n\n{ECHO}" if derails else "")
    sent: list[dict] = []
    with FakeOpenAIServer(lambda messages: sent.append(messages) or reply) as server:
        teacher = _teacher(server.url, tmp_path)
        [prediction] = teacher.run("synthesize_new", [REQUEST], round=1, node="teach", temperature=0.7)
        teacher.run("answer_probe", [{"question": "What is the plural of cat?"}], round=1, node="identify")
    assert [e.answer for e in parse_exercises(prediction.exercises)] == ["cats", "dogs"]
    assert "skill:" not in prediction.exercises
    events = read_traces(tmp_path / "traces.jsonl")
    synthesis = next(e for e in events if e.get("program") == "synthesize_new")
    assert synthesis["derailed"] == int(derails)
    summary = teacher_summary(events, teacher.cfg)
    assert summary["derailed"] == int(derails) and summary["calls"] == 2
    if derails:  # the usage never came: the prompt's tokens are estimated, the completion's are the pieces read
        assert synthesis["prompt_tokens"] > 0 and synthesis["completion_tokens"] == len(
            synthesis["raw_output"].split(" ")
        )
    else:  # read to its end: the server's own counts
        assert (synthesis["prompt_tokens"], synthesis["completion_tokens"]) == (10, 3)


def test_only_the_synthesis_programs_stream(tmp_path):
    with FakeOpenAIServer() as server:
        teacher = _teacher(server.url, tmp_path)
        teacher.run("answer_probe", [{"question": "2 + 2?"}], round=0, node="identify")
        teacher.run("synthesize_new", [REQUEST], round=1, node="teach")
    probe, synthesis = server.bodies
    assert not probe.get("stream") and synthesis["stream"] is True
    assert synthesis["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("fault", ["truncated", "invalid_json", "empty"])
def test_a_damaged_stream_is_a_fault_of_its_kind_and_is_asked_again(tmp_path, fault):
    from fault_proxy import CLIENT_KIND, FaultProxy

    config = TeacherConfig(model="fake", max_concurrency=1, max_retries=2, retry_backoff_s=0.01)
    with (
        FakeOpenAIServer(lambda messages: f"exercises: {CAT}") as server,
        FaultProxy(server.url, script=[fault]) as proxy,
    ):
        teacher = ChatTeacher(build_chat_model(config, proxy.url, None), config, Tracer(tmp_path / "traces.jsonl"))
        [prediction] = teacher.run("synthesize_new", [REQUEST], round=1, node="teach")
    assert [e.answer for e in parse_exercises(prediction.exercises)] == ["cats"]
    [event] = [e for e in read_traces(tmp_path / "traces.jsonl") if e.get("program") == "synthesize_new"]
    assert event["faults"] == {CLIENT_KIND[fault]: 1} and event["retries"] == 1


def test_the_benchmark_sends_the_main_jobs_first_wave():
    """benchmarks/synthesis_derail.py times a wave as the main job sends it: the teacher's concurrency in requests,
    both first-stage modules, the level's items, and the completion cap a run derives."""
    import importlib.util
    from pathlib import Path

    from ioa.config import load_config

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "synthesis_derail.py"
    spec = importlib.util.spec_from_file_location("synthesis_derail", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)  # type: ignore[union-attr]
    config = load_config(None, environ={})
    inputs, cap = bench.wave(config)
    assert len(inputs) == config.teacher.max_concurrency
    assert {i["skill"].split(" ")[0] for i in inputs} == {"capitals", "plural/regular"}
    assert all(i["items"] and i["count"] == 5 for i in inputs) and cap > 0


# --- a wave waits for its stragglers only so long (ioa.teacher.wave) ---------------------------------------------


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
    resumed = Wave(4, clock)
    resumed.done(paid=False)
    resumed.done(paid=False)  # half the step came from the cache at once: it sets no pace for the other half
    assert not resumed.late()
    clock.now += 10
    resumed.done()
    clock.now += 10 * STRAGGLER_FACTOR + 0.1
    assert resumed.late()
    cached = Wave(1, clock)
    cached.done(paid=False)
    assert not cached.late()  # a step answered whole from the cache has no pace either


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
