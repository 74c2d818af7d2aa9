"""What a round's teacher node asks for: each focus module at its ZPD level, and the stretch above it."""

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


def _teach(tmp_path: Path, focus: list[str], zpd_stretch: float = 0.0) -> tuple[list[dict], dict]:
    """``focus`` of stage 2 of [[addition], [subtraction, multiplication], [chain sums]] is taught."""
    book = TaskBook(get_domain("arithmetic", 0))
    config = Config.model_validate(
        {
            "synthesis": {"examples_per_module": 4},
            "rules": {"zpd_stretch": zpd_stretch},
        }
    )
    svc = Services(
        config=config,
        run_dir=RunDir(tmp_path),
        domain=book,
        teacher=OracleTeacher(book),  # a Teacher with exact answers
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
        focus=focus,
    )
    teach_focus(state, SimpleNamespace(context=svc))  # type: ignore[arg-type]
    (event,) = [e for e in read_traces(tmp_path / "traces.jsonl") if e["kind"] == "synthesis"]
    return read_jsonl(tmp_path / teach_file(3, 0)), event


def test_each_focus_module_is_taught_one_notch_above_its_level(tmp_path: Path) -> None:
    rows, event = _teach(tmp_path, [CHAIN, ADD, SUB])
    assert Counter(r["module"] for r in rows) == {CHAIN: 4, ADD: 4, SUB: 4}
    # The stage's level for chain sums; one notch above the measured level for addition (1) and subtraction (0).
    assert {r["module"]: r["level"] for r in rows} == {CHAIN: 0, ADD: 2, SUB: 1}
    assert all(r["steps"] and r["teacher_answer"] == r["answer"] for r in rows)
    assert event["focus"] == [CHAIN, ADD, SUB] and event["file"] == teach_file(3, 0)


def test_stretch_sets_a_share_of_each_module_one_level_above_its_zpd_level(tmp_path: Path) -> None:
    rows, _ = _teach(tmp_path, [CHAIN, ADD, SUB], zpd_stretch=0.5)
    levels = Counter((r["module"], r["level"]) for r in rows)
    # Chain sums are taught at 0 (4 exercises: 2 + 2); addition's ZPD level 2 is the top, so nothing goes above it.
    assert levels == {(CHAIN, 0): 2, (CHAIN, 1): 2, (ADD, 2): 4, (SUB, 1): 2, (SUB, 2): 2}
