"""Run, stream and resume: build the services, start the teacher, stream the graph's progress events, write the
summary. ``open_services`` is also how LangGraph Server builds a run's services (ioa/server/)."""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ioa.config import Config, load_config
from ioa.context import Services
from ioa.errors import IOAError, RuntimeFailure, is_disk_full
from ioa.events import Event, GraphReporter, Reporter, RunFinished, event_from_dict, node_finished
from ioa.graph.build import build_graph
from ioa.graph.checkpoints import check_checkpointer, open_checkpointer
from ioa.graph.finish import summarize
from ioa.lock import run_lock
from ioa.observability import enable_observability
from ioa.progress import RunProgress
from ioa.rundir import RunDir, write_json
from ioa.state import IOAState
from ioa.traces import Tracer

RECURSION_LIMIT = 10_000


@contextmanager
def teacher_endpoint(config: Config, rd: RunDir, progress: Reporter) -> Iterator[tuple[str, str]]:
    """(base_url, model) of the teacher: the configured endpoint, or the embedded server, started and stopped here."""
    if config.teacher.base_url:
        yield config.teacher.base_url, config.teacher.model
        return
    from ioa.teacher.local_server import LocalTeacherServer, ensure_teacher_folder, serve_dtype

    folder = ensure_teacher_folder(progress=lambda msg: progress.node("setup", 0, msg))
    progress.node("setup", 0, "starting the local teacher server (transformers serve)")
    with LocalTeacherServer(
        folder,
        port=config.teacher.serve_port,
        log_path=rd.teacher_log,
        timeout_s=config.teacher.serve_timeout_s,
        threads=config.teacher.serve_threads,
        continuous_batching=config.teacher.serve_continuous_batching,
        concurrency=config.teacher.serve_concurrency,
        dtype=serve_dtype(config.teacher.serve_dtype),
    ) as server:
        yield server.base_url, server.model_name


def _services(config: Config, rd: RunDir, base_url: str, model: str, progress: Reporter) -> Services:
    from ioa.domains import build_domain
    from ioa.memory import ConceptMemory
    from ioa.student_train.model import TINY_TOKENIZER
    from ioa.student_train.run_vocab import run_tokenizer
    from ioa.teacher.cache import TeacherCache
    from ioa.teacher.client import ChatTeacher, build_chat_model

    if not config.teacher.base_url:  # the embedded server sets its own concurrency, for the teacher and the agents
        config = config.model_copy(update={"teacher": config.teacher.for_embedded_server()})
    tracer = Tracer(rd.traces, config.observability.trace_max_chars)
    teacher_cfg = config.teacher.model_copy(update={"model": model})
    api_key = os.environ.get(config.teacher.api_key_env) if config.teacher.api_key_env else None
    if config.teacher.api_key_env and not api_key:
        raise RuntimeFailure(f"environment variable {config.teacher.api_key_env} (teacher.api_key_env) is not set")
    cache_path = Path(config.teacher.cache_path).expanduser() if config.teacher.cache_path else rd.teacher_cache
    cache = TeacherCache(cache_path) if config.teacher.cache else None
    teacher = ChatTeacher(build_chat_model(teacher_cfg, base_url, api_key), teacher_cfg, tracer, cache)
    student_endpoint = None
    if config.student.eval_base_url:
        from ioa.student_train.served import StudentEndpoint

        key_env = config.student.eval_api_key_env
        student_endpoint = StudentEndpoint(config.student, os.environ.get(key_env) if key_env else None)
    domain = build_domain(config, rd, teacher)
    # Only the tiny student reads tokenizer_dir: any other student brings its own tokenizer.
    tokenizer_dir = run_tokenizer(domain, rd.student_tokenizer) if config.student.model == "tiny" else TINY_TOKENIZER
    return Services(
        config=config,
        run_dir=rd,
        domain=domain,
        teacher=teacher,
        memory=ConceptMemory.open(rd.chroma),
        tracer=tracer,
        tokenizer_dir=tokenizer_dir,
        progress=progress,
        student_endpoint=student_endpoint,
    )


@contextmanager
def open_services(config: Config, rd: RunDir, progress: Reporter) -> Iterator[Services]:
    """The services of one run of ``rd`` in this process, its teacher started for the block and stopped after.

    ``ioa run`` and LangGraph Server both build them here, from a config and a run directory alone.
    """
    with teacher_endpoint(config, rd, progress) as (base_url, model):
        yield _services(config, rd, base_url, model, progress)


