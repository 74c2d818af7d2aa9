"""The `ioa bench` command's logic: resolve the teacher, run every trial, write the results."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from ioa.bench.results import write_results
from ioa.bench.runner import run_bench
from ioa.bench.trial_log import TrialLog
from ioa.config import Config


def bench(config: Config, out: Path, report: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the benchmark with ``config.bench`` and write OUT/results.{json,md} and the plot.

    Each finished trial goes to OUT/trials.jsonl at once, so the same command after a stop resumes.
    """
    from ioa.progress import RunProgress
    from ioa.student_train.model import TINY_TOKENIZER

    out.mkdir(parents=True, exist_ok=True)
    log = TrialLog.open(out, config)
    # The tiny student's own tokenizer (or its cut to the domain), whichever teacher teaches.
    tokenizer_dir = TINY_TOKENIZER
    if config.bench.vocab == "domain":
        from ioa.bench.student_vocab import domain_tokenizer
        from ioa.domains import get_domain

        tokenizer_dir = domain_tokenizer(get_domain(config.bench.domain, 0), tokenizer_dir, out / "student_tokenizer")
    with ExitStack() as stack:
        endpoint = None
        if config.bench.teacher == "llm":
            from ioa.graph.runner import teacher_endpoint
            from ioa.rundir import RunDir

            # One teacher (the configured endpoint or one embedded server) for every trial.
            endpoint = stack.enter_context(teacher_endpoint(config, RunDir(out), RunProgress(enabled=False)))
            if not config.teacher.base_url:  # the embedded server sets its own concurrency
                config = config.model_copy(update={"teacher": config.teacher.for_embedded_server()})
        result = run_bench(config, tokenizer_dir, log, endpoint, report)
    return write_results(out, result)
