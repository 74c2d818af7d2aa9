"""The teacher node: new exercises per focus module at its ZPD level, in the planner's mode (new, remedial,
bridging)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

from langchain_core.language_models import FakeListChatModel

from ioa.agents.synthesis import MAX_MISTAKES, build_requests, mistake_lines, request_counts
from ioa.agents.teacher import teach_file, teach_focus
from ioa.bench.oracle import OracleTeacher, TaskBook
from ioa.config import Config, TeacherConfig
from ioa.context import Services
from ioa.domains import get_domain
from ioa.memory import ConceptMemory
from ioa.rundir import RunDir, read_jsonl, write_jsonl
from ioa.state import IOAState
from ioa.teacher.client import ChatTeacher
from ioa.traces import Tracer, read_traces

ADD, SUB, MUL = "arithmetic/addition", "arithmetic/subtraction", "arithmetic/multiplication"
CHAIN = "arithmetic/chain_sum"
PLURAL, ES = "plural/regular", "plural/es"


def _arithmetic_state(focus: list[str]) -> IOAState:
    return IOAState(
        round=2,
        modules=[ADD, SUB, MUL, CHAIN],
        stages=[[ADD], [SUB, MUL], [CHAIN]],
        stage_index=2,
        stage_levels={CHAIN: 0},
        levels={ADD: 1, SUB: 0},
        focus=focus,
    )


def _teach(
    tmp_path: Path, focus: list[str], zpd_stretch: float = 0.0, organizer: bool = True
) -> tuple[list[dict], dict, TaskBook]:
    """``focus`` of stage 2 of [[addition], [subtraction, multiplication], [chain sums]] is taught by the oracle."""
    book = TaskBook(get_domain("arithmetic", 0))
    config = Config.model_validate(
        {
            "synthesis": {"examples_per_module": 4},
            "rules": {"zpd_stretch": zpd_stretch},
            "ablation": {"organizer": organizer},
        }
    )
    svc = Services(
        config=config,
        run_dir=RunDir(tmp_path),
        domain=book,
        teacher=OracleTeacher(book),  # a Teacher with exact answers
        memory=None,  # type: ignore[arg-type]  # new-mode teaching never reads the concept memory
        tracer=Tracer(tmp_path / "traces.jsonl"),
        tokenizer_dir=tmp_path,
    )
    update = teach_focus(_arithmetic_state(focus), SimpleNamespace(context=svc))  # type: ignore[arg-type]
    (event,) = [e for e in read_traces(tmp_path / "traces.jsonl") if e["kind"] == "synthesis"]
    assert update["teach_files"] == [teach_file(3, 0)] and update["synthesis"] == event["per_module"]
    return read_jsonl(tmp_path / teach_file(3, 0)), event, book


def test_each_focus_module_gets_new_exercises_one_notch_above_its_level(tmp_path: Path) -> None:
    rows, event, book = _teach(tmp_path, [CHAIN, ADD, SUB])
    assert Counter(r["module"] for r in rows) == {CHAIN: 4, ADD: 4, SUB: 4}
    # The stage's level for chain sums; one notch above the measured level for addition (1) and subtraction (0).
    assert {r["module"]: r["level"] for r in rows} == {CHAIN: 0, ADD: 2, SUB: 1}
    # Each row carries the paper's schema; the oracle's exercises pass the domain's checker of new questions.
    for r in rows:
        assert r["problem"] and r["steps"] and r["answer"] and r["mode"] == "new" and len(r["strategies"]) == 5
        assert book.verify(r["module"], r["problem"], r["steps"], r["answer"]).ok
    assert event["focus"] == [CHAIN, ADD, SUB] and event["file"] == teach_file(3, 0)
    assert {r["module"]: (r["asked"], r["parsed"], r["requests"]) for r in event["per_module"]} == {
        CHAIN: (4, 4, 1),
        ADD: (4, 4, 1),
        SUB: (4, 4, 1),
    }


def test_stretch_sets_a_share_of_each_module_one_level_above_its_zpd_level(tmp_path: Path) -> None:
    rows, _, _ = _teach(tmp_path, [CHAIN, ADD, SUB], zpd_stretch=0.5)
    levels = Counter((r["module"], r["level"]) for r in rows)
    # Chain sums are taught at 0 (4 exercises: 2 + 2); addition's ZPD level 2 is the top, so nothing goes above it.
    assert levels == {(CHAIN, 0): 2, (CHAIN, 1): 2, (ADD, 2): 4, (SUB, 1): 2, (SUB, 2): 2}


def test_without_the_organizer_each_module_spreads_its_exercises_over_every_level(tmp_path: Path) -> None:
    """No ZPD (`ioa bench`'s ioa-no-organizer and uniform-rounds): J over the three levels, the lowest first."""
    rows, _, _ = _teach(tmp_path, [CHAIN, ADD], organizer=False)
    levels = Counter((r["module"], r["level"]) for r in rows)
    assert levels == {(CHAIN, 0): 2, (CHAIN, 1): 1, (CHAIN, 2): 1, (ADD, 0): 2, (ADD, 1): 1, (ADD, 2): 1}


def test_requests_follow_the_measured_yield_within_one_wave() -> None:
    needs = {(ADD, 0): 10, (SUB, 0): 10}
    assert request_counts(IOAState(), needs, concurrency=16) == {(ADD, 0): 1, (SUB, 0): 1}  # nothing measured yet
    weak = IOAState(synthesis=[{"module": ADD, "requests": 4}, {"module": ADD, "kept": 2}])  # 0.5 kept a request
    counts = request_counts(weak, needs, concurrency=16)
    assert counts == {(ADD, 0): 8, (SUB, 0): 8}  # 20 wanted each; the wave of 16 is shared
    strong = IOAState(synthesis=[{"module": ADD, "requests": 1}, {"module": ADD, "kept": 10}])
    assert request_counts(strong, needs, concurrency=16) == {(ADD, 0): 1, (SUB, 0): 1}


# --- the three modes' prompts, through the real chat client -------------------------------------------------


class RecordingChat(FakeListChatModel):
    """A fake chat model that keeps every prompt it was sent, whether asked whole or streamed (synthesis)."""

    seen: list = []

    def _call(self, messages, stop=None, run_manager=None, **kwargs):  # noqa: ANN001, ANN202
        self.seen.append(messages)
        return super()._call(messages, stop, run_manager, **kwargs)

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):  # noqa: ANN001, ANN202
        self.seen.append(messages)
        return super()._stream(messages, stop, run_manager, **kwargs)


