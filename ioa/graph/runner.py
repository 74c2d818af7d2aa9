"""Run and resume: build the services, start the teacher, stream the graph, write the summary."""

from __future__ import annotations

import datetime
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from langgraph.checkpoint.sqlite import SqliteSaver

from ioa.config import Config, load_config
from ioa.context import Services
from ioa.errors import IOAError, RuntimeFailure, is_disk_full
from ioa.graph.build import build_graph
from ioa.graph.finish import summarize
from ioa.lock import run_lock
from ioa.observability import enable_observability
from ioa.progress import RunProgress
from ioa.rundir import RunDir, write_json
from ioa.state import IOAState
from ioa.traces import Tracer

RECURSION_LIMIT = 10_000


@contextmanager
def teacher_endpoint(config: Config, rd: RunDir, progress: RunProgress) -> Iterator[tuple[str, str]]:
    """(base_url, model) of the teacher: the configured endpoint, or the embedded server, started and stopped here."""
    if config.teacher.base_url:
        yield config.teacher.base_url, config.teacher.model
        return
    from ioa.teacher.local_server import LocalTeacherServer, ensure_teacher_folder

    folder = ensure_teacher_folder(progress=lambda msg: progress.node("setup", 0, msg))
    progress.node("setup", 0, "starting the local teacher server (transformers serve)")
    with LocalTeacherServer(
        folder,
        port=config.teacher.serve_port,
        log_path=rd.teacher_log,
        timeout_s=config.teacher.serve_timeout_s,
        threads=config.teacher.serve_threads,
        continuous_batching=config.teacher.serve_continuous_batching,
    ) as server:
        yield server.base_url, server.model_name


def _services(config: Config, rd: RunDir, base_url: str, model: str, progress: RunProgress) -> Services:
    from ioa.domains import build_domain
    from ioa.memory import ConceptMemory
    from ioa.teacher.cache import TeacherCache
    from ioa.teacher.client import ChatTeacher, build_chat_model
    from ioa.teacher.local_server import ensure_teacher_folder

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
    # The tiny student speaks the teacher's tokenizer; the bundled teacher folder always has it.
    tokenizer_dir = ensure_teacher_folder()
    return Services(
        config=config,
        run_dir=rd,
        domain=build_domain(config, rd, teacher),
        teacher=teacher,
        memory=ConceptMemory.open(rd.chroma),
        tracer=tracer,
        tokenizer_dir=tokenizer_dir,
        progress=progress,
        student_endpoint=student_endpoint,
    )


def _execute(rd: RunDir, config: Config, fresh: bool, show_progress: bool) -> dict[str, Any]:
    thread = {"configurable": {"thread_id": rd.run_id}, "recursion_limit": RECURSION_LIMIT}
    with ExitStack() as stack:
        progress = stack.enter_context(RunProgress(enabled=show_progress))
        _quiet_transformers(stack)
        conn = sqlite3.connect(str(rd.checkpoints), check_same_thread=False)
        stack.callback(conn.close)
        graph = build_graph(SqliteSaver(conn))
        base_url, model = stack.enter_context(teacher_endpoint(config, rd, progress))
        svc = _services(config, rd, base_url, model, progress)
        status = "failed"
        try:
            # The initial state goes in as a plain dict: a checkpoint holding an IOAState object makes LangGraph
            # rebuild our class on resume, which it warns about ("Deserializing unregistered type") and will block.
            start = asdict(IOAState()) if fresh else None
            for _ in graph.stream(start, thread, context=svc, stream_mode="updates"):
                pass
            status = "completed"
            if config.observability.report:
                _write_report(rd, progress)
        except KeyboardInterrupt:
            status = "stopped"
            raise
        finally:
            if status != "completed":
                _write_partial_summary(graph, thread, svc, status)
        return json_summary(rd)


def _quiet_transformers(stack: ExitStack) -> None:
    """No transformers progress bars during the run: every checkpoint save and load would draw one through our
    display (or, with --quiet, onto stderr before an error's one line). Restored afterwards for API callers."""
    from transformers.utils import logging as hf_logging

    if hf_logging.is_progress_bar_enabled():
        hf_logging.disable_progress_bar()
        stack.callback(hf_logging.enable_progress_bar)


def _write_partial_summary(graph: Any, thread: dict[str, Any], svc: Services, status: str) -> None:
    """A stopped or failed run still leaves a summary of what it reached; best effort by design."""
    try:
        values = graph.get_state(thread).values
        state = IOAState(**values) if values else IOAState()
        write_json(svc.run_dir.summary, summarize(state, svc, status))
    except Exception:  # noqa: BLE001 - the original error matters more than this one
        pass


def _write_report(rd: RunDir, progress: RunProgress) -> None:
    """report.html and plots/ of the finished run; a rendering problem is reported, never fatal to the run."""
    from ioa.report import write_report

    try:
        path = write_report(rd.root)
    except Exception as exc:  # noqa: BLE001 - the run itself succeeded; `ioa report` can retry and show the error
        progress.console.print(f"[yellow]report not written ({type(exc).__name__}: {exc}); try `ioa report {rd.root}`")
        return
    progress.node("finish", 0, f"report: {path}")


def json_summary(rd: RunDir) -> dict[str, Any]:
    return json.loads(rd.summary.read_text())


def run(config: Config | None = None, run_dir: str | Path | None = None, *, progress: bool = True) -> dict[str, Any]:
    """Run IOA end to end in a new run directory and return summary.json as a dict."""
    from ioa.domains import resolve_domain
    from ioa.student_train.model import check_source
    from ioa.teacher.client import check_programs

    # A bad seed file, gym list, student path or program file fails here, before the run directory is touched.
    config = resolve_domain(config or load_config())
    check_source(config.student.model)
    check_programs(config.teacher.programs)
    root = Path(run_dir) if run_dir else Path("runs") / _timestamp()
    enable_observability(config.observability)  # before the run directory exists, so a missing mlflow costs nothing
    rd = RunDir.create(root, config.to_yaml())
    return _guarded(rd, config, fresh=True, show_progress=progress)


def resume(run_dir: str | Path, *, progress: bool = True) -> dict[str, Any]:
    """Continue a stopped or killed run from its last checkpoint."""
    rd = RunDir.open(Path(run_dir))
    config = load_config(rd.config, environ={})
    enable_observability(config.observability)
    return _guarded(rd, config, fresh=False, show_progress=progress)


def _guarded(rd: RunDir, config: Config, *, fresh: bool, show_progress: bool) -> dict[str, Any]:
    try:
        with run_lock(rd.root):
            return _execute(rd, config, fresh, show_progress)
    except IOAError:
        raise
    except Exception as exc:
        if is_disk_full(exc):
            # Every write in the run directory is atomic or an append, so what is there is intact.
            raise RuntimeFailure(
                f"disk full: {type(exc).__name__}: {exc} (run directory {rd.root}; free some space, "
                f"then `ioa resume {rd.root}`)"
            ) from exc
        if isinstance(exc, OSError):
            raise RuntimeFailure(
                f"{type(exc).__name__}: {exc} (run directory {rd.root}; resume with `ioa resume {rd.root}`)"
            ) from exc
        raise


def _timestamp() -> str:
    return datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
