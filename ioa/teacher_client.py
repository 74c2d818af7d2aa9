"""The teacher client: DSPy programs sent through LangChain's ChatOpenAI to any OpenAI-compatible endpoint.

DSPy owns the prompts (signatures, demos, parsing); ChatOpenAI owns the HTTP connection
(base URL, key, timeout, retries). The bridge between them is a DSPy engine, so the same
programs run against GPT-4o, vLLM, `transformers serve`, or a LangChain fake chat model in tests.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import dspy
from dspy.lm15 import Message, Response, TextPart, Usage, response_to_events
from dspy.utils.exceptions import AdapterParseError
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from ioa.config import TeacherConfig
from ioa.errors import UsageError
from ioa.prompt_format import PlainAdapter
from ioa.signatures import PROGRAMS
from ioa.traces import Tracer


@dataclass
class CallRecord:
    """One HTTP round trip to the teacher."""

    prompt: str
    output: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float


@dataclass
class TeacherStats:
    """Running totals for summary.json."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_hits: int = 0
    parse_failures: int = 0
    dropped: int = 0
    failed_requests: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


_local = threading.local()


def _calls_of_this_thread() -> list[CallRecord]:
    if not hasattr(_local, "calls"):
        _local.calls = []
    return _local.calls


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
    """A DSPy engine that completes each request with a LangChain chat model."""

    def __init__(self, chat: BaseChatModel, on_call: Callable[[CallRecord], None]) -> None:
        self.chat = chat
        self.on_call = on_call

    def complete(self, request: Any) -> Response:
        messages = to_langchain(request)
        params: dict[str, Any] = {}
        if request.config.temperature is not None:
            params["temperature"] = request.config.temperature
        if request.config.max_tokens is not None:
            params["max_tokens"] = request.config.max_tokens
        start = time.perf_counter()
        reply = self.chat.invoke(messages, **params)
        latency = time.perf_counter() - start
        text = reply.content if isinstance(reply.content, str) else str(reply.content)
        usage = getattr(reply, "usage_metadata", None) or {}
        record = CallRecord(
            prompt="\n\n".join(f"[{m.type}] {m.content}" for m in messages),
            output=text,
            prompt_tokens=int(usage.get("input_tokens", 0)),
            completion_tokens=int(usage.get("output_tokens", 0)),
            latency_s=latency,
        )
        _calls_of_this_thread().append(record)
        self.on_call(record)
        return Response(
            id=None,
            model=getattr(self.chat, "model_name", "teacher") or "teacher",
            message=Message.assistant([TextPart(text)]),
            finish_reason="stop",
            usage=Usage(input_tokens=record.prompt_tokens, output_tokens=record.completion_tokens),
        )

    def stream(self, request: Any):
        return response_to_events(self.complete(request))

    def close(self) -> None:
        pass


def build_chat_model(cfg: TeacherConfig, base_url: str, api_key: str | None) -> BaseChatModel:
    """ChatOpenAI for an OpenAI-compatible endpoint; local servers need no real key."""
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        model=cfg.model,
        base_url=base_url,
        api_key=api_key or "not-needed",
        temperature=cfg.temperature,
        max_tokens=cfg.max_tokens,
        timeout=cfg.timeout_s,
        max_retries=cfg.max_retries,
    )


