"""Fork, resume and optimize-prompts for every kind of domain (issue 34, point 4): a built-in name, a seed file
(``domain.path``) and a reasoning-gym list (``domain.gym``). Each takes its domain from the config the way
``ioa run`` does (``ioa.domains.build_domain``)."""

from __future__ import annotations

import json
from pathlib import Path

import dspy
import pytest
from conftest import SMALL
from fault_proxy import FakeOpenAIServer, probe_oracle
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from ioa.config import Config, load_config
from ioa.domains import build_domain
from ioa.domains.seeds import load_seeds
from ioa.optimize import draw_split, optimize_prompts
from ioa.traces import read_traces

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "examples" / "instructions.jsonl"
GYM = (
    "domain.gym=[{dataset: basic_arithmetic, id: numbers/basic, levels: 2, answer: number}, "
    "{dataset: leg_counting, id: counting/legs, prerequisites: [numbers/basic], levels: 2, answer: number}]"
)
KINDS = {"built-in": ["domain.name=arithmetic"], "seed file": [f"domain.path={SEEDS}"], "gym list": [GYM]}
OPTIMIZE = ["optimize.train_size=4", "optimize.dev_size=3", "teacher.max_concurrency=1"]


class KnowsTheAnswers(BaseChatModel):
    """A fake teacher that answers the questions it was given and says nothing useful to anything else (a seed
    file's decomposition then falls back to one module per category)."""

    answers: dict[str, str]
    asked: list[str] = []

    @property
    def _llm_type(self) -> str:
        return "knows-the-answers"

    def _generate(self, messages: list[BaseMessage], stop=None, run_manager=None, **kwargs) -> ChatResult:
        last = str(messages[-1].content)
        self.asked.append(last)
        known = [q for q in self.answers if q in last]
        text = f"answer: {self.answers[max(known, key=len)]}" if known else "I am not sure."
        return ChatResult(generations=[ChatGeneration(message=AIMessage(text))])


@pytest.fixture(autouse=True)
def reset_dspy():
    yield
    dspy.configure(lm=None, adapter=None)


def questions_of(config: Config) -> dict[str, str]:
    """Every question the config's domain could be optimized on, with its reference answer."""
    if config.domain.path:
        return {s.question: s.reference for s in load_seeds(config.domain.path)}
    domain = build_domain(config)
    train, dev = draw_split(domain, config.optimize)
    return {t.question: t.answer for t in train + dev}


@pytest.mark.parametrize(
    "kind",
    # A seed file's decomposition loads MiniLM and asks the teacher about every seed: the slow tier.
    ["built-in", pytest.param("seed file", marks=pytest.mark.integration), "gym list"],
)
def test_optimize_prompts_takes_the_domain_from_the_config(kind, tmp_path):
    config = load_config(None, [*KINDS[kind], *OPTIMIZE], environ={})
    answers = questions_of(config)
    chat = KnowsTheAnswers(answers=answers, asked=[])
    out = tmp_path / "probe.json"
    result = optimize_prompts(config, "answer_probe", "bootstrap", out, budget=2, chat=chat)
    events = read_traces(out.with_name("probe.optimize") / "traces.jsonl")
    asked = [e["inputs"]["question"] for e in events if e["node"] == "optimize_before"]
    assert len(asked) == result.before.n == 3 and set(asked) <= set(answers), asked
    assert result.before.verified >= 1  # scored by the domain's own metric, which knows these answers
    if kind == "seed file":
        # Decomposed once, kept beside the program: optimizing again reuses it and asks the teacher nothing more.
        saved = out.with_name("probe.optimize") / "data" / "decomposition.json"
        assert saved.is_file()
        chat.asked.clear()
        optimize_prompts(config, "answer_probe", "bootstrap", out, budget=2, chat=chat)
        assert all(any(q in a for q in answers) for a in chat.asked), "the seeds were decomposed again"


@pytest.mark.integration  # two real graph runs per kind (the tiny student trains and answers in this process)
@pytest.mark.parametrize("kind", list(KINDS))
def test_a_run_of_every_kind_forks_and_resumes(kind, tmp_path, one_thread):
    from ioa import fork, history, resume, run
    from ioa.memory import ConceptMemory

    source = tmp_path / "run"
    with FakeOpenAIServer(probe_oracle(source), models=("scripted",)) as server:
        sets = [*SMALL, *KINDS[kind], "observability.report=false", "adapter.checker_practice_per_example=0"]
        endpoint = [f"teacher.base_url={server.url}", "teacher.model=scripted"]
        config = load_config(None, [*sets, *endpoint], environ={})
        summary = run(config, source, progress=False)
        assert summary["status"] == "completed" and summary["modules"]
        # Right after round 1's diagnosis: the fork rebuilds Chroma from it and teaches the rest of the run again.
        point = next(c for c in reversed(history(source)) if c.next == ("plan",) and c.state.round >= 1)
        assert point.state.mastery and summary["rounds"] > point.state.round
        forked = fork(source, point.checkpoint_id, tmp_path / "fork", {"rules.tau_mastery": 0.8})
        memory = ConceptMemory.open(forked / "chroma")
        assert {k: memory.state(k) for k in point.state.modules} == point.state.mastery[-1]
        after = resume(forked, progress=False)
    assert after["status"] == "completed" and after["rounds"] == summary["rounds"]
    assert {m["id"] for m in after["modules"]} == {m["id"] for m in summary["modules"]}
    assert json.loads((forked / "fork.json").read_text())["round"] == point.state.round
