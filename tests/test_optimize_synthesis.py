"""`ioa optimize-prompts` on the teacher's synthesis programs, with the `words` domain and a fake teacher.

The fake teacher is a LangChain chat model behind the project's own client (ioa.teacher.client), so the
requests go through the same adapter, parsing and tracing as a run's teach node; it writes exercises on
the request's items that the domain's real checker verifies (or refutes).
"""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from types import SimpleNamespace

import dspy
import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from typer.testing import CliRunner

from ioa.agents import synthesis
from ioa.agents.teacher import teach_focus
from ioa.cli import app
from ioa.config import Config, load_config
from ioa.context import Services
from ioa.domains import get_domain
from ioa.domains.words import WordsDomain
from ioa.memory import ConceptMemory
from ioa.optimize import PROGRAM_TASKS, SynthesisMetric, command, draw_split, optimize_prompts, to_examples
from ioa.optimize.metric import run_inputs, student_mistakes
from ioa.rundir import RunDir
from ioa.state import IOAState
from ioa.teacher.client import ChatTeacher
from ioa.teacher.signatures import SynthesizeExercises
from ioa.traces import Tracer, read_traces

PLURAL, ES = "plural/regular", "plural/es"
SMALL = [
    "domain.name=words",
    "optimize.train_size=4",
    "optimize.dev_size=3",
    "optimize.student_exercises=2",
    "synthesis.examples_per_module=4",
    "lengths.teacher_synthesis=600",  # as a run derives it, without loading a student here
    "teacher.max_concurrency=1",
]
NEW_INSTRUCTION = "Write each exercise on a different listed word, and check every answer."
WORDS = WordsDomain()


def exercise(module: str, word: str, right: bool = True) -> str:
    """One exercise in the asked format, on ``word``: right, or with a wrong answer that the checker refutes."""
    unit = WORDS._unit(module)
    answer = unit.forms(word)[0] if right else word + "zz"
    steps = unit.steps(word, answer) if right else f"Just write {answer}."
    return f"Problem: {unit.ask.format(w=word)}\nSteps: {steps}\nAnswer: {answer}\nCheck: {unit.check(word, answer)}"


class WriterChat(BaseChatModel):
    """A fake teacher: writes the asked count of exercises on the request's items, all right for the modules named
    ``perfect`` (the plural ones), the last one wrong for the others, unless its instruction is ``NEW_INSTRUCTION``
    (then all right); asked for an instruction (GEPA's reflection), it proposes ``NEW_INSTRUCTION``."""

    requests: list[str] = []
    perfect: str = "plural/"
    """Modules (by prefix) on which it writes every exercise right."""

    @property
    def _llm_type(self) -> str:
        return "writer-fake"

    def _generate(self, messages: list[BaseMessage], stop=None, run_manager=None, **kwargs) -> ChatResult:
        system, last = str(messages[0].content), str(messages[-1].content)
        self.requests.append(last)
        skill = re.search(r"^skill: (\S+) \(", last, re.M)
        if skill:
            module = skill.group(1)
            count = int(re.search(r"^count: (\d+)$", last, re.M).group(1))
            words = re.search(r"^items: (.*)$", last, re.M).group(1).split(", ")
            all_right = module.startswith(self.perfect) or NEW_INSTRUCTION in system
            blocks = [exercise(module, words[i % len(words)], right=all_right or i < count - 1) for i in range(count)]
            text = "exercises: " + "\n\n".join(blocks)
        else:
            label = re.search(r"Reply in exactly this form:\n([\w ]+):", system).group(1)
            text = f"{label}: {NEW_INSTRUCTION}"
        return ChatResult(generations=[ChatGeneration(message=AIMessage(text))])


@pytest.fixture(autouse=True)
def reset_dspy():
    yield
    dspy.configure(lm=None, adapter=None)


@pytest.fixture
def cfg() -> Config:
    return load_config(None, SMALL, environ={})


def gold_for(module: str, level: int, count: int, program: str = "synthesize_new") -> dspy.Example:
    [task] = WORDS.exercises(module, level, 1, seed=0)
    [gold] = to_examples([task], WORDS, program, count=count)
    return gold


def expected_scores(cfg: Config, perfect: str = "plural/") -> tuple[int, int]:
    """(exercises asked, exercises the fake gets right) on the dev split, from the fake's rule."""
    _, dev = draw_split(get_domain("words", 0), cfg.optimize)
    j = cfg.synthesis.examples_per_module
    return len(dev) * j, sum(j if t.module.startswith(perfect) else j - 1 for t in dev)


