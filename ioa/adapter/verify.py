"""Verification (docs/design.md §6): an exercise trains the student only when it is verified.

Three ways, in order of trust:

- ``checker``: the domain's checker judges the teacher-written exercise (``Domain.verify`` says ok True/False);
- ``sandbox``: a code exercise's code runs against the teacher's tests (its Check) and, when it defines a seed's
  function, against that seed's tests too (``SeedDomain.verify`` marks the kind ``code`` in its entry);
- ``self_consistency``: where the checker cannot judge (ok None), ``adapter.consistency_k`` independent teacher
  solves at the synthesis temperature must all agree with the exercise's answer, by the domain's metric where it
  can compare two answers (``ReferenceTasks``), else by their normalized text.

Every drop is counted by reason and its details traced.
"""

from __future__ import annotations

import re
from typing import Protocol, runtime_checkable

from ioa.adapter.draft import Adaptation, Draft
from ioa.adapter.text import same_answer, solution_lines
from ioa.domains.base import Domain, Task
from ioa.domains.lesson import Verdict
from ioa.domains.seed_domain import called_functions, defined_functions, exercise_code
from ioa.metrics import code_correct

_FENCED = re.compile(r"```.*?(?:```|\Z)", re.S)


@runtime_checkable
class ReferenceTasks(Protocol):
    """A domain whose metric can judge one answer against another (``SeedDomain``): self-consistency uses it."""

    def reference_task(self, module_id: str, problem: str, answer: str) -> Task:
        """A task of ``module_id`` whose reference is ``answer``."""
        ...


def agrees(domain: Domain, module: str, problem: str, stated: str, reply: str) -> bool:
    """Whether ``reply`` gives the ``stated`` answer: the domain's metric where it can judge, else normalized text."""
    if isinstance(domain, ReferenceTasks):
        return domain.score(domain.reference_task(module, problem, stated), reply) >= 1.0
    return same_answer(stated, reply)


def verify_drafts(drafts: list[Draft], ad: Adaptation) -> None:
    """Verify every draft by its checker, the sandbox or self-consistency; drop what fails, with the reason."""
    undecided = []
    for d in drafts:
        verdict = _verdict(d, ad)
        if verdict is None:
            continue
        d.entry, d.verdict = dict(verdict.entry), verdict.reason
        if verdict.entry.get("kind") == "code":
            _sandbox(d, verdict, ad)
        elif verdict.ok is True:
            d.verified_by = "checker"
        elif verdict.ok is False:
            d.drop("verification_failed", f"the checker refutes it: {verdict.reason}")
        else:
            undecided.append(d)
    self_consistency(undecided, ad)
    for d in drafts:
        if d.verified_by:
            d.record("verify", d.target(), f"{d.verified_by}: {d.verdict}", strategy=False)


def _verdict(d: Draft, ad: Adaptation) -> Verdict | None:
    """The domain checker's verdict, or None when the draft was dropped before or by it."""
    if d.module not in {m.id for m in ad.svc.domain.modules}:
        d.drop("unknown_module", f"{d.module!r} is not a module of the domain")
        return None
    try:
        return ad.svc.domain.verify(d.module, d.problem, d.row["steps"], d.answer)
    except Exception as exc:  # noqa: BLE001 - a checker fed teacher text must not stop the run
        d.drop("checker_error", f"the checker failed on it: {type(exc).__name__}: {exc}")
        return None


def _sandbox(d: Draft, verdict: Verdict, ad: Adaptation) -> None:
    """A code exercise: refuted by a seed's tests, or run against the teacher's own tests."""
    if verdict.ok is False:
        d.drop("verification_failed", f"the sandbox refutes it: {verdict.reason}")
        return
    code = exercise_code(d.row["steps"], d.row["answer"])
    if not (called_functions(d.check) & defined_functions(code)) or "assert" not in d.check:
        d.drop("no_tests", "its Check holds no assert that calls the code's functions")
        return
    if not code_correct(code, d.check, ad.svc.config.sandbox):
        d.drop("verification_failed", "the code fails the teacher's own tests in the sandbox")
        return
    d.code, d.verified_by = code, "sandbox"
    d.verdict = f"passes the teacher's tests; {verdict.reason}"
    # The target is the explanation as comments, then the code: the steps without the code itself.
    code_lines = {line.strip() for line in code.splitlines()}
    d.lines = [line for line in solution_lines(_FENCED.sub("", d.row["steps"])) if line not in code_lines]


def self_consistency(drafts: list[Draft], ad: Adaptation) -> None:
    """k independent teacher solves per draft, all in one teacher call; a draft stays when all k agree."""
    if not drafts:
        return
    cfg = ad.svc.config
    k = cfg.adapter.consistency_k
    inputs = [{"question": d.problem} for d in drafts for _ in range(k)]
    with ad.svc.progress.step("teacher re-solves exercises (self-consistency)", len(inputs)) as advance:
        replies = ad.svc.teacher.run(
            "answer_probe",
            inputs,
            round=ad.round,
            node="adapt",
            temperature=cfg.teacher.temperature,
            # Each solve is its own cache entry (the item index tells them apart), and each teach attempt's too.
            draw=f"attempt{ad.attempt}/consistency",
            on_done=advance,
        )
    for i, d in enumerate(drafts):
        answers = [r.answer if r is not None else None for r in replies[i * k : (i + 1) * k]]
        agreeing = sum(a is not None and agrees(ad.svc.domain, d.module, d.problem, d.answer, a) for a in answers)
        d.entry["consistency"] = {"k": k, "agreeing": agreeing}
        if agreeing == k:
            d.verified_by, d.verdict = "self_consistency", f"{agreeing}/{k} teacher solves agree ({d.verdict})"
        else:
            shown = ", ".join(repr(a) if a is not None else "no reply" for a in answers)
            d.drop("not_self_consistent", f"{agreeing}/{k} teacher solves agree with {d.answer!r}: {shown}")


def still_verified(d: Draft, ad: Adaptation, steps: str, answer: str) -> str:
    """Why a rewrite of a verified draft loses its verification ("" when it keeps it).

    A rewrite must give the same final answer; where the checker verified the draft, the rewritten steps must
    pass the checker too (a step naming another answer is refuted there). A code draft keeps its verified
    code, whatever the rewrite says, so only its explanation changes.
    """
    if d.code:
        return ""
    if not agrees(ad.svc.domain, d.module, d.problem, d.answer, answer):
        return f"it changed the answer to {answer!r}"
    if d.verified_by == "checker":
        try:
            verdict = ad.svc.domain.verify(d.module, d.problem, steps, d.answer)
        except Exception as exc:  # noqa: BLE001 - as in verification: teacher text never stops the run
            return f"the checker failed on it: {type(exc).__name__}"
        if verdict.ok is not True:
            return f"the checker refutes it: {verdict.reason}"
    return ""
