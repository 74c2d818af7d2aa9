"""The adapter node's test harness: teach rows as the teach node writes them, and one adapt step against the
scripted strong model (``strong_model``, behind ``fault_proxy.FakeOpenAIServer``) or a running embedded teacher."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from fault_proxy import FakeOpenAIServer
from strong_model import StrongModel

from ioa.agents.adapter import adapt_batch
from ioa.config import Config
from ioa.config.curriculum import ADAPTER_STRATEGIES
from ioa.context import Services
from ioa.rundir import RunDir, read_jsonl, write_jsonl
from ioa.state import IOAState
from ioa.teacher.client import ChatTeacher, build_chat_model
from ioa.traces import Tracer, read_traces

STUDENT = {"hidden_size": 64, "num_layers": 2, "num_heads": 2, "intermediate_size": 128}
TEACHER = {"model": "fake", "max_concurrency": 2, "timeout_s": 5, "max_retries": 0, "retry_backoff_s": 0.01}
LEGS = "word_problems/leg_counting"


def row(module: str, problem: str, steps: str, answer: str, check: str = "", **extra: Any) -> dict[str, Any]:
    """A teach row as the teach node writes it."""
    return {
        "module": module,
        "level": 0,
        "mode": "new",
        "request": 0,
        "problem": problem,
        "steps": steps,
        "answer": answer,
        "check": check,
        "strategies": list(ADAPTER_STRATEGIES),
        **extra,
    }


class Harness:
    """A scripted teacher server and the services of one adapt step around it."""

    def __init__(self, tmp_path: Path, tokenizer_dir: Path) -> None:
        self.tmp_path, self.tokenizer_dir = tmp_path, tokenizer_dir
        self.model = StrongModel()
        self.hints: list[str] = []
        self.calls = 0

    def services(self, domain: Any, url: str, run_dir: Path, teacher: dict[str, Any], **adapter: Any) -> Services:
        config = Config.model_validate({"student": STUDENT, "teacher": teacher, "adapter": adapter})
        tracer = Tracer(run_dir / "traces.jsonl")
        chat = build_chat_model(config.teacher, url, None)
        memory = SimpleNamespace(nearest_mastered=self._nearest)
        return Services(
            config=config,
            run_dir=RunDir(run_dir),
            domain=domain,
            teacher=ChatTeacher(chat, config.teacher, tracer),
            memory=memory,  # type: ignore[arg-type]  # the scaffold's one query, answered from self.hints
            tracer=tracer,
            tokenizer_dir=self.tokenizer_dir,
        )

    def _nearest(
        self, text: str, k: int = 1, exclude: Any = frozenset(), max_distance: float | None = None
    ) -> list[tuple[str, str, float]]:
        return [("plural/regular", hint, 0.1) for hint in self.hints[:k]]

    def adapt(
        self, domain: Any, rows: list[Any], state: dict[str, Any] | None = None, server: Any = None, **adapter: Any
    ) -> Result:
        """One adapt step over ``rows``: its update, training rows, per-example events and summary event.

        The teacher is the scripted strong model, or ``server`` (a running ``LocalTeacherServer``)."""
        self.calls += 1
        run_dir = self.tmp_path / f"run{self.calls}"  # each step its own files and trace
        scripted = FakeOpenAIServer(self.model) if server is None else nullcontext()
        with scripted:
            if server is None:
                url, teacher = scripted.url, TEACHER
            else:
                url, teacher = server.base_url, {**TEACHER, "model": server.model_name, "timeout_s": 300}
            svc = self.services(domain, url, run_dir, teacher, **adapter)
            write_jsonl(svc.run_dir.resolve("data/round_1_teach_0.jsonl"), rows)
            fields = {"teach_attempts": 1, "teach_files": ["data/round_1_teach_0.jsonl"], **(state or {})}
            update = adapt_batch(IOAState(**fields), SimpleNamespace(context=svc))  # type: ignore[arg-type]
        events = [e for e in read_traces(run_dir / "traces.jsonl") if e["agent"] == "adapter"]
        return Result(
            update=update,
            rows=read_jsonl(run_dir / update["batch"][0]),
            examples=[e for e in events if e["kind"] == "adapted_example"],
            summary=next(e for e in events if e["kind"] == "adaptation"),
            config=svc.config,
        )


class Result(SimpleNamespace):
    update: dict[str, Any]
    rows: list[dict[str, Any]]
    examples: list[dict[str, Any]]
    summary: dict[str, Any]
    config: Config

    def dropped(self) -> dict[str, str]:
        """Problem -> drop reason of every dropped exercise that has a problem."""
        return {e["problem"]: e["reason"] for e in self.examples if e["outcome"] == "dropped" and "problem" in e}

    def reasons(self) -> list[str]:
        """The drop reasons of every dropped row, malformed ones included, sorted."""
        return sorted(e["reason"] for e in self.examples if e["outcome"] == "dropped")

    def budget(self) -> int:
        return self.summary["token_budget"]


BOX = row(
    "plural/es",
    'What is the plural of "box"?',
    "### Solution\n**Step 1:** Look at the word *box*. It ends in the letter x.\n"
    "**Step 2:** Nouns that end in s, x, z, ch or sh always take the ending -es in the plural, never a plain "
    "-s: $\\text{box} + \\text{es}$.\n\nThe final answer is **boxes**.",
    "boxes",
)
SPAIN = row("capitals", "What is the capital of Spain?", "Madrid is the capital city.\nSpain is a country.", "Madrid")
FOX_WRONG = row("plural/es", 'What is the plural of "fox"?', "Add -s to fox.", "foxs")