def _events(rd: RunDir, config: Config, fresh: bool, live: Callable[[Event], None] | None) -> Iterator[Event]:
    """Run the graph here and yield its progress events as they happen, ending with ``RunFinished``.

    Nodes report into the graph's custom stream; what is reported outside a graph step (the teacher's start, the
    report) goes to ``live`` at once, or is yielded at the next event when there is no ``live``.
    """
    thread = {"configurable": {"thread_id": rd.run_id}, "recursion_limit": RECURSION_LIMIT}
    outside: list[Event] = []
    progress = GraphReporter(live or outside.append)
    with ExitStack() as stack:
        _quiet_transformers(stack)
        graph = build_graph(stack.enter_context(open_checkpointer(config, rd)))
        svc = stack.enter_context(open_services(config, rd, progress))
        yield from _drain(outside)
        status, round_ = "failed", 0
        try:
            # The initial state goes in as a plain dict: a checkpoint holding an IOAState object makes LangGraph
            # rebuild our class on resume, which it warns about ("Deserializing unregistered type") and will block.
            start = asdict(IOAState()) if fresh else None
            for mode, chunk in graph.stream(start, thread, context=svc, stream_mode=["custom", "updates"]):
                yield from _drain(outside)
                for event in [event_from_dict(chunk)] if mode == "custom" else _finished(chunk, round_):
                    round_ = event.round
                    yield event
            status = "completed"
            if config.observability.report:
                write_report_of(rd, progress)
            yield from _drain(outside)
        except (KeyboardInterrupt, GeneratorExit):  # Ctrl-C, or the caller stopped reading the stream
            status = "stopped"
            raise
        finally:
            if status != "completed":
                write_partial_summary(lambda: graph.get_state(thread).values, svc, status)
    yield run_finished(json_summary(rd))


def _finished(chunk: dict[str, Any], round_: int) -> list[Event]:
    return [node_finished(node, update, round_) for node, update in chunk.items() if not node.startswith("__")]


def _drain(pending: list[Event]) -> Iterator[Event]:
    while pending:
        yield pending.pop(0)


def headline(summary: dict[str, Any]) -> tuple[str, dict[str, int]]:
    """A run's result in one line, and its numbers: mastered out of the modules the teacher knows, so that a
    module beyond the teacher is never counted as one the student could have mastered."""
    modules = summary["modules"]
    beyond = sum(m.get("state") == "beyond_teacher" for m in modules)
    numbers = {
        "rounds": summary["rounds"],
        "mastered": sum(bool(m["mastered"]) for m in modules),
        "teachable": len(modules) - beyond,
        "beyond_teacher": beyond,
        "modules": len(modules),
    }
    line = (
        f"{summary['status']}: {numbers['rounds']} rounds, mastered {numbers['mastered']}/{numbers['teachable']} "
        "modules the teacher knows" + (f" ({beyond} beyond the teacher)" if beyond else "")
    )
    return line, numbers


def run_finished(summary: dict[str, Any]) -> RunFinished:
    """The last event of a run: its summary.json, and the headline numbers of it."""
    line, numbers = headline(summary)
    numbers = {**numbers, "teacher_calls": summary["teacher"]["calls"], "elapsed_s": summary["elapsed_s"]}
    return RunFinished(node="finish", round=summary["rounds"], summary=line, numbers=numbers, result=summary)


def _quiet_transformers(stack: ExitStack) -> None:
    """No transformers progress bars during the run: every checkpoint save and load would draw one through our
    display (or, with --quiet, onto stderr before an error's one line). Restored afterwards for API callers."""
    from transformers.utils import logging as hf_logging

    if hf_logging.is_progress_bar_enabled():
        hf_logging.disable_progress_bar()
        stack.callback(hf_logging.enable_progress_bar)


def write_partial_summary(state_of: Callable[[], dict[str, Any] | IOAState | None], svc: Services, status: str) -> None:
    """A stopped or failed run still leaves a summary of the last state it reached (``state_of()``); best effort."""
    try:
        values = state_of()
        state = values if isinstance(values, IOAState) else IOAState(**values) if values else IOAState()
        write_json(svc.run_dir.summary, summarize(state, svc, status))
    except Exception:  # noqa: BLE001 - the original error matters more than this one
        pass


