"""`ioa bench`: every strategy x seed as an independent trial, in parallel worker processes.

A trial is a pure function of (config, strategy, seed, lr), so trials can run in any order and
in any process; each worker uses one torch thread, which is fastest when runs share the cores.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from statistics import fmean
from typing import Any

from ioa.bench.oracle import OracleTeacher, TaskBook
from ioa.bench.strategies import STRATEGIES
from ioa.bench.students import initial_student
from ioa.bench.trial import CappedTeacher, Trial
from ioa.bench.trial_log import TrialKey, TrialLog
from ioa.config import Config
from ioa.lifetime import exit_with_parent

DIAG_STREAM = 1000
"""Diagnostic probes of seed s come from probe stream DIAG_STREAM + s (held-out ones from stream 0)."""


def trial_config(config: Config, seed: int, lr: float) -> Config:
    """One trial's config: the seed drives init, exercises, data order and diagnostic probes alike.

    The bench section's epochs, diagnostic probes and schedule replace their `ioa run` counterparts.
    """
    practice = config.adapter.checker_practice_per_example if config.bench.practice else 0
    return config.model_copy(
        update={
            "adapter": config.adapter.model_copy(update={"checker_practice_per_example": practice}),
            "student": config.student.model_copy(update={"init_seed": seed}),
            "training": config.training.model_copy(update={"seed": seed, "lr": lr, "epochs": config.bench.epochs}),
            "domain": config.domain.model_copy(
                update={"seed": DIAG_STREAM + seed, "probes_per_module": config.bench.diagnostic_probes_per_module}
            ),
            "rules": config.rules.model_copy(update={"schedule": config.bench.schedule}),
        }
    )


def _teacher(config: Config, book: TaskBook, endpoint: tuple[str, str] | None) -> Any:
    if endpoint is None:
        return OracleTeacher(book)
    from ioa.teacher.client import ChatTeacher, build_chat_model

    base_url, model = endpoint
    cfg = config.teacher.model_copy(update={"model": model})
    api_key = os.environ.get(cfg.api_key_env) if cfg.api_key_env else None
    return ChatTeacher(build_chat_model(cfg, base_url, api_key), cfg)


def run_trial(
    config_json: dict[str, Any],
    strategy: str,
    seed: int,
    lr: float,
    tokenizer_dir: str,
    endpoint: tuple[str, str] | None,
    procedure: Callable[[Trial], None] | None = None,
    students_dir: str | None = None,
) -> dict[str, Any]:
    """One strategy on one seed: train, evaluate on the held-out probes, return its record.

    ``procedure`` replaces ``STRATEGIES[strategy]``: a benchmark's own allocation, run in the same harness.
    ``students_dir`` keeps initial students that take training (``bench.student=warm``) for the trials after
    this one; without it, each trial trains its own.
    """
    from ioa.domains import get_domain

    started, cpu = time.perf_counter(), time.process_time()
    config = trial_config(Config.model_validate(config_json), seed, lr)
    # Salt 0 for every seed: the same split into exercises, probes and held-out items for every trial (each seed
    # then draws its own held-out items from theirs).
    book = TaskBook(get_domain(config.bench.domain, 0))
    teacher = CappedTeacher(_teacher(config, book, endpoint), config.bench.budget)
    with tempfile.TemporaryDirectory(prefix=f"ioa-bench-{strategy}-") as tmp:
        config = initial_student(config, book, Path(tokenizer_dir), Path(students_dir or tmp))
        trial = Trial(config, book, teacher, Path(tokenizer_dir), Path(tmp))
        (procedure or STRATEGIES[strategy])(trial)
        diagnostic = trial.accuracy(trial.last_student, trial.diagnostic_probes()) if trial.last_student else {}
    final = trial.curve[-1][1]
    tau = config.rules.tau_mastery
    return {
        "strategy": strategy,
        "seed": seed,
        "lr": lr,
        "budget": config.bench.budget,
        "synthesized": teacher.spent,
        "train_passes": trial.passes,
        "train_steps": trial.steps,
        "accuracy": fmean(final.values()),
        "per_module": final,
        # Item by item, in the held-out draw's order (the same for every strategy of a seed): paired bootstraps.
        "held_out": trial.last_scores,
        "eval_cap": trial.eval_cap(trial.last_student),
        "cap_hit_share": trial.last_cut / max(len(trial.last_scores), 1),
        "diagnostic_accuracy": fmean(diagnostic.values()) if diagnostic else None,
        "curve": [[spent, fmean(acc.values())] for spent, acc in trial.curve],
        # Coarse: measured only at the evaluation points of the curve.
        "examples_to_mastery": {
            m: next((spent for spent, acc in trial.curve if acc[m] >= tau), None) for m in trial.modules
        },
        "wall_s": round(time.perf_counter() - started, 1),
        # CPU seconds of this trial: on a shared machine, the honest measure of its cost.
        "cpu_s": round(time.process_time() - cpu, 1),
    }


def _one_thread() -> None:
    import torch
    from transformers.utils import logging

    torch.set_num_threads(1)
    logging.disable_progress_bar()  # a trial saves and loads checkpoints many times; one line per trial is enough


def _init_worker(parent: int) -> None:
    """A trial worker: one torch thread, and an exit as soon as the bench process is gone.

    A bench stopped with SIGTERM or SIGKILL runs no cleanup, and its pool workers would otherwise
    train on, orphaned, for the rest of their trials. The watch starts first: importing torch takes
    seconds on a loaded machine, and a parent killed meanwhile should not wait on it.
    """
    exit_with_parent(parent)
    _one_thread()


def run_trials(
    jobs: list[TrialKey],
    config: Config,
    tokenizer_dir: Path,
    endpoint: tuple[str, str] | None = None,
    procedures: Mapping[str, Callable[[Trial], None]] | None = None,
    students_dir: Path | None = None,
) -> Iterator[dict[str, Any]]:
    """Each job's record as it finishes, over ``bench.workers`` processes of one torch thread each.

    ``procedures`` gives a strategy name a procedure of its own instead of ``STRATEGIES``'s (a benchmark's);
    ``students_dir`` is ``run_trial``'s.
    """
    procedures = procedures or {}
    students = str(students_dir) if students_dir else None
    args = (config.model_dump(mode="json"), str(tokenizer_dir), endpoint)
    if config.bench.workers == 1:
        _one_thread()
        for strategy, seed, lr in jobs:
            yield run_trial(args[0], strategy, seed, lr, args[1], args[2], procedures.get(strategy), students)
    elif jobs:
        ctx = multiprocessing.get_context("spawn")  # no forked torch state
        pool = ProcessPoolExecutor(
            config.bench.workers, mp_context=ctx, initializer=_init_worker, initargs=(os.getpid(),)
        )
        with pool:
            futures = [
                pool.submit(run_trial, args[0], s, seed, lr, args[1], args[2], procedures.get(s), students)
                for s, seed, lr in jobs
            ]
            for future in as_completed(futures):
                yield future.result()


def _run_all(
    jobs: list[TrialKey],
    config: Config,
    tokenizer_dir: Path,
    endpoint: tuple[str, str] | None,
    report: Callable[[str], None],
    log: TrialLog,
    done: dict[TrialKey, dict[str, Any]],
) -> list[dict[str, Any]]:
    """Every job's record: those ``done`` already, and the others run now and logged as each finishes."""
    records = [done[job] for job in jobs if job in done]
    todo = [job for job in jobs if job not in done]
    if records:
        report(f"{len(records)} of {len(jobs)} trials already in {log.path}; running the other {len(todo)}")
    # Warm students are kept beside the trial log: the strategies of a seed, and a resumed bench, share them.
    for record in run_trials(todo, config, tokenizer_dir, endpoint, students_dir=log.path.parent / "students"):
        log.append(record)
        records.append(record)
        report(f"[{len(records)}/{len(jobs)}] {_line(record)}")
    return sorted(records, key=lambda r: (r["strategy"], r["seed"], r["lr"]))


