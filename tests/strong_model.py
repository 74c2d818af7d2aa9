"""A scripted strong chat model behind the project's local OpenAI-compatible server (``fault_proxy.FakeOpenAIServer``).

It answers the adapter's two programs the way a strong model does: long, in markdown, with LaTeX ``\\boxed{}``
answers, and now and then wrong. A test scripts what it needs:

- ``answers``: question -> the replies to ``answer_probe``, one per request in turn (the last repeats), so an
  occasional wrong answer among k solves is one entry of the list;
- ``rewrites``: problem -> the raw reply to ``rewrite_solution`` (an empty string, a wrong answer, garbage);
  without one, it rewrites as asked: shorter, in plain words, or starting from the example.

It records every request by program, so a test can see how many calls each step made.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fault_proxy import FakeOpenAIServer

from ioa.teacher.exercises import parse_exercises, render_exercises

# The user message of a DSPy program as ioa's PlainAdapter writes it: "label: value" lines.
_LABELS = ("problem", "solution", "final answer", "request")


def fields(content: str) -> dict[str, str]:
    """The input fields of a PlainAdapter user message (values may span lines)."""
    out: dict[str, list[str]] = {}
    current = None
    for line in content.splitlines():
        label = next((lb for lb in _LABELS if line.lower().startswith(f"{lb}:")), None)
        if label is not None:
            current = label
            out[current] = [line[len(label) + 1 :].strip()]
        elif current is not None:
            out[current].append(line)
    return {k: "\n".join(v).strip() for k, v in out.items()}


class StrongModel:
    """The reply function of a ``FakeOpenAIServer`` (see the module docstring)."""

    def __init__(self, answers: dict[str, list[str]] | None = None, rewrites: dict[str, str] | None = None) -> None:
        self.answers = answers or {}
        self.rewrites = rewrites or {}
        self.requests: Counter[str] = Counter()
        self.asked: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()  # the server answers requests on several threads

    def __call__(self, messages: list[dict[str, Any]]) -> str:
        content = messages[-1]["content"]
        with self._lock:
            got = fields(content)
            if "final answer" in got:
                self.requests["rewrite_solution"] += 1
                return self._rewrite(got)
            # A probe is asked bare, as the student is asked: the whole message is the question.
            self.requests["answer_probe"] += 1
            return self._answer(content.strip())

    def _answer(self, question: str) -> str:
        replies = self.answers.get(question, ["I am not sure."])
        n = self.asked[question]
        self.asked[question] += 1
        reply = replies[min(n, len(replies) - 1)]
        # Markdown and LaTeX around the answer, as a chat model writes it.
        return f"Let me work it out step by step.\n\n**Answer:** $\\boxed{{{reply}}}$"

    def _rewrite(self, got: dict[str, str]) -> str:
        if got["problem"] in self.rewrites:
            return self.rewrites[got["problem"]]
        request, answer = got["request"].lower(), got["final answer"]
        first = got["solution"].splitlines()[0] if got["solution"] else ""
        if "shorter" in request:
            return f"**Steps:**\n1. {_short(first)}\n\n**Answer:** {answer}"
        if "concrete example" in request:
            instance = re.findall(r"\"([^\"]+)\"|(\d+)", got["problem"])
            named = next((a or b for a, b in instance), "the example")
            return f"steps: Take {named} from the problem.\n{got['solution']}\nanswer: {answer}"
        # Plain words: every sentence cut to its first eight words, one per line.
        sentences = re.split(r"(?<=[.!?])\s+", re.sub(r"[*#$\\{}]", "", got["solution"]))
        lines = "\n".join(_short(s) for s in sentences if s.strip())
        return f"steps: {lines}\nanswer: {answer}"


def _short(sentence: str) -> str:
    words = sentence.split()
    return " ".join(words[:8]).rstrip(".,;") + "."


class Tutor(StrongModel):
    """A strong teacher for a whole run, behind ``FakeOpenAIServer``: it knows the reference answer of every probe
    the run wrote (RUN_DIR/data/probes.jsonl) and of every exercise it wrote itself, and it answers a synthesis
    request with the request's style references, which are right and never probes (every domain draws them from
    apart). Rewrites follow ``StrongModel``. What it writes is the student's only source, so a run taught by it
    shows the student's side of the pipeline (tokenizer, template, LoRA, evaluation) working end to end.
    """

    def __init__(self, run_dir: Path) -> None:
        super().__init__()
        self.run_dir = run_dir
        self.known: dict[str, str] = {}

    def __call__(self, messages: list[dict[str, Any]]) -> str:
        demo = messages[-2]["content"] if len(messages) > 2 and messages[-2]["role"] == "assistant" else ""
        if "count:" in messages[-1]["content"].lower() and demo:
            with self._lock:
                self.requests["synthesize"] += 1
                # A seed file's references are a question and its reference only: the tutor writes a step.
                written = parse_exercises(
                    re.sub(r"(?m)^Steps:[ \t]*$", "Steps: Read the problem and work it out.", demo)
                )
                self.known.update({ex.problem: ex.answer for ex in written})
            return f"Exercises:\n{render_exercises(written)}"
        return super().__call__(messages)

    def _answer(self, question: str) -> str:
        probes = self.run_dir / "data" / "probes.jsonl"
        rows = [json.loads(line) for line in probes.read_text().splitlines()] if probes.exists() else []
        known = {**{row["question"]: row["answer"] for row in rows}, **self.known}
        return f"answer: {known[question]}" if question in known else "I am not sure."


@contextmanager
def tutor_endpoint(tutor: Tutor) -> Iterator[list[str]]:
    """``tutor`` behind a local server; yields the config overrides that point a run (and its resumes, which read
    the run's config) at it. Tests whose subject is not the teacher use it: unlike a sampling model, it keeps
    exercises in every round on every machine."""
    with FakeOpenAIServer(tutor, models=("tutor",)) as server:
        yield [f"teacher.base_url={server.url}", "teacher.model=tutor"]
