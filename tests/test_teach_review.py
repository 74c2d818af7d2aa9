"""What a round's teacher node asks for: the ZPD level, its stretch above, and spaced review of earlier stages."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from types import SimpleNamespace

from ioa.agents.teacher import teach_file, teach_focus
from ioa.bench.oracle import OracleTeacher, TaskBook
from ioa.config import Config
from ioa.context import Services
from ioa.domains import get_domain
from ioa.rundir import RunDir, read_jsonl
from ioa.state import IOAState
from ioa.traces import Tracer, read_traces

ADD, SUB, MUL = "arithmetic/addition", "arithmetic/subtraction", "arithmetic/multiplication"
CHAIN = "arithmetic/chain_sum"


def _teach(tmp_path: Path, review_per_module: int = 0, zpd_stretch: float = 0.0) -> tuple[list[dict], dict]:
    """Stage 2 ([chain sums]) of [[addition], [subtraction, multiplication], [chain sums]] is taught."""
    book = TaskBook(get_domain("arithmetic", 0))
    config = Config.model_validate(
        {
            "synthesis": {"examples_per_module": 4, "review_per_module": review_per_module},
            "rules": {"zpd_stretch": zpd_stretch},
        }
    )
    svc = Services(
        config=config,
        run_dir=RunDir(tmp_path),
        domain=book,
        teacher=OracleTeacher(book),  # type: ignore[arg-type]  # the teacher's interface, exact answers
        memory=None,  # type: ignore[arg-type]  # teaching never reads the concept memory
        tracer=Tracer(tmp_path / "traces.jsonl"),
        tokenizer_dir=tmp_path,
    )
    state = IOAState(
        round=2,
        modules=[m.id for m in book.modules],
        stages=[[ADD], [SUB, MUL], [CHAIN]],
        stage_index=2,
        stage_levels={CHAIN: 0},
        levels={ADD: 1, SUB: 0},
        focus=[CHAIN],
    )
    teach_focus(state, SimpleNamespace(context=svc))  # type: ignore[arg-type]
    (event,) = [e for e in read_traces(tmp_path / "traces.jsonl") if e["kind"] == "synthesis"]
    return read_jsonl(tmp_path / teach_file(3, 0)), event


def test_review_teaches_every_earlier_stage_module_at_its_zpd_level(tmp_path: Path) -> None:
    rows, event = _teach(tmp_path, review_per_module=2)
    assert Counter(r["module"] for r in rows) == {CHAIN: 4, ADD: 2, SUB: 2, MUL: 2}
    # One notch above the student's measured level: addition is at 1, subtraction at 0, multiplication unmeasured.
    assert {r["module"]: r["level"] for r in rows if r["module"] != CHAIN} == {ADD: 2, SUB: 1, MUL: 0}
    assert all(r["steps"] and r["teacher_answer"] == r["answer"] for r in rows)
    assert event["review"] == [ADD, SUB, MUL]


def test_without_review_only_the_focus_is_taught(tmp_path: Path) -> None:
    rows, event = _teach(tmp_path, review_per_module=0)
    assert Counter(r["module"] for r in rows) == {CHAIN: 4}
    assert event["review"] == []


def test_stretch_sets_a_share_of_each_module_one_level_above_its_zpd_level(tmp_path: Path) -> None:
    rows, _ = _teach(tmp_path, review_per_module=2, zpd_stretch=0.5)
    levels = Counter((r["module"], r["level"]) for r in rows)
    # Chain sums are taught at 0 (4 exercises: 2 + 2); addition's ZPD level 2 is the top, so nothing goes above it.
    assert levels == {(CHAIN, 0): 2, (CHAIN, 1): 2, (ADD, 2): 2, (SUB, 1): 1, (SUB, 2): 1, (MUL, 0): 1, (MUL, 1): 1}
