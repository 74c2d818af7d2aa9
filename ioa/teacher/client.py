"""The teacher client: DSPy programs sent through LangChain's ChatOpenAI to any OpenAI-compatible endpoint.

DSPy owns the prompts (signatures, demos, parsing); ChatOpenAI owns the HTTP connection (base
URL, key, timeout). Retries are ours (``ioa.teacher.retries``), so that backoff, ``Retry-After`` and
fault counts are under one roof, and every completion goes through the response cache
(``ioa.teacher.cache``) first. The bridge to DSPy is a DSPy engine, so the same programs run
against GPT-4o, vLLM, `transformers serve`, or a LangChain fake chat model in tests.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import dspy
from dspy.lm15 import Message, Response, TextPart, Usage, response_to_events
from dspy.utils.exceptions import AdapterParseError
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from ioa.config import TeacherConfig
from ioa.errors import UsageError
from ioa.teacher.cache import CachedCompletion, TeacherCache, cache_key
from ioa.teacher.prompt_format import PlainAdapter
from ioa.teacher.protocol import Teacher
from ioa.teacher.retries import FAULT_KINDS, EmptyCompletion, Fault, RequestFailed, RetryPolicy
from ioa.teacher.signatures import PROGRAMS
from ioa.traces import Tracer

# The agent on whose behalf a node asks the teacher, for the per-agent accounting.
REQUESTING_AGENT = {"identify": "diagnostician", "diagnose": "diagnostician", "teach": "teacher", "adapt": "adapter"}


@dataclass
class CallRecord:
    """One completion: from the endpoint (paid) or from the cache (free)."""

    prompt: str
    output: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    cached: bool = False


@dataclass
class TeacherStats:
    """Running totals, reported into the state's ``usage`` counters."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_hits: int = 0
    parse_failures: int = 0
    repaired: int = 0
    dropped: int = 0
    failed_requests: int = 0
    retries: int = 0
    faults: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, int]:
        flat = {k: v for k, v in asdict(self).items() if k != "faults"}
        return flat | {f"fault_{kind}": self.faults.get(kind, 0) for kind in FAULT_KINDS}


def usage_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, float]:
    """The teacher counters that changed between two snapshots, keyed for the state's ``usage`` reducer."""
    return {f"teacher_{k}": after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}


@dataclass
class _ItemLog:
    """What one item's attempt cost, gathered in its worker thread for its trace event."""

    draw: str = ""
    calls: list[CallRecord] = field(default_factory=list)
    faults: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    repair: str | None = None


_local = threading.local()


def _item_log() -> _ItemLog:
    if not hasattr(_local, "log"):
        _local.log = _ItemLog()
    return _local.log


def _text_of(parts: Any) -> str:
    if parts is None:
        return ""
    if isinstance(parts, str):
        return parts
    return "".join(getattr(p, "text", "") or "" for p in parts)


def to_langchain(request: Any) -> list[BaseMessage]:
    """A DSPy request as LangChain chat messages."""
    out: list[BaseMessage] = []
    if request.system is not None:
        out.append(SystemMessage(_text_of(request.system)))
    for msg in request.messages:
        cls = AIMessage if msg.role == "assistant" else HumanMessage
        out.append(cls(_text_of(msg.parts)))
    return out