def _words_services(tmp_path: Path, reply: str) -> tuple[Services, RecordingChat]:
    domain = get_domain("words", 0)
    chat = RecordingChat(responses=[reply] * 50)
    chat.seen = []
    config = Config.model_validate({"synthesis": {"examples_per_module": 3}, "rules": {"zpd_stretch": 0.0}})
    tracer = Tracer(tmp_path / "traces.jsonl")
    teacher = ChatTeacher(chat, TeacherConfig(max_concurrency=1), tracer)
    svc = Services(
        config=config,
        run_dir=RunDir(tmp_path),
        domain=domain,
        teacher=teacher,
        memory=ConceptMemory.ephemeral(),
        tracer=tracer,
        tokenizer_dir=tmp_path,
    )
    return svc, chat


REPLY = (
    'exercises: Problem: What is the plural of "bus"?\nSteps: "bus" ends in s. Add -es.\nAnswer: buses\n'
    "Check: One bus, many buses.\n\nProblem: What is the plural of"  # the second exercise is cut off: not parsed
)


def _last_prompt(chat: RecordingChat) -> str:
    return "\n".join(str(m.content) for m in chat.seen[-1])


def test_remedial_requests_carry_the_students_wrong_answers(tmp_path: Path) -> None:
    svc, chat = _words_services(tmp_path, REPLY)
    probes = svc.domain.probes(ES, 3, 0)
    write_jsonl(tmp_path / "data/probes.jsonl", [p.__dict__ for p in probes])
    write_jsonl(
        tmp_path / "data/round_1_student_answers.jsonl",
        [
            {"module": ES, "question": probes[0].question, "answer": "Step 1: add -s.\nAnswer: boxs"},
            {"module": ES, "question": "x", "answer": ""},
        ],
    )
    state = IOAState(
        round=1,
        modules=[PLURAL, ES],
        focus=[ES],
        mode="remedial",
        modes={ES: "remedial"},
        probes_file="data/probes.jsonl",
        answer_files=["data/round_0_student_answers.jsonl", "data/round_1_student_answers.jsonl"],
        p_teacher={ES: 0.75},
        p_student={ES: 0.25},
    )
    update = teach_focus(state, SimpleNamespace(context=svc))  # type: ignore[arg-type]
    prompt = _last_prompt(chat)
    assert "The student got the exercises below wrong" in prompt  # the remedial signature's own instruction
    word = probes[0].entry["word"]
    assert f'{word} (the student wrote "boxs")' in prompt  # the item and its answer, not the steps
    assert "words of at most" in prompt and "33% of what you score" in prompt  # size cap and baseline ratio
    (record,) = update["synthesis"]
    assert (record["mode"], record["asked"], record["parsed"]) == ("remedial", 3, 1)
    event = next(e for e in read_traces(tmp_path / "traces.jsonl") if e["agent"] == "teacher" and "prompt" in e)
    assert event["program"] == "synthesize_remedial" and "boxs" in event["prompt"]  # the trace shows the prompt