# --- the programs and their inputs ----------------------------------------------------------------------


def test_the_synthesis_programs_are_those_of_the_teach_node():
    modes = {task.mode: name for name, task in PROGRAM_TASKS.items() if task.mode}
    assert modes == synthesis.PROGRAMS  # the same mode -> program map as the run's


def test_new_requests_carry_the_fields_a_run_sends(cfg):
    train, dev = draw_split(WORDS, cfg.optimize)
    examples = to_examples(train + dev, WORDS, "synthesize_new", count=4)
    inputs = examples[0].inputs().toDict()
    task = train[0]
    assert set(inputs) == set(SynthesizeExercises.input_fields)
    assert inputs["count"] == 4 and inputs["level"] == f"level {task.level + 1} of 3"
    lesson = WORDS.lesson(task.module, task.level)
    assert inputs["size_cap"] == lesson.size_cap and inputs["items"] == ", ".join(lesson.items)
    assert inputs["skill"].startswith(f"{task.module} (") and "0% of what you score" in inputs["student"]
    # Before optimizing, a request shows the domain's style references as its demo, as a run's does.
    [demo] = run_inputs(examples[0], WORDS, "synthesize_new", own_demos=False)["demos"]
    assert demo.exercises.startswith("Problem:") and demo["count"] == 2
    assert "demos" not in run_inputs(examples[0], WORDS, "synthesize_new", own_demos=True)


def test_two_requests_of_one_module_and_level_lead_with_different_items():
    tasks = WORDS.exercises(ES, 1, 2, seed=0)
    first, second = (ex["items"] for ex in to_examples(tasks, WORDS, "synthesize_new", count=4))
    assert first == "dish, lunch, glass, watch" and second == "lunch, glass, watch, dish"


def test_remedial_requests_show_the_students_wrong_answers_and_bridging_the_prerequisite():
    def says_cats(questions):
        return ["cats" for _ in questions]

    mistakes = student_mistakes(WORDS, says_cats, [ES, PLURAL], n=2, seed=0)
    assert mistakes[PLURAL].success == pytest.approx(1 / 6)  # "cats" is right for "cat" only
    assert mistakes[ES].success == 0.0 and len(mistakes[ES].text.split("; ")) == synthesis.MAX_MISTAKES
    assert re.match(r'\w+ \(the student wrote "cats"\); ', mistakes[ES].text)
    tasks = WORDS.exercises(ES, 0, 1, seed=0) + WORDS.exercises(PLURAL, 0, 1, seed=0)
    remedial = to_examples(tasks, WORDS, "synthesize_remedial", count=4, mistakes=mistakes)
    assert remedial[0].mistakes == mistakes[ES].text and "0% of what you score" in remedial[0].student
    assert "17% of what you score" in remedial[1].student
    assert to_examples(tasks, WORDS, "synthesize_remedial", count=4)[0].mistakes == "none recorded"
    bridging = to_examples(tasks, WORDS, "synthesize_bridging", count=4)
    assert bridging[0].mastered.startswith("Regular plurals: Most nouns take -s")  # plural/es's prerequisite
    assert bridging[1].mastered == "none yet"  # plural/regular has none


# --- the metric ------------------------------------------------------------------------------------------


def test_metric_counts_parsed_verified_distinct_exercises_of_the_count_asked():
    metric = SynthesisMetric(WORDS)
    gold = gold_for(PLURAL, 0, count=4)
    reply = "\n\n".join(
        [
            exercise(PLURAL, "cat"),
            exercise(PLURAL, "dog"),
            exercise(PLURAL, "cup", right=False),
            exercise(PLURAL, "cat"),  # the same problem again
        ]
    )
    pred = dspy.Prediction(exercises=reply)
    assert metric(gold, pred) == 0.5  # 2 of the 4 asked
    assert metric.tally(gold, pred) == (4, 2)
    feedback = metric.with_feedback(gold, pred)
    assert feedback.score == 0.5
    assert "4 parsed, 2 verified by the domain's checker, 1 repeating an earlier problem, 1 wrong" in feedback.feedback
    assert "wrong answer for 'cup'" in feedback.feedback and "different problem" in feedback.feedback
    # A bootstrapped demo must be exemplary: DSPy's call with a trace says no to this one, yes to a perfect one.
    assert metric(gold, pred, trace=[]) is False
    perfect = dspy.Prediction(exercises="\n\n".join(exercise(PLURAL, w) for w in ("cat", "dog", "cup", "pen")))
    assert metric(gold, perfect) == 1.0 and metric(gold, perfect, trace=[]) is True
    # More than asked counts no more than asked; one that does not parse counts nothing.
    six = "\n\n".join(exercise(PLURAL, w) for w in ("cat", "dog", "cup", "pen", "book", "bird"))
    assert metric(gold, dspy.Prediction(exercises=six)) == 1.0
    half = exercise(PLURAL, "cat") + "\n\nProblem: What is the plural of"
    assert metric(gold, dspy.Prediction(exercises=half)) == 0.25