class Teacher:
    """Runs the teacher's DSPy programs with bounded concurrency, accounting and tracing.

    An answer that does not parse is asked again (``parse_retries``) and then dropped and
    counted; a request that fails after the client's retries is recorded and dropped too.
    Neither ever stops the run.
    """

    agent = "teacher"

    def __init__(self, chat: BaseChatModel, cfg: TeacherConfig, tracer: Tracer | None = None) -> None:
        self.cfg = cfg
        self.tracer = tracer or Tracer(None)
        self.stats = TeacherStats()
        self._lock = threading.Lock()
        self.lm = dspy.LM(
            model=f"openai/{cfg.model}",
            engine=ChatOpenAIEngine(chat, self._count),
            cache=False,
            num_retries=0,
            temperature=cfg.temperature,
            max_tokens=cfg.max_tokens,
        )
        self.adapter = PlainAdapter()
        self.programs: dict[str, dspy.Predict] = {}
        for name, signature in PROGRAMS.items():
            program = dspy.Predict(signature)
            if name in cfg.programs:
                program.load(str(_existing(cfg.programs[name])))
            program.set_lm(self.lm)
            self.programs[name] = program

    def _count(self, record: CallRecord) -> None:
        with self._lock:
            self.stats.calls += 1
            self.stats.prompt_tokens += record.prompt_tokens
            self.stats.completion_tokens += record.completion_tokens

    def snapshot(self) -> dict[str, int]:
        return self.stats.as_dict()

    def usage_since(self, before: dict[str, int]) -> dict[str, float]:
        """Counters added since ``before``, keyed for the state's ``usage`` reducer."""
        after = self.snapshot()
        return {f"teacher_{k}": after[k] - before[k] for k in after if after[k] != before[k]}

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
        on_done: Callable[[], None] | None = None,
    ) -> list[dspy.Prediction | None]:
        """Run program ``name`` on every input, ``max_concurrency`` at a time; None marks a dropped item."""
        program = self.programs[name]
        config: dict[str, Any] = {}
        if temperature is not None:
            config["temperature"] = temperature
        if max_tokens is not None:
            config["max_tokens"] = max_tokens

        def one(item: dict[str, Any]) -> dspy.Prediction | None:
            try:
                return self._run_one(program, name, item, round=round, node=node, config=config)
            finally:
                if on_done:
                    on_done()

        with ThreadPoolExecutor(max_workers=self.cfg.max_concurrency) as pool:
            return list(pool.map(one, inputs))

    def _run_one(
        self,
        program: dspy.Predict,
        name: str,
        item: dict[str, Any],
        *,
        round: int,
        node: str,
        config: dict[str, Any],
    ) -> dspy.Prediction | None:
        for attempt in range(self.cfg.parse_retries + 1):
            _calls_of_this_thread().clear()
            error = ""
            try:
                with dspy.context(adapter=self.adapter):
                    prediction = program(**item, config=config)
            except AdapterParseError:
                prediction, error = None, "parse_failure"
                with self._lock:
                    self.stats.parse_failures += 1
                # A re-ask at temperature 0 would repeat the same unparseable text.
                config = {**config, "temperature": max(config.get("temperature", 0.0), 0.7)}
            except Exception as exc:  # the client already retried transient errors
                prediction, error = None, f"request_failed: {type(exc).__name__}: {exc}"
                with self._lock:
                    self.stats.failed_requests += 1
            self._trace(name, item, prediction, error, attempt, round=round, node=node)
            if prediction is not None:
                return prediction
            if error.startswith("request_failed"):
                break
        with self._lock:
            self.stats.dropped += 1
        return None

    def _trace(
        self,
        name: str,
        item: dict[str, Any],
        prediction: dspy.Prediction | None,
        error: str,
        attempt: int,
        *,
        round: int,
        node: str,
    ) -> None:
        calls = list(_calls_of_this_thread())
        tokens = sum(c.prompt_tokens + c.completion_tokens for c in calls)
        latency = sum(c.latency_s for c in calls)
        clip = self.tracer.clip
        self.tracer.event(
            round=round,
            node=node,
            agent=self.agent,
            kind=error.split(":")[0] if error else "completion",
            summary=f"{name}: {error or 'ok'}" + (f" (retry {attempt})" if attempt else ""),
            tokens=tokens,
            latency_s=latency,
            program=name,
            inputs={k: clip(str(v)) for k, v in item.items()},
            prompt=clip(calls[-1].prompt) if calls else "",
            raw_output=clip(calls[-1].output) if calls else "",
            outputs={k: clip(str(v)) for k, v in prediction.items()} if prediction is not None else None,
            error=clip(error) if error else None,
        )


def _existing(path: str) -> Path:
    p = Path(path).expanduser()
    if not p.is_file():
        raise UsageError(f"teacher program file not found: {p}")
    try:
        json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise UsageError(f"teacher program {p} is not valid JSON: {exc.msg} (line {exc.lineno})") from exc
    return p
