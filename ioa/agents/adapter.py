"""The adapter (Knowledge Adapter): fits the teacher's material to the student's capacity.

Per item: verification (the domain's checker on the teacher's answer), a capacity fit
(plain lines, one consistent "steps, then Answer:" format, cut to the student's token
budget), de-duplication (ROUGE-L against kept items), and a scaffold from the nearest
mastered module (Chroma) when the budget leaves room for it. Each verified worked example
is then followed by practice: more exercises of the same module and level, answered by the
domain's checker, because a small student learns a skill from repetition that teacher calls
alone cannot afford.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from langgraph.runtime import Runtime
from rouge_score import rouge_scorer

from ioa.agents.teacher import exercise_seed
from ioa.context import Services
from ioa.domains.base import Task
from ioa.rundir import read_jsonl, write_jsonl
from ioa.state import IOAState

AGENT = "adapter"
_SCORER = rouge_scorer.RougeScorer(["rougeL"])
# A bullet or a list number is followed by a space; without one it is a sign or a decimal ("-4 * 2", "3.5").
_DECORATION = re.compile(r"^\s*(?:[-*•]|\d+[.)]|step\s*\d+\s*[:.)-])(?:\s+|$)", re.I)


def adapted_file(round_: int, attempt: int) -> str:
    return f"data/round_{round_}_adapted_{attempt}.jsonl"


def plain_lines(steps: str) -> list[str]:
    """Plain language: one idea per line, no list numbering or markdown."""
    lines = []
    for raw in steps.splitlines():
        line = _DECORATION.sub("", raw.replace("**", "").replace("`", "")).strip()
        if line:
            lines.append(line)
    return lines


def fit_to_budget(steps: str, answer: str, budget: int, count_tokens: Any) -> str:
    """The longest tail of the worked steps that fits the budget, always ending in ``Answer: X``.

    Only steps that reach the verified answer are kept as its derivation, so a muddled
    solution with a lucky final answer teaches the answer alone.
    """
    final = f"Answer: {answer}"
    lines = plain_lines(steps)
    while lines and answer not in lines[-1]:
        lines.pop()
    kept: list[str] = []
    for line in reversed(lines):
        candidate = "\n".join([line, *kept, final])
        if count_tokens(candidate) > budget:
            break
        kept.insert(0, line)
    return "\n".join([*kept, final])


def is_duplicate(text: str, kept: list[str], threshold: float) -> bool:
    return any(_SCORER.score(other, text)["rougeL"].fmeasure >= threshold for other in kept)


def adapt_batch(state: IOAState, runtime: Runtime[Services]) -> dict[str, Any]:
    """Verify, fit, de-duplicate and scaffold the teacher's latest synthesis into training examples."""
    svc = runtime.context
    cfg = svc.config
    round_, attempt = state.round + 1, state.teach_attempts - 1
    raw = read_jsonl(svc.run_dir.resolve(state.teach_files[-1]))
    student = svc.student(state.student_checkpoint)
    tokenizer = student.tokenizer
    budget = min(int(cfg.adapter.target_token_share * cfg.student.context_length), cfg.student.max_new_tokens)

    def count_tokens(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    earlier = [r for f in state.batch for r in read_jsonl(svc.run_dir.resolve(f))]
    kept_texts = [f"{r['prompt']}\n{r['target']}" for r in earlier if r.get("source") != "practice"]
    rows, counts = _worked_rows(svc, raw, kept_texts, budget, count_tokens)
    rows += practice_rows(svc, rows, round_, attempt)
    counts["practice"] = len(rows) - counts["kept"]
    path = adapted_file(round_, attempt)
    write_jsonl(svc.run_dir.resolve(path), rows)
    svc.progress.node("adapt", round_, f"kept {counts['kept']}/{len(raw)} + {counts['practice']} practice ({counts})")
    svc.tracer.event(
        round=round_,
        node="adapt",
        agent=AGENT,
        kind="adaptation",
        summary=f"kept {counts['kept']}/{len(raw)}: {counts['verification_failed']} failed verification, "
        f"{counts['duplicate']} duplicates, {counts['no_solution']} without a solution; "
        f"+{counts['practice']} practice items; budget {budget} tokens",
        counts=counts,
        token_budget=budget,
        file=path,
        example=rows[0] if rows else None,
    )
    return {
        "batch": [path],
        "batch_examples": state.batch_examples + len(rows),
        "usage": {"adapter_dropped": len(raw) - counts["kept"]},
    }


def _worked_rows(
    svc: Services, raw: list[dict[str, Any]], kept_texts: list[str], budget: int, count_tokens: Any
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The teacher's verified worked solutions, fitted, scaffolded and de-duplicated; with what each step dropped."""
    cfg = svc.config
    counts = {"kept": 0, "no_solution": 0, "verification_failed": 0, "duplicate": 0, "scaffolded": 0}
    rows = []
    for item in raw:
        if item["teacher_answer"] is None:
            counts["no_solution"] += 1
            continue
        task = Task(**{k: item[k] for k in ("module", "level", "question", "answer", "entry")})
        if svc.domain.score(task, item["teacher_answer"]) < 1.0:
            counts["verification_failed"] += 1
            continue
        target = fit_to_budget(item["steps"] or "", task.answer, budget, count_tokens)
        if cfg.adapter.scaffold:
            target, used = _scaffold(svc, task.module, target, budget, count_tokens)
            counts["scaffolded"] += used
        text = f"{task.question}\n{target}"
        if is_duplicate(text, kept_texts, cfg.adapter.dedup_rouge):
            counts["duplicate"] += 1
            continue
        kept_texts.append(text)
        rows.append(
            {
                "module": task.module,
                "level": task.level,
                "prompt": task.question,
                "target": target,
                "mode": item["mode"],
                "source": "teacher",
            }
        )
    counts["kept"] = len(rows)
    return rows, counts


def practice_rows(svc: Services, worked: list[dict[str, Any]], round_: int, attempt: int) -> list[dict[str, Any]]:
    """``practice_per_example`` checker-answered exercises per worked example, at its module and level.

    Where a level's question space is small (single-digit sums have about a hundred non-probe
    questions) practice repeats questions: a from-scratch student needs several passes over a fact
    table before it generalises to the held-out ones.
    """
    per = svc.config.adapter.practice_per_example
    wanted = Counter((r["module"], r["level"], r["mode"]) for r in worked)
    rows = []
    for (module, level, mode), n in sorted(wanted.items()):
        seed = exercise_seed(svc.config.domain.seed, round_, attempt, f"{module}#practice")
        rows += [
            {
                "module": module,
                "level": level,
                "prompt": task.question,
                "target": f"Answer: {task.answer}",
                "mode": mode,
                "source": "practice",
            }
            for task in svc.domain.exercises(module, level, n * per, seed)
        ]
    return rows


def _scaffold(svc: Services, module: str, target: str, budget: int, count_tokens: Any) -> tuple[str, int]:
    """Prefix a reminder of the nearest mastered module when the student's budget has room for it."""
    spec = next(m for m in svc.domain.modules if m.id == module)
    nearest = svc.memory.nearest_mastered(f"{spec.name}: {spec.description}", k=1, exclude={module})
    if not nearest:
        return target, 0
    hint = f"Recall: {nearest[0][1]}"
    candidate = f"{hint}\n{target}"
    if count_tokens(candidate) > budget:
        return target, 0
    return candidate, 1
