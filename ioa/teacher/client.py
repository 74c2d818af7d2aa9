"""The teacher client: DSPy programs sent through LangChain's ChatOpenAI to any OpenAI-compatible endpoint.

DSPy owns the prompts (signatures, demos, parsing); ChatOpenAI owns the HTTP connection (base
URL, key, timeout). Retries are ours (``ioa.teacher.retries``), so that backoff, ``Retry-After`` and
fault counts are under one roof, and every completion goes through the response cache
(``ioa.teacher.cache``) first. The bridge to DSPy is a DSPy engine (``ioa.teacher.engine``), so the same programs run
against GPT-4o, vLLM, `transformers serve`, or a LangChain fake chat model in tests.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import dspy
from dspy.utils.exceptions import AdapterParseError
from langchain_core.language_models import BaseChatModel

from ioa.config import TeacherConfig
from ioa.errors import UsageError
from ioa.teacher.cache import TeacherCache
from ioa.teacher.derail import DERAIL_PROGRAMS, derail_point
from ioa.teacher.engine import CallRecord, ChatOpenAIEngine, item_log, start_item
from ioa.teacher.prompt_format import BareAdapter, PlainAdapter
from ioa.teacher.protocol import Request, Teacher
from ioa.teacher.retries import Fault, RequestFailed, RetryPolicy
from ioa.teacher.signatures import BARE_PROGRAMS, PROGRAMS
from ioa.teacher.stats import TeacherStats
from ioa.teacher.wave import Wave
from ioa.traces import Tracer

# The agent on whose behalf a node asks the teacher, for the per-agent accounting.
REQUESTING_AGENT = {"identify": "diagnostician", "diagnose": "diagnostician", "teach": "teacher", "adapt": "adapter"}


def build_chat_model(cfg: TeacherConfig, base_url: str, api_key: str | None) -> BaseChatModel:
    """ChatOpenAI for an OpenAI-compatible endpoint; local servers need no real key.

    The client's own retries are off: ``ChatTeacher`` retries with its policy, so nothing is retried twice.
    """
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        model=cfg.model,
        base_url=base_url,
        api_key=api_key or "not-needed",
        temperature=cfg.temperature,
        max_tokens=cfg.max_tokens,
        timeout=cfg.timeout_s,
        max_retries=0,
        stream_usage=True,  # a streamed reply read to its end still reports its tokens (ioa.teacher.derail)
    )


def _secret_of(chat: BaseChatModel) -> str | None:
    key = getattr(chat, "openai_api_key", None)
    value = key.get_secret_value() if hasattr(key, "get_secret_value") else key
    return value if isinstance(value, str) and len(value) >= 8 and value != "not-needed" else None


class ChatTeacher(Teacher):
    """The ``Teacher`` of a chat endpoint: DSPy programs with bounded concurrency, caching, retries, accounting and
    tracing.

    A transient HTTP fault is retried (``max_retries``) and then the item is recorded as failed;
    an answer that does not parse is asked again (``parse_retries``) and then dropped. Neither
    ever stops the run. An answer that parses only after the adapter's repair of missing labels
    is counted as ``repaired``, and its trace event names the repair. Each item attempt is one
    trace event carrying its calls, tokens, cache hits and faults, so ``traces.jsonl`` is the
    run's teacher ledger (``ioa.teacher.ledger``).
    """

    agent = "teacher"

    def __init__(
        self,
        chat: BaseChatModel,
        cfg: TeacherConfig,
        tracer: Tracer | None = None,
        cache: TeacherCache | None = None,
    ) -> None:
        self.cfg = cfg
        self.tracer = tracer or Tracer(None)
        self.stats = TeacherStats()
        self._lock = threading.Lock()
        self._secret = _secret_of(chat)
        policy = RetryPolicy(cfg.max_retries, cfg.retry_backoff_s, cfg.retry_max_backoff_s)
        self.lm = dspy.LM(
            model=f"openai/{cfg.model}",
            engine=ChatOpenAIEngine(chat, cfg.model, policy, cache, self._count, self._fault),
            cache=False,
            num_retries=0,
            temperature=cfg.temperature,
            max_tokens=cfg.max_tokens,
        )
        self.adapter = PlainAdapter(on_repair=self._repaired)
        self.bare = BareAdapter()
        files = check_programs(cfg.programs)
        self.programs: dict[str, dspy.Predict] = {}
        for name, signature in PROGRAMS.items():
            program = dspy.Predict(signature)
            if name in files:
                program.load(str(files[name]))
            program.set_lm(self.lm)
            self.programs[name] = program
        self.derails = {name: derail_point(self.programs[name].signature) for name in DERAIL_PROGRAMS}

    def _count(self, record: CallRecord) -> None:
        with self._lock:
            if record.cached:
                self.stats.cache_hits += 1
                return
            self.stats.calls += 1
            self.stats.prompt_tokens += record.prompt_tokens
            self.stats.completion_tokens += record.completion_tokens
            self.stats.truncated += record.truncated

    def _repaired(self, how: str) -> None:
        """The adapter filled this item's fields from a reply that missed its labels (``PlainAdapter``)."""
        item_log().repair = how
        with self._lock:
            self.stats.repaired += 1

    def _fault(self, fault: Fault, retrying: bool) -> None:
        with self._lock:
            self.stats.faults[fault.kind] += 1
            self.stats.retries += retrying

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return self.stats.as_dict()

    def instructions(self, name: str) -> str:
        return self.programs[name].signature.instructions

    def answer(self, name: str, inputs: Sequence[dict[str, Any]], request: Request) -> list[dspy.Prediction | None]:
        """``Teacher.run``, ``max_concurrency`` items at a time."""
        program = self.programs[name]
        config: dict[str, Any] = {}
        if request.temperature is not None:
            config["temperature"] = request.temperature
        if request.max_tokens is not None:
            config["max_tokens"] = request.max_tokens
        round, node, draw, on_done, wave = request.round, request.node, request.draw, request.on_done, request.wave

        def one(indexed: tuple[int, dict[str, Any]]) -> dspy.Prediction | None:
            index, item = indexed
            item_id = f"{round}/{node}/{name}/{draw}/{index}"
            try:
                return self._run_one(program, name, item, item_id, round, node, config, wave)
            finally:
                if wave is not None:
                    calls = item_log().calls
                    wave.done(paid=not calls or any(not c.cached for c in calls))
                if on_done:
                    on_done()

        with ThreadPoolExecutor(max_workers=self.cfg.max_concurrency) as pool:
            return list(pool.map(one, enumerate(inputs)))

    def _run_one(
        self,
        program: dspy.Predict,
        name: str,
        item: dict[str, Any],
        item_id: str,
        round: int,
        node: str,
        config: dict[str, Any],
        wave: Wave | None = None,
    ) -> dspy.Prediction | None:
        for attempt in range(self.cfg.parse_retries + 1):
            if attempt and wave is not None and wave.late():
                break  # asked again now, it would decode alone while the wave waits for it
            start_item(f"{item_id}/{attempt}", self.derails.get(name), wave)
            kind, error = "completion", ""
            try:
                with dspy.context(adapter=self.bare if name in BARE_PROGRAMS else self.adapter):
                    prediction = program(**item, config=config)
            except AdapterParseError:
                prediction, kind, error = None, "parse_failure", "the answer did not parse"
                with self._lock:
                    self.stats.parse_failures += 1
                # A re-ask at temperature 0 would repeat the same unparseable text.
                config = {**config, "temperature": max(config.get("temperature", 0.0), 0.7)}
            except Exception as exc:  # noqa: BLE001 - one item's failure never stops the run
                failure = _request_failure(exc)
                prediction, kind = None, "request_failed"
                error = str(failure) if failure else f"{type(exc).__name__}: {exc}"
                with self._lock:
                    self.stats.failed_requests += 1
            self._trace(name, item, item_id, attempt, prediction, kind, error, round=round, node=node)
            if prediction is not None:
                return prediction
            if kind == "request_failed":
                break
        with self._lock:
            self.stats.dropped += 1
        return None

    def _redact(self, text: str) -> str:
        """Errors may echo what was sent; the API key never reaches a trace."""
        return text.replace(self._secret, "[redacted]") if self._secret else text

    def _trace(
        self,
        name: str,
        item: dict[str, Any],
        item_id: str,
        attempt: int,
        prediction: dspy.Prediction | None,
        kind: str,
        error: str,
        *,
        round: int,
        node: str,
    ) -> None:
        log = item_log()
        paid = [c for c in log.calls if not c.cached]
        clip = self.tracer.clip
        last = log.calls[-1] if log.calls else None
        self.tracer.event(
            round=round,
            node=node,
            agent=self.agent,
            kind=kind,
            summary=f"{name}: {error or 'ok'}" + (f" (retry {attempt})" if attempt else ""),
            tokens=sum(c.prompt_tokens + c.completion_tokens for c in paid),
            latency_s=sum(c.latency_s for c in log.calls),
            program=name,
            item=item_id,
            attempt=attempt,
            for_agent=REQUESTING_AGENT.get(node, node),
            calls=len(paid),
            prompt_tokens=sum(c.prompt_tokens for c in paid),
            completion_tokens=sum(c.completion_tokens for c in paid),
            cache_hits=len(log.calls) - len(paid),
            faults=dict(log.faults),
            retries=log.retries,
            derailed=sum(c.derailed for c in paid),
            late=sum(c.late for c in paid),
            repair=log.repair,
            inputs={k: clip(str(v)) for k, v in item.items()},
            prompt=clip(last.prompt) if last else "",
            raw_output=clip(last.output) if last else "",
            outputs={k: clip(str(v)) for k, v in prediction.items()} if prediction is not None else None,
            error=clip(self._redact(error)) if error else None,
        )


def _request_failure(exc: BaseException) -> RequestFailed | None:
    """The retry policy's verdict, which DSPy hands on wrapped in its own error."""
    seen: BaseException | None = exc
    while seen is not None and not isinstance(seen, RequestFailed):
        seen = seen.__cause__ or seen.__context__
    return seen


def check_programs(programs: dict[str, str]) -> dict[str, Path]:
    """The optimized program files of ``teacher.programs``, each a known program and a readable JSON file."""
    if unknown := sorted(set(programs) - set(PROGRAMS)):
        raise UsageError(f"teacher.programs: unknown program {unknown[0]!r}; known: {', '.join(PROGRAMS)}")
    return {name: _existing(path) for name, path in programs.items()}


def _existing(path: str) -> Path:
    p = Path(path).expanduser()
    if not p.is_file():
        raise UsageError(f"teacher program file not found: {p}")
    try:
        json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise UsageError(f"teacher program {p} is not valid JSON: {exc.msg} (line {exc.lineno})") from exc
    return p