class ChatOpenAIEngine:
    """A DSPy engine: cache first, then the chat model under the retry policy."""

    def __init__(
        self,
        chat: BaseChatModel,
        model: str,
        policy: RetryPolicy,
        cache: TeacherCache | None,
        on_call: Callable[[CallRecord], None],
        on_fault: Callable[[Fault, bool], None],
    ) -> None:
        self.chat = chat
        self.model = model
        self.policy = policy
        self.cache = cache
        self.on_call = on_call
        self.on_fault = on_fault
        self._guard = threading.Lock()
        self._inflight: dict[str, list[Any]] = {}

    def complete(self, request: Any) -> Response:
        messages = to_langchain(request)
        params: dict[str, Any] = {}
        if request.config.temperature is not None:
            params["temperature"] = request.config.temperature
        if request.config.max_tokens is not None:
            params["max_tokens"] = request.config.max_tokens
        prompt = "\n\n".join(f"[{m.type}] {m.content}" for m in messages)
        log = _item_log()
        key = cache_key(self.model, [(m.type, str(m.content)) for m in messages], params, log.draw)
        with self._single_flight(key):
            return self._complete(key, messages, params, prompt, log)

    @contextmanager
    def _single_flight(self, key: str) -> Iterator[None]:
        """Identical requests in flight at once wait for the first, which then serves them from the cache."""
        with self._guard:
            entry = self._inflight.setdefault(key, [threading.Lock(), 0])
            entry[1] += 1
        try:
            with entry[0]:
                yield
        finally:
            with self._guard:
                entry[1] -= 1
                if entry[1] == 0:
                    del self._inflight[key]

    def _complete(
        self, key: str, messages: list[BaseMessage], params: dict[str, Any], prompt: str, log: _ItemLog
    ) -> Response:
        hit = self.cache.get(key) if self.cache is not None else None
        if hit is not None:
            record = CallRecord(prompt, hit.text, hit.prompt_tokens, hit.completion_tokens, 0.0, cached=True)
            log.calls.append(record)
            self.on_call(record)
            return self._response(record)

        def attempt() -> CallRecord:
            start = time.perf_counter()
            reply = self.chat.invoke(messages, **params)
            text = reply.content if isinstance(reply.content, str) else str(reply.content)
            usage = getattr(reply, "usage_metadata", None) or {}
            record = CallRecord(
                prompt,
                text,
                int(usage.get("input_tokens", 0)),
                int(usage.get("output_tokens", 0)),
                time.perf_counter() - start,
            )
            log.calls.append(record)
            self.on_call(record)  # an empty completion is still a paid one
            if not text.strip():
                raise EmptyCompletion("the endpoint returned an empty completion")
            return record

        def fault(f: Fault, retrying: bool) -> None:
            log.faults[f.kind] += 1
            log.retries += retrying
            self.on_fault(f, retrying)

        record = self.policy.call(attempt, fault)
        if self.cache is not None:
            stored = CachedCompletion(record.output, record.prompt_tokens, record.completion_tokens)
            self.cache.put(key, self.model, stored)
        return self._response(record)

    def _response(self, record: CallRecord) -> Response:
        return Response(
            id=None,
            model=self.model,
            message=Message.assistant([TextPart(record.output)]),
            finish_reason="stop",
            usage=Usage(input_tokens=record.prompt_tokens, output_tokens=record.completion_tokens),
        )

    def stream(self, request: Any):
        return response_to_events(self.complete(request))

    def close(self) -> None:
        pass


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
        files = check_programs(cfg.programs)
        self.programs: dict[str, dspy.Predict] = {}
        for name, signature in PROGRAMS.items():
            program = dspy.Predict(signature)
            if name in files:
                program.load(str(files[name]))
            program.set_lm(self.lm)
            self.programs[name] = program

    def _count(self, record: CallRecord) -> None:
        with self._lock:
            if record.cached:
                self.stats.cache_hits += 1
                return
            self.stats.calls += 1
            self.stats.prompt_tokens += record.prompt_tokens
            self.stats.completion_tokens += record.completion_tokens

    def _repaired(self, how: str) -> None:
        """The adapter filled this item's fields from a reply that missed its labels (``PlainAdapter``)."""
        _item_log().repair = how
        with self._lock:
            self.stats.repaired += 1

    def _fault(self, fault: Fault, retrying: bool) -> None:
        with self._lock:
            self.stats.faults[fault.kind] += 1
            self.stats.retries += retrying

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return self.stats.as_dict()

    def usage_since(self, before: dict[str, int]) -> dict[str, float]:
        return usage_delta(before, self.snapshot())

    def instructions(self, name: str) -> str:
        return self.programs[name].signature.instructions

    def run(
        self,
        name: str,
        inputs: Sequence[dict[str, Any]],
        *,
        round: int,
        node: str,
        temperature: float | None = None,
        max_tokens: int | None = None,
        draw: str = "",
        on_done: Callable[[], None] | None = None,
    ) -> list[dspy.Prediction | None]:
        """``Teacher.run``, ``max_concurrency`` items at a time."""
        program = self.programs[name]
        config: dict[str, Any] = {}
        if temperature is not None:
            config["temperature"] = temperature
        if max_tokens is not None:
            config["max_tokens"] = max_tokens

        def one(indexed: tuple[int, dict[str, Any]]) -> dspy.Prediction | None:
            index, item = indexed
            try:
                return self._run_one(program, name, item, f"{round}/{node}/{name}/{draw}/{index}", round, node, config)
            finally:
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
    ) -> dspy.Prediction | None:
        for attempt in range(self.cfg.parse_retries + 1):
            _local.log = _ItemLog(draw=f"{item_id}/{attempt}")
            kind, error = "completion", ""
            try:
                with dspy.context(adapter=self.adapter):
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
        log = _item_log()
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
