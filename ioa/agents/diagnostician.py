"""The diagnostician (Knowledge Identifier): measures teacher and student on each module's probes.

``identify_gaps`` runs once: it fixes the probes, measures P_T and the initial P_S.
``diagnose_student`` runs after every training round: it re-probes the student, catches
forgetting, and moves modules between Chroma's ``mastered`` and ``unmastered`` collections.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import asdict, replace
from statistics import fmean
from typing import TYPE_CHECKING, Any

from langgraph.runtime import Runtime

from ioa import rules
from ioa.context import Services
from ioa.domains.base import ModuleSpec, Task
from ioa.lengths import derive_lengths
from ioa.rundir import read_jsonl, write_json, write_jsonl
from ioa.state import IOAState
from ioa.student_train.generate import answer_and_count

if TYPE_CHECKING:
    from ioa.memory import ConceptMemory

AGENT = "diagnostician"
PROBES = "data/probes.jsonl"


def _load_probes(svc: Services) -> list[Task]:
    return [Task(**row) for row in read_jsonl(svc.run_dir.resolve(PROBES))]


def _accuracy(
    svc: Services, probes: list[Task], answers: list[str]
) -> tuple[dict[str, float], dict[str, dict[int, float]]]:
    """Per-module accuracy, and per-module-per-level accuracy (for the student's level)."""
    by_module: dict[str, list[float]] = defaultdict(list)
    by_level: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for task, answer in zip(probes, answers, strict=True):
        score = svc.domain.score(task, answer)
        by_module[task.module].append(score)
        by_level[task.module][task.level].append(score)
    acc = {m: fmean(s) for m, s in by_module.items()}
    levels = {m: {lv: fmean(s) for lv, s in per.items()} for m, per in by_level.items()}
    return acc, levels


def _student_answers(
    svc: Services, state: IOAState, probes: list[Task], round_: int, cap: int
) -> tuple[list[str], int]:
    """The student's answers within ``cap`` tokens, and how many the cap cut off."""
    questions = [t.question for t in probes]
    with svc.progress.step(f"student answers probes (round {round_})", len(probes)) as advance:
        if svc.student_endpoint is not None:
            checkpoint = svc.run_dir.resolve(state.student_checkpoint) if state.student_checkpoint else None
            return svc.student_endpoint.answer(questions, checkpoint, max_tokens=cap, progress=advance), 0
        student = svc.student(state.student_checkpoint)
        return answer_and_count(
            student, questions, max_new_tokens=cap, batch_size=svc.config.student.eval_batch_size, progress=advance
        )


def _by_index(per_level: dict[int, float]) -> list[float]:
    """Scores by level as a list indexed by level; a level without probes scores 0.0."""
    return [per_level.get(lv, 0.0) for lv in range(max(per_level) + 1)]


def _measure_teacher(svc: Services, probes: list[Task], cap: int) -> tuple[dict[str, float], dict[str, list[float]]]:
    """P_T per module and per module and level, once; the answers and per-level scores are kept as records."""
    answers = _teacher_answers(svc, probes, cap)
    p_teacher, per_level = _accuracy(svc, probes, answers)
    write_jsonl(
        svc.run_dir.resolve("data/probes_teacher.jsonl"),
        [
            {"module": t.module, "question": t.question, "reference": t.answer, "answer": a}
            for t, a in zip(probes, answers, strict=True)
        ],
    )
    teacher_levels = {m: _by_index(per) for m, per in per_level.items()}
    write_json(svc.run_dir.resolve("data/teacher_levels.json"), teacher_levels)  # a record; the state is read
    return p_teacher, teacher_levels


def _measure_student(
    svc: Services, state: IOAState, probes: list[Task], round_: int, cap: int
) -> tuple[dict[str, float], dict[str, dict[int, float]], dict[str, Any]]:
    """P_S per module and per module and level at ``round_``, and the state update that records the answers
    (their file, and how many the answer cap cut off)."""
    answers, cut = _student_answers(svc, state, probes, round_, cap)
    path = f"data/round_{round_}_student_answers.jsonl"
    write_jsonl(
        svc.run_dir.resolve(path),
        [{"module": t.module, "question": t.question, "answer": a} for t, a in zip(probes, answers, strict=True)],
    )
    usage = {"truncated_student_answer": cut, "items_student_answer": len(answers)}
    return *_accuracy(svc, probes, answers), {"answer_files": [path], "usage": usage}


def _placement(
    svc: Services, teacher_levels: dict[str, list[float]], student_levels: dict[str, dict[int, float]]
) -> dict[str, Any]:
    """The state's ``level_ratios`` (P_S/P_T per level) and ``levels`` (highest level reached at the gate ratio)."""
    tau = svc.config.rules.tau_mastery
    ratios, levels = {}, {}
    for module, per in student_levels.items():
        teacher = teacher_levels.get(module, [])
        by_level = {lv: rules.level_ratio(teacher[lv] if lv < len(teacher) else 0.0, s) for lv, s in per.items()}
        # A level without probes counts as not reached, as in student_level.
        ratios[module] = [round(by_level.get(lv, 0.0), 4) for lv in range(max(by_level) + 1)]
        levels[module] = rules.student_level(by_level, tau)
    return {"level_ratios": ratios, "levels": levels}


def remember(
    memory: ConceptMemory,
    modules: list[ModuleSpec],
    round_: int,
    verdicts: dict[str, str],
    p_teacher: dict[str, float],
    p_student: dict[str, float],
) -> None:
    """Mirror one diagnosis's verdicts into Chroma, each module under its name and description."""
    for spec in modules:
        k = spec.id
        ratio = rules.mastery_ratio(p_teacher[k], p_student[k])
        meta = {"round": round_, "p_teacher": p_teacher[k], "p_student": p_student[k], "ratio": ratio}
        memory.record(k, f"{spec.name}: {spec.description}", verdicts[k] == "mastered", meta)


def _record(
    svc: Services,
    round_: int,
    p_teacher: dict[str, float],
    p_student: dict[str, float],
    forgot: set[str] = frozenset(),
    stuck: set[str] = frozenset(),
) -> dict[str, str]:
    """One diagnosis's state per module (``rules.module_state``), written to mastery.csv and mirrored into Chroma."""
    cfg = svc.config.rules
    verdicts, rows = {}, []
    for spec in svc.domain.modules:
        k = spec.id
        ratio = rules.mastery_ratio(p_teacher[k], p_student[k])
        verdicts[k] = rules.module_state(
            p_teacher[k],
            p_student[k],
            tau_mastery=cfg.tau_mastery,
            teacher_floor=cfg.teacher_floor,
            forgot=k in forgot,
            stuck=k in stuck,
        )
        rows.append(
            {
                "round": round_,
                "module": k,
                "p_teacher": f"{p_teacher[k]:.4f}",
                "p_student": f"{p_student[k]:.4f}",
                "ratio": f"{ratio:.4f}",
                "state": verdicts[k],
            }
        )
    remember(svc.memory, svc.domain.modules, round_, verdicts, p_teacher, p_student)
    svc.run_dir.write_mastery_round(round_, rows)
    return verdicts


def _find_modules(svc: Services) -> None:
    """A seed domain's modules come from the teacher's decomposition of the seeds (saved for resumes)."""
    from ioa.domains.decompose import decompose
    from ioa.domains.seed_domain import DECOMPOSITION, SeedDomain
    from ioa.memory import BundledMiniLM

    domain = svc.domain
    if not isinstance(domain, SeedDomain) or domain.modules:
        return
    started = time.perf_counter()
    svc.progress.node("identify", 0, f"teacher decomposes {len(domain.seeds)} seeds into knowledge modules")
    found = decompose(domain.seeds, svc.teacher, svc.config.domain, BundledMiniLM())
    domain.adopt(found)
    domain.save(svc.run_dir.resolve(DECOMPOSITION))
    src = found.sources
    svc.tracer.event(
        round=0,
        node="identify",
        agent=AGENT,
        kind="decomposition",
        summary=f"{len(found.modules)} modules ({len(src['modules_from_teacher'])} from the teacher, "
        f"{len(src['modules_from_fallback'])} fallback); seeds assigned by {src['assigned_by']}; "
        f"{len(src['merged'])} merged, {len(src['folded'])} folded, {len(src['removed_cycle_edges'])} cycle edges "
        f"removed; {len(found.probes)} probes / {len(domain.seeds) - len(found.probes)} synthesis seeds",
        latency_s=time.perf_counter() - started,
        modules=[asdict(m) for m in found.modules],
        file=DECOMPOSITION,
        **{k: v for k, v in src.items() if k != "assignment_sources"},
    )


def _teacher_answers(svc: Services, probes: list[Task], cap: int) -> list[str]:
    """The teacher's answers to the probes, asked exactly as the student is (``answer_probe`` is sent bare)."""
    with svc.progress.step("teacher answers probes", len(probes)) as advance:
        predictions = svc.teacher.run(
            "answer_probe",
            [{"question": t.question} for t in probes],
            round=0,
            node="identify",
            temperature=svc.config.synthesis.answer_temperature,
            max_tokens=cap,
            on_done=advance,
        )
    return [p.answer if p is not None else "" for p in predictions]


def forgotten(state: IOAState, levels: dict[str, list[float]], tau: float) -> set[str]:
    """Modules the student once passed the mastery gate on (a stage's gate at a level, or mastered overall) and may
    no longer pass: the candidates for ``forgotten`` (``rules.module_state`` keeps a module mastered again as
    ``mastered``). ``levels`` are the new diagnosis's P_S/P_T per level, ``tau`` the gate."""
    was_mastered = {k for verdicts in state.mastery for k, v in verdicts.items() if v in ("mastered", "forgotten")}
    out = set()
    for k in state.modules:
        passed = state.passed.get(k)
        ratios = levels.get(k, [])
        fell = passed is not None and (passed >= len(ratios) or ratios[passed] < tau)
        if fell or k in was_mastered:
            out.add(k)
    return out


def identify_gaps(state: IOAState, runtime: Runtime[Services]) -> dict[str, Any]:
    """Knowledge Identifier: fix the probes and the run's lengths, measure P_T(k) and P_S(k), record the prior DAG."""
    svc = runtime.context
    cfg = svc.config
    started = time.perf_counter()
    before = svc.teacher.snapshot()  # before the decomposition, so its teacher calls are counted too
    _find_modules(svc)
    probes = _write_probes(svc)
    lengths = _lengths(svc, probes)
    svc.progress.node("identify", 0, f"{len(svc.domain.modules)} modules, {len(probes)} probes; caps {lengths}")

    p_teacher, teacher_levels = _measure_teacher(svc, probes, lengths["teacher_answer"])
    state = replace(state, lengths=lengths)
    p_student, student_levels, answers = _measure_student(svc, state, probes, 0, lengths["student_answer"])
    verdicts = _record(svc, 0, p_teacher, p_student)
    beyond = sorted(k for k, v in verdicts.items() if v == "beyond_teacher")

    prior = [(p, spec.id) for spec in svc.domain.modules for p in spec.prerequisites]
    modules = [spec.id for spec in svc.domain.modules]
    edges, removed = rules.break_cycles(modules, prior)
    deficient = sorted(
        k for k in modules if k not in beyond and rules.is_deficient(p_teacher[k], p_student[k], cfg.rules.tau_gap)
    )
    svc.tracer.event(
        round=0,
        node="identify",
        agent=AGENT,
        kind="identify",
        summary=f"{len(deficient)}/{len(modules)} modules deficient; "
        f"{sum(v == 'mastered' for v in verdicts.values())} already mastered; {len(beyond)} beyond the teacher "
        f"(P_T < {cfg.rules.teacher_floor})",
        latency_s=time.perf_counter() - started,
        p_teacher=p_teacher,
        p_student=p_student,
        deficient=deficient,
        beyond_teacher=beyond,
        teacher_floor=cfg.rules.teacher_floor,
        lengths=lengths,
        removed_cycle_edges=removed,
    )
    usage = svc.teacher.usage_since(before)
    return {
        "modules": modules,
        "p_teacher": p_teacher,
        "teacher_levels": teacher_levels,
        "p_student": p_student,
        "p_student_initial": p_student,
        "history": [p_student],
        "mastery": [verdicts],
        **_placement(svc, teacher_levels, student_levels),
        "edges": edges,
        "probes_file": PROBES,
        "lengths": lengths,
        "answer_files": answers["answer_files"],
        "usage": {**usage, **answers["usage"]},
    }


def _write_probes(svc: Services) -> list[Task]:
    """Every module's held-out probes, fixed for the whole run and written to PROBES."""
    cfg = svc.config.domain
    probes = [t for spec in svc.domain.modules for t in svc.domain.probes(spec.id, cfg.probes_per_module, cfg.seed)]
    write_jsonl(svc.run_dir.resolve(PROBES), [asdict(t) for t in probes])
    return probes


def _lengths(svc: Services, probes: list[Task]) -> dict[str, int]:
    """The run's caps from the initial student and the domain's data (``ioa.lengths``), traced with their evidence."""
    student = svc.student(None)
    cfg = svc.config
    lengths, evidence = derive_lengths(
        svc.domain, probes, student.tokenizer, student.context_window(), cfg.synthesis.examples_per_module, cfg.lengths
    )
    svc.tracer.event(
        round=0,
        node="identify",
        agent=AGENT,
        kind="lengths",
        summary=f"caps from the student and the data: {lengths.as_dict()}",
        lengths=lengths.as_dict(),
        evidence=evidence,
    )
    return lengths.as_dict()


def diagnose_student(state: IOAState, runtime: Runtime[Services]) -> dict[str, Any]:
    """Re-probe the student after training; every module is re-probed, which also catches forgetting."""
    svc = runtime.context
    started = time.perf_counter()
    round_ = state.round + 1
    probes = _load_probes(svc)
    p_student, student_levels, answers = _measure_student(svc, state, probes, round_, state.lengths["student_answer"])
    placement = _placement(svc, state.teacher_levels, student_levels)
    forgot = forgotten(state, placement["level_ratios"], svc.config.rules.tau_mastery)
    verdicts = _record(svc, round_, state.p_teacher, p_student, forgot, set(state.stuck))
    mastered = sum(v == "mastered" for v in verdicts.values())
    moved = {k: round(p_student[k] - state.p_student.get(k, 0.0), 4) for k in p_student}
    lost = sorted(k for k, v in verdicts.items() if v == "forgotten")
    svc.progress.node(
        "diagnose",
        round_,
        f"mastered {mastered}/{len(p_student)}; mean P_S {fmean(p_student.values()):.2f}"
        + (f"; forgotten {lost}" if lost else ""),
    )
    svc.tracer.event(
        round=round_,
        node="diagnose",
        agent=AGENT,
        kind="diagnosis",
        summary=f"mastered {mastered}/{len(p_student)}, mean P_S {fmean(p_student.values()):.3f}"
        + (f", forgotten {lost}" if lost else ""),
        latency_s=time.perf_counter() - started,
        p_student=p_student,
        change=moved,
        states=verdicts,
    )
    return {
        "round": round_,
        "p_student": p_student,
        "history": [p_student],
        "mastery": [verdicts],
        **placement,
        **answers,
    }