def test_each_remedial_request_of_a_step_leads_with_another_mistake() -> None:
    domain = get_domain("words", 0)
    wrong = [(p, f"{p.entry['word']}z") for p in domain.probes(ES, 5, 0)]
    words = [p.entry["word"] for p, _ in wrong]
    leads = [mistake_lines(domain, wrong, turn).split(" (")[0] for turn in range(6)]
    assert leads == [*words, words[0]]  # every mistake leads one request, then round again
    shown = mistake_lines(domain, wrong, 4)
    assert shown.count("the student wrote") == MAX_MISTAKES and shown.startswith(words[4])
    assert f'{words[1]} (the student wrote "{words[1]}z")' in shown  # the window wraps to the first ones
    assert mistake_lines(domain, [], 3) == ""


def test_a_steps_requests_lead_with_the_items_no_kept_example_teaches_yet(tmp_path: Path) -> None:
    svc, _ = _words_services(tmp_path, REPLY)
    level = svc.domain.lesson(ES, 0).items
    taught, fresh = set(level[:2]), set(level[2:])
    kept = [{"module": ES, "prompt": f'What is the plural of "{w}"?'} for w in sorted(taught)]
    elsewhere = [{"module": PLURAL, "prompt": f'What is the plural of "{w}"?'} for w in sorted(fresh)]
    write_jsonl(tmp_path / "data/trained.jsonl", kept[:1] + elsewhere)  # another module's example teaches nothing here
    write_jsonl(tmp_path / "data/batch.jsonl", kept[1:])  # a kept example waiting in the batch counts
    state = IOAState(
        round=2,
        modules=[PLURAL, ES],
        focus=[ES],
        modes={ES: "new"},
        trained_files=["data/trained.jsonl"],
        batch=["data/batch.jsonl"],
        synthesis=[{"module": ES, "requests": 4, "kept": 1}],  # a yield of 1 in 4: several requests a step
    )
    requests = build_requests(state, svc, {ES: "new"}, draw=0)
    listed = [r.inputs["items"].split(", ") for r in requests]
    assert len(listed) > 2 and all(set(items[:2]) == fresh and set(items[2:]) == taught for items in listed)
    assert {items[0] for items in listed} == fresh  # each untaught item leads some request


def test_bridging_requests_never_name_a_mastered_module_of_another_subject(tmp_path: Path) -> None:
    svc, chat = _words_services(tmp_path, REPLY)
    svc.memory.record("capitals", "Capital cities: Every country has a capital city.", True, {"round": 1})
    state = IOAState(round=1, modules=[PLURAL, ES], focus=[ES], mode="bridging", modes={ES: "bridging"})
    teach_focus(state, SimpleNamespace(context=svc))  # type: ignore[arg-type]
    request = str(chat.seen[-1][-1].content)  # the request itself, after the worked demo
    assert "mastered: none near this skill" in request and "Capital" not in _last_prompt(chat)


def test_bridging_requests_name_the_nearest_mastered_module(tmp_path: Path) -> None:
    svc, chat = _words_services(tmp_path, REPLY)
    svc.memory.record(PLURAL, "Regular plurals: Most nouns take -s in the plural.", True, {"round": 1})
    svc.memory.record("capitals", "Capital cities: every country has a capital city.", False, {"round": 1})
    state = IOAState(round=1, modules=[PLURAL, ES], focus=[ES], mode="bridging", modes={ES: "bridging"})
    teach_focus(state, SimpleNamespace(context=svc))  # type: ignore[arg-type]
    prompt = _last_prompt(chat)
    assert "exactly one step harder" in prompt
    assert "mastered: Regular plurals: Most nouns take -s in the plural." in prompt
    # The style reference is a worked demo of the same request, on words outside the unit (never a probe's).
    assert 'What is the plural of "tax"?' in prompt and "items: tax, wish" in prompt
    assert json.dumps(svc.domain.lesson(ES, 0).items)  # the unit's words are what the request names instead