def _line(r: dict[str, Any]) -> str:
    return (
        f"{r['strategy']:<20} seed {r['seed']:<3} lr {r['lr']:.0e}: held-out {r['accuracy']:.3f}, "
        f"{r['synthesized']} synthesized, {r['wall_s']} s"
    )


def _ordered(strategies: list[str]) -> list[str]:
    # Graph runs take longest: start them first so the workers finish together.
    return sorted(strategies, key=lambda s: not s.startswith("ioa"))


def run_bench(
    config: Config,
    tokenizer_dir: Path,
    log: TrialLog,
    endpoint: tuple[str, str] | None = None,
    report: Callable[[str], None] = print,
) -> dict[str, Any]:
    """The learning-rate search (when the grid has several values), then every strategy x seed.

    Trials already in ``log`` are not run again: a stopped bench started again with the same OUT resumes.
    """
    bench = config.bench
    started = time.perf_counter()
    done = log.records()
    strategies = _ordered(list(dict.fromkeys(bench.strategies)))
    search: list[dict[str, Any]] = []
    best = {s: bench.lrs[0] for s in strategies}
    if len(bench.lrs) > 1:
        report(f"learning-rate search on tuning seeds {bench.tune_seeds}: {bench.lrs}")
        tuning = [(s, seed, lr) for s in strategies for seed in bench.tune_seeds for lr in bench.lrs]
        search = _run_all(tuning, config, tokenizer_dir, endpoint, report, log, done)
        for s in strategies:
            # Picked on the diagnostic probes of the tuning seeds, never on the held-out items the comparison reports.
            best[s] = max(
                bench.lrs,
                key=lambda lr: fmean(
                    r["diagnostic_accuracy"] or 0.0 for r in search if r["strategy"] == s and r["lr"] == lr
                ),
            )
    jobs = [(s, seed, best[s]) for seed in bench.evaluation_seeds for s in strategies]
    records = _run_all(jobs, config, tokenizer_dir, endpoint, report, log, done)
    return {
        "settings": bench.model_dump(mode="json"),
        "student": config.student.model_dump(mode="json"),
        "lr_search": search,
        "chosen_lr": best,
        "records": records,
        "wall_s": round(time.perf_counter() - started, 1),
        # Trials read back from the log: their time is in their own records, not in wall_s.
        "resumed": sum((r["strategy"], r["seed"], r["lr"]) in done for r in [*search, *records]),
    }