def test_metric_gives_nothing_for_a_missing_prediction():
    metric = SynthesisMetric(WORDS)
    gold = gold_for(PLURAL, 0, count=4)
    assert metric(gold, None) == 0.0 and metric(gold, dspy.Prediction(exercises="")) == 0.0
    assert metric.tally(gold, None) == (4, 0)
    assert metric.with_feedback(gold, None).feedback.startswith("No reply: write 4 exercises")


def test_an_exercise_of_another_module_is_refuted():
    metric = SynthesisMetric(WORDS)
    pred = dspy.Prediction(exercises=exercise("plural/irregular", "man"))
    assert metric(gold_for(PLURAL, 0, count=1), pred) == 0.0  # 'man' does not follow the module's rule


# --- compiling, scoring before and after, swapping in ---------------------------------------------------


def test_bootstrap_compiles_synthesize_new_and_scores_the_dev_requests(cfg, tmp_path):
    out = tmp_path / "new.json"
    result = optimize_prompts(cfg, "synthesize_new", "bootstrap", out, budget=4, chat=WriterChat(requests=[]))
    asked, right = expected_scores(cfg)
    assert 0 < right < asked  # the dev split has plural modules and others
    assert (result.before.requests, result.before.n, result.before.verified) == (3, asked, right)
    assert result.after.verified == right and result.before.metric == pytest.approx(right / asked, abs=1e-4)
    assert result.dev_calibration is None
    # One demo at most, and only a reply whose 4 exercises all count (the fake's plural modules).
    state = json.loads(out.read_text())
    assert state["lm"] is None and len(state["demos"]) == result.demos == 1
    [demo] = state["demos"]
    assert demo["skill"].startswith("plural/") and demo["count"] == 4 and demo["exercises"].count("Problem:") == 4
    # Before: the run's style references as the demo; after: the saved program's demo instead.
    events = read_traces(tmp_path / "new.optimize" / "traces.jsonl")
    before = [e for e in events if e["node"] == "optimize_before"]
    after = [e for e in events if e["node"] == "optimize_after"]
    assert len(before) == len(after) == 3
    assert all(demo["exercises"][:60] in e["prompt"] for e in after)
    assert not any(demo["exercises"][:60] in e["prompt"] for e in before)
    # The style reference is a demo of two exercises on words outside the unit (count: 2).
    assert all("count: 2" in e["prompt"] for e in before) and not any("count: 2" in e["prompt"] for e in after)


@pytest.mark.parametrize("optimizer", ["mipro", "gepa"])
def test_instruction_optimizers_adopt_an_instruction_that_writes_better_exercises(cfg, tmp_path, optimizer):
    out = tmp_path / f"{optimizer}.json"
    chat = WriterChat(requests=[], perfect="none")  # every reply has one wrong exercise, until the new instruction
    result = optimize_prompts(cfg, "synthesize_new", optimizer, out, budget=12, chat=chat)
    assert result.instructions_changed and NEW_INSTRUCTION in result.instructions
    asked, right = expected_scores(cfg, perfect="none")
    assert right == asked - 3
    assert (result.before.verified, result.after.verified) == (right, asked)
    assert result.after.metric == 1.0


def test_remedial_optimization_asks_with_the_students_mistakes(cfg, tmp_path):
    def says_nothing(questions):
        return ["" for _ in questions]

    out = tmp_path / "remedial.json"
    result = optimize_prompts(
        cfg, "synthesize_remedial", "bootstrap", out, budget=2, chat=WriterChat(requests=[]), answer=says_nothing
    )
    assert result.before.requests == 3
    events = [e for e in read_traces(tmp_path / "remedial.optimize" / "traces.jsonl") if e.get("program")]
    assert events and all('(the student wrote "(nothing)")' in e["inputs"]["mistakes"] for e in events)
    assert all("The student got the exercises below wrong" in e["prompt"] for e in events)


