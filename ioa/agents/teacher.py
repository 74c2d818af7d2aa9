"""The teacher agent: synthesises exercises with worked solutions for the planner's focus modules.

Exercises come from the domain's generator at the ZPD target level (one notch above the
student's level, and with ``rules.zpd_stretch`` a share one notch higher still); the teacher
writes the worked solution. Failed or unparseable requests are dropped and counted by the
teacher client, never fatal.
"""

from __future__ import annotations

import zlib
from dataclasses import asdict
from typing import Any

from langgraph.runtime import Runtime

from ioa import rules
from ioa.agents.planner import zpd_levels
from ioa.context import Services
from ioa.rundir import write_jsonl
from ioa.state import IOAState

AGENT = "teacher"


def teach_file(round_: int, attempt: int) -> str:
    return f"data/round_{round_}_teach_{attempt}.jsonl"


def exercise_seed(base: int, round_: int, attempt: int, module: str) -> int:
    """Distinct, reproducible exercise streams per round, attempt and module."""
    return (base * 1_000_003 + round_ * 10_007 + attempt * 101 + zlib.crc32(module.encode())) % (2**31)


def teach_focus(state: IOAState, runtime: Runtime[Services]) -> dict[str, Any]:
    """Synthesise J exercises per focus module at its ZPD level, with the teacher's worked solutions."""
    svc = runtime.context
    cfg = svc.config
    round_, attempt = state.round + 1, state.teach_attempts
    specs = {m.id: m for m in svc.domain.modules}
    n = cfg.synthesis.examples_per_module
    zpd = zpd_levels(state, svc, state.focus)
    tasks = []
    for module in state.focus:
        # A remedial round never climbs past the level its stage teaches, but steps down when the student slipped.
        level = min(zpd[module], state.stage_levels.get(module, zpd[module]))
        seed = exercise_seed(cfg.domain.seed, round_, attempt, module)
        for lv, m in rules.stretch_split(n, level, specs[module].levels, cfg.rules.zpd_stretch).items():
            tasks += svc.domain.exercises(module, lv, m, seed)
    svc.progress.node("teach", round_, f"{state.mode}: {len(tasks)} exercises for {state.focus}")
    before = svc.teacher.snapshot()
    with svc.progress.step(f"teacher writes worked solutions (attempt {attempt + 1})", len(tasks)) as advance:
        solutions = svc.teacher.run(
            "worked_solution",
            [{"skill": specs[t.module].description, "exercise": t.question} for t in tasks],
            round=round_,
            node="teach",
            temperature=cfg.teacher.temperature,
            draw=f"attempt{attempt}",  # the attempts' sampled answers are distinct cache entries
            on_done=advance,
        )
    rows = [
        {**asdict(t), "mode": state.mode, "steps": s.steps if s else None, "teacher_answer": s.answer if s else None}
        for t, s in zip(tasks, solutions, strict=True)
    ]
    path = teach_file(round_, attempt)
    write_jsonl(svc.run_dir.resolve(path), rows)
    usage = svc.teacher.usage_since(before)
    svc.tracer.event(
        round=round_,
        node="teach",
        agent=AGENT,
        kind="synthesis",
        summary=f"{sum(s is not None for s in solutions)}/{len(tasks)} worked solutions "
        f"({state.mode}) for {state.focus}",
        tokens=int(usage.get("teacher_prompt_tokens", 0) + usage.get("teacher_completion_tokens", 0)),
        focus=state.focus,
        mode=state.mode,
        file=path,
    )
    return {"teach_attempts": attempt + 1, "teach_files": [path], "usage": usage}
