"""The teacher agent: writes new exercises for the planner's focus modules (the paper's synthesis).

Per focus module, at its ZPD level (and, with ``rules.zpd_stretch``, a share one notch higher), the
teacher writes J new exercises per request, each with its steps, answer and check, in the planner's
mode: new, remedial (aimed at the student's actual wrong answers) or bridging (one notch harder,
scaffolded from the nearest mastered module). ``ioa.agents.synthesis`` builds the requests; all of a
step's requests go out together. What the teacher wrote is parsed into exercises and written to the
round's teach file for the adapter; a failed or unparseable reply is counted, never fatal.
"""

from __future__ import annotations

import zlib
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from langgraph.runtime import Runtime

from ioa.agents.synthesis import PROGRAMS, Mode, SynthesisRequest, build_requests
from ioa.context import Services
from ioa.lengths import synthesis_cap
from ioa.rundir import write_jsonl
from ioa.state import IOAState
from ioa.teacher.exercises import parse_exercises
from ioa.teacher.wave import Wave

AGENT = "teacher"


def teach_file(round_: int, attempt: int) -> str:
    return f"data/round_{round_}_teach_{attempt}.jsonl"


def exercise_seed(base: int, round_: int, attempt: int, module: str) -> int:
    """Distinct, reproducible exercise streams per round, attempt and module."""
    return (base * 1_000_003 + round_ * 10_007 + attempt * 101 + zlib.crc32(module.encode())) % (2**31)


def teach_focus(state: IOAState, runtime: Runtime[Services]) -> dict[str, Any]:
    """Ask the teacher for new exercises for every focus module, in its mode, and keep what parses."""
    svc = runtime.context
    round_, attempt = state.round + 1, state.teach_attempts
    modes: dict[str, Mode] = {k: state.modes.get(k, state.mode) for k in state.focus}
    requests = build_requests(state, svc, modes, draw=round_ * 100 + attempt)
    svc.progress.node("teach", round_, f"{len(requests)} synthesis requests for {modes} (module: mode)")
    before = svc.teacher.snapshot()
    replies = _ask(svc, requests, round_, attempt, state.lengths.get("teacher_synthesis"))
    rows, records = [], []
    per_module: dict[str, Counter[str]] = defaultdict(Counter)
    for index, (req, text) in enumerate(zip(requests, replies, strict=True)):
        written = parse_exercises(text) if text else []
        count = per_module[req.module]
        count.update(requests=1, asked=req.count, parsed=len(written), replied=bool(text))
        rows += [
            {
                "module": req.module,
                "level": req.level,
                "mode": req.mode,
                "request": index,
                "problem": ex.problem,
                "steps": ex.steps,
                "answer": ex.answer,
                "check": ex.check,
                "strategies": list(svc.config.adapter.strategies),
            }
            for ex in written
        ]
    for module, count in per_module.items():
        records.append({"round": round_, "attempt": attempt, "module": module, "mode": modes[module], **count})
    path = teach_file(round_, attempt)
    write_jsonl(svc.run_dir.resolve(path), rows)
    usage = svc.teacher.usage_since(before)
    parsed = sum(r["parsed"] for r in records)
    svc.tracer.event(
        round=round_,
        node="teach",
        agent=AGENT,
        kind="synthesis",
        summary=f"{len(requests)} requests ({', '.join(sorted(set(modes.values())))}) asked for "
        f"{sum(r.count for r in requests)} exercises; {parsed} parsed, for {state.focus}",
        tokens=int(usage.get("teacher_prompt_tokens", 0) + usage.get("teacher_completion_tokens", 0)),
        focus=state.focus,
        modes=modes,
        per_module=records,
        file=path,
    )
    return {"teach_attempts": attempt + 1, "teach_files": [path], "synthesis": records, "usage": usage}


def _ask(svc: Services, requests: list[SynthesisRequest], round_: int, attempt: int, cap: int | None) -> list[str]:
    """Each request's reply ("" when dropped). Requests that share a program and a count (hence a completion cap)
    run as one batch, and the batches run side by side, so the whole step is in flight at once: the step never
    holds more than the teacher's concurrency (``request_counts``)."""
    replies = [""] * len(requests)
    groups: dict[tuple[str, int], list[int]] = defaultdict(list)
    for i, req in enumerate(requests):
        groups[(PROGRAMS[req.mode], req.count)].append(i)
    j = svc.config.synthesis.examples_per_module
    # The step is one wave when it is all in flight at once: it need not wait long for its stragglers.
    wave = Wave(len(requests)) if len(requests) <= svc.config.teacher.max_concurrency else None

    def ask(group: tuple[str, int], advance: Callable[[], None]) -> None:
        program, count = group
        idx = groups[group]
        predictions = svc.teacher.run(
            program,
            [requests[i].inputs for i in idx],
            round=round_,
            node="teach",
            temperature=svc.config.teacher.temperature,
            max_tokens=synthesis_cap(cap, count, j) if cap else None,
            # Distinct cache entries and item ids per attempt, and per count: two groups of a step number their
            # requests from 0 alike.
            draw=f"attempt{attempt}/count{count}",
            on_done=advance,
            wave=wave,
        )
        for i, p in zip(idx, predictions, strict=True):
            replies[i] = p.exercises if p is not None else ""

    with svc.progress.step(f"teacher writes exercises (attempt {attempt + 1})", len(requests)) as advance:
        with ThreadPoolExecutor(max_workers=max(len(groups), 1)) as pool:
            for done in [pool.submit(ask, group, advance) for group in groups]:
                done.result()
    return replies