# --- the CLI, and a run's teach node with the saved program swapped in --------------------------------


def test_cli_help_lists_the_optimizable_programs():
    result = CliRunner().invoke(app, ["optimize-prompts", "--help"], terminal_width=200)
    assert result.exit_code == 0
    help_text = " ".join(result.output.replace("│", " ").split())
    assert ", ".join(PROGRAM_TASKS) in help_text
    assert "ioa run --set teacher.programs.synthesize_new=new.json" in help_text


def test_cli_compiles_synthesize_new_and_a_run_swaps_it_in(tmp_path, monkeypatch):
    @contextmanager
    def fake_endpoint(config, work, progress):
        yield WriterChat(requests=[])

    monkeypatch.setattr(command, "_endpoint_chat", fake_endpoint)
    out = tmp_path / "new.json"
    args = ["optimize-prompts", "--program", "synthesize_new", "--optimizer", "bootstrap", "--budget", "4"]
    args += ["--out", str(out), "--quiet"] + [x for s in SMALL for x in ("--set", s)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "3 held-out requests for 12 exercises" in result.output
    assert re.search(r"before: verified \d+/12 \(\d\.\d\d\), metric \d\.\d{3}", result.output)
    assert f"--set teacher.programs.synthesize_new={out}" in result.output
    demo = json.loads(out.read_text())["demos"][0]

    # A run with teacher.programs.synthesize_new=out: the client loads it, and the teach node sends its demo
    # instead of the domain's style references.
    config = load_config(None, [*SMALL, f"teacher.programs.synthesize_new={out}"], environ={})
    chat = WriterChat(requests=[])
    (tmp_path / "run").mkdir()
    tracer = Tracer(tmp_path / "run" / "traces.jsonl")
    teacher = ChatTeacher(chat, config.teacher, tracer)
    assert teacher.programs["synthesize_new"].demos[0]["exercises"] == demo["exercises"]
    svc = Services(
        config=config,
        run_dir=RunDir(tmp_path / "run"),
        domain=get_domain("words", 0),
        teacher=teacher,
        memory=ConceptMemory.ephemeral(),
        tracer=tracer,
        tokenizer_dir=tmp_path,
    )
    state = IOAState(round=1, modules=[PLURAL, ES], focus=[ES], mode="new", modes={ES: "new"})
    update = teach_focus(state, SimpleNamespace(context=svc))  # type: ignore[arg-type]
    assert update["synthesis"][0]["parsed"] == 4
    events = [e for e in read_traces(tmp_path / "run" / "traces.jsonl") if e.get("program") == "synthesize_new"]
    assert events and all(demo["exercises"][:60] in e["prompt"] for e in events)
    assert not any('What is the plural of "tax"?' in e["prompt"] for e in events)  # plural/es's style reference


@pytest.mark.parametrize("program_file", [False, True])
def test_without_the_program_file_a_run_shows_the_style_reference(tmp_path, program_file):
    """No optimized file, or one without demos (GEPA rewrites only the instruction): the style reference stays."""
    overrides = list(SMALL)
    if program_file:
        import dspy

        from ioa.teacher.signatures import PROGRAMS

        saved = tmp_path / "instruction_only.json"
        dspy.Predict(PROGRAMS["synthesize_new"]).save(str(saved))
        overrides.append(f"teacher.programs.synthesize_new={saved}")
    config = load_config(None, overrides, environ={})
    tracer = Tracer(tmp_path / "traces.jsonl")
    svc = Services(
        config=config,
        run_dir=RunDir(tmp_path),
        domain=get_domain("words", 0),
        teacher=ChatTeacher(WriterChat(requests=[]), config.teacher, tracer),
        memory=ConceptMemory.ephemeral(),
        tracer=tracer,
        tokenizer_dir=tmp_path,
    )
    state = IOAState(round=1, modules=[PLURAL, ES], focus=[ES], mode="new", modes={ES: "new"})
    teach_focus(state, SimpleNamespace(context=svc))  # type: ignore[arg-type]
    events = [e for e in read_traces(tmp_path / "traces.jsonl") if e.get("program") == "synthesize_new"]
    assert events and all('What is the plural of "tax"?' in e["prompt"] for e in events)


def test_synthesis_inputs_need_a_count():
    [task] = WORDS.exercises(PLURAL, 0, 1, seed=0)
    with pytest.raises(ValueError, match="at least one exercise"):
        to_examples([task], WORDS, "synthesize_new")