def write_report_of(rd: RunDir, progress: Reporter) -> None:
    """report.html and plots/ of the finished run; a rendering problem is reported, never fatal to the run."""
    from ioa.report import write_report

    try:
        path = write_report(rd.root)
    except Exception as exc:  # noqa: BLE001 - the run itself succeeded; `ioa report` can retry and show the error
        progress.node("finish", 0, f"report not written ({type(exc).__name__}: {exc}); try `ioa report {rd.root}`")
        return
    progress.node("finish", 0, f"report: {path}")


def json_summary(rd: RunDir) -> dict[str, Any]:
    return json.loads(rd.summary.read_text())


def run(config: Config | None = None, run_dir: str | Path | None = None, *, progress: bool = True) -> dict[str, Any]:
    """Run IOA end to end in a new run directory and return summary.json as a dict."""
    rd, config = new_run(config, run_dir)
    return _shown(lambda live: _guarded(rd, config, fresh=True, live=live), progress)


def stream(config: Config | None = None, run_dir: str | Path | None = None) -> Iterator[Event]:
    """Run IOA end to end in a new run directory, yielding its progress events (ioa/events.py) while it runs.

    The last event is ``RunFinished``, whose ``result`` is summary.json. Stopping early stops the run, which
    ``resume(run_dir)`` continues.
    """
    rd, config = new_run(config, run_dir)
    yield from _guarded(rd, config, fresh=True, live=None)


def new_run(config: Config | None, run_dir: str | Path | None, run_id: str | None = None) -> tuple[RunDir, Config]:
    """Check the config, then make the run directory: (its RunDir, the config with the domain resolved)."""
    from ioa.domains import resolve_domain
    from ioa.student_train.model import check_source
    from ioa.teacher.client import check_programs
    from ioa.teacher.endpoint import check_endpoint

    # A bad seed file, gym list, student, program file or teacher endpoint fails here, before the run directory is
    # touched.
    config = resolve_domain(config or load_config())
    check_source(config.student.model)
    check_programs(config.teacher.programs)
    check_endpoint(config.teacher)
    check_checkpointer(config)
    root = Path(run_dir) if run_dir else Path("runs") / _timestamp()
    enable_observability(config.observability)  # before the run directory exists, so a missing mlflow costs nothing
    return RunDir.create(root, config.to_yaml(), run_id), config


def resume(run_dir: str | Path, *, progress: bool = True) -> dict[str, Any]:
    """Continue a stopped or killed run from its last checkpoint."""
    from ioa.teacher.endpoint import check_endpoint

    rd = RunDir.open(Path(run_dir))
    config = load_config(rd.config, environ={})
    check_endpoint(config.teacher)  # before the run's lock and files are touched
    check_checkpointer(config)
    enable_observability(config.observability)
    return _shown(lambda live: _guarded(rd, config, fresh=False, live=live), progress)


def _shown(events: Callable[[Callable[[Event], None] | None], Iterator[Event]], show: bool) -> dict[str, Any]:
    """Consume a run's events, drawing them as the CLI's progress display when ``show``; summary.json at the end."""
    with RunProgress(enabled=show) as display:
        for event in events(display.show):
            display.show(event)
            if isinstance(event, RunFinished):
                return event.result
    raise RuntimeFailure("the run ended without a summary")


def _guarded(rd: RunDir, config: Config, *, fresh: bool, live: Callable[[Event], None] | None) -> Iterator[Event]:
    try:
        with run_lock(rd.root):
            yield from _events(rd, config, fresh, live)
    except IOAError:
        raise
    except Exception as exc:
        if failure := failure_of(exc, rd):
            raise failure from exc
        raise


def failure_of(exc: Exception, rd: RunDir) -> RuntimeFailure | None:
    """The one line an OS error in a run is reported as (a full disk, an unwritable path), or None for others."""
    if is_disk_full(exc):
        # Every write in the run directory is atomic or an append, so what is there is intact.
        return RuntimeFailure(
            f"disk full: {type(exc).__name__}: {exc} (run directory {rd.root}; free some space, "
            f"then `ioa resume {rd.root}`)"
        )
    if isinstance(exc, OSError):
        return RuntimeFailure(
            f"{type(exc).__name__}: {exc} (run directory {rd.root}; resume with `ioa resume {rd.root}`)"
        )
    return None


def _timestamp() -> str:
    return datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
