"""The bridge from DSPy to LangChain: a DSPy engine that answers from the response cache first, then from the chat
model under the retry policy, and logs what each item's attempt cost in its worker thread."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from dspy.lm15 import Message, Response, TextPart, Usage, response_to_events
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from ioa.teacher.cache import CachedCompletion, TeacherCache, cache_key
from ioa.teacher.retries import EmptyCompletion, Fault, RetryPolicy
from ioa.teacher.wave import Wave


@dataclass
class CallRecord:
    """One completion: from the endpoint (paid) or from the cache (free)."""

    prompt: str
    output: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    cached: bool = False
    truncated: bool = False
    """The completion stopped at its token cap (finish reason "length")."""
    derailed: bool = False
    """The client stopped reading where the reply derailed (``ioa.teacher.derail``): the server sends the usage
    only with a reply's end, so ``prompt_tokens`` is estimated from the prompt's length (``TokenRate``) and
    ``completion_tokens`` counts the pieces streamed."""
    late: bool = False
    """The client stopped reading the reply, at its last complete line, when its wave had waited long enough for it
    (``ioa.teacher.wave``); its tokens are counted as a derailed reply's."""


@dataclass
class ItemLog:
    """What one item's attempt cost, gathered in its worker thread for its trace event."""

    draw: str = ""
    calls: list[CallRecord] = field(default_factory=list)
    faults: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    repair: str | None = None
    derail: Callable[[str], int | None] | None = None
    """Where the reply so far has derailed (``ioa.teacher.derail``): set, the reply is read as it arrives and
    dropped from there; None reads it whole."""
    wave: Wave | None = None
    """The wave the request was sent in: a reply read as it arrives stops when the wave has waited long enough."""


_local = threading.local()


def item_log() -> ItemLog:
    """This thread's log of the item attempt in progress."""
    if not hasattr(_local, "log"):
        _local.log = ItemLog()
    return _local.log


def start_item(draw: str, derail: Callable[[str], int | None] | None = None, wave: Wave | None = None) -> ItemLog:
    """A fresh log for this thread's next item attempt; ``draw`` keys its cache entries apart from other draws."""
    _local.log = ItemLog(draw=draw, derail=derail, wave=wave)
    return _local.log


class IncompleteStream(ValueError):
    """A streamed reply that ended without a finish reason: its body was cut short or was no event stream."""


class TokenRate:
    """Prompt tokens per prompt character, as the endpoint counted them on the replies read whole: the estimate of
    a derailed reply's prompt tokens. A quarter of a token per character before any was counted."""

    def __init__(self) -> None:
        self._chars = 0
        self._tokens = 0
        self._lock = threading.Lock()

    def count(self, chars: int, tokens: int) -> None:
        if tokens > 0:
            with self._lock:
                self._chars += chars
                self._tokens += tokens

    def estimate(self, chars: int) -> int:
        with self._lock:
            rate = self._tokens / self._chars if self._chars else 0.25
        return round(chars * rate)


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
        self.token_rate = TokenRate()
        from langchain_openai.chat_models.base import BaseChatOpenAI

        # ChatOpenAI ends every whole stream with a finish reason; a test's fake chat model has none to give.
        self._streams_finish = isinstance(chat, BaseChatOpenAI)

    def complete(self, request: Any) -> Response:
        messages = to_langchain(request)
        params: dict[str, Any] = {}
        if request.config.temperature is not None:
            params["temperature"] = request.config.temperature
        if request.config.max_tokens is not None:
            params["max_tokens"] = request.config.max_tokens
        prompt = "\n\n".join(f"[{m.type}] {m.content}" for m in messages)
        log = item_log()
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
        self, key: str, messages: list[BaseMessage], params: dict[str, Any], prompt: str, log: ItemLog
    ) -> Response:
        hit = self.cache.get(key) if self.cache is not None else None
        if hit is not None:
            record = CallRecord(prompt, hit.text, hit.prompt_tokens, hit.completion_tokens, 0.0, cached=True)
            log.calls.append(record)
            self.on_call(record)
            return self._response(record)

        def attempt() -> CallRecord:
            start = time.perf_counter()
            if log.derail is None:
                reply = self.chat.invoke(messages, **params)
                text = reply.content if isinstance(reply.content, str) else str(reply.content)
                usage = getattr(reply, "usage_metadata", None) or {}
                finish = (getattr(reply, "response_metadata", None) or {}).get("finish_reason")
            else:
                text, usage, finish = self._read_until_derailed(messages, params, log.derail, log.wave)
            derailed = finish == "derailed"
            prompt_tokens = int(usage.get("input_tokens", 0))
            if finish in ("derailed", "late"):
                prompt_tokens = self.token_rate.estimate(len(prompt))
            else:
                self.token_rate.count(len(prompt), prompt_tokens)
            record = CallRecord(
                prompt,
                text,
                prompt_tokens,
                int(usage.get("output_tokens", 0)),
                time.perf_counter() - start,
                truncated=finish == "length",
                derailed=derailed,
                late=finish == "late",
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

    def _read_until_derailed(
        self,
        messages: list[BaseMessage],
        params: dict[str, Any],
        derail: Callable[[str], int | None],
        wave: Wave | None = None,
    ) -> tuple[str, dict[str, Any], str]:
        """The reply streamed up to where it derails, its usage and its finish reason ("derailed" when cut here;
        "late" when cut at its last complete line because its ``wave`` waited long enough).

        Closing the stream early closes the connection, and a server that notices (``transformers serve``, vLLM)
        stops decoding the reply."""
        text, pieces, usage, finish = "", 0, {}, None
        stream = self.chat.stream(messages, **params)
        try:
            for chunk in stream:
                piece = chunk.content if isinstance(chunk.content, str) else ""
                text += piece
                pieces += bool(piece)
                usage = getattr(chunk, "usage_metadata", None) or usage
                finish = (getattr(chunk, "response_metadata", None) or {}).get("finish_reason") or finish
                if piece and (at := derail(text)) is not None:
                    return text[:at].rstrip(), {"output_tokens": pieces}, "derailed"
                if piece and wave is not None and wave.late() and (end := text.rfind("\n")) > 0:
                    return text[:end].rstrip(), {"output_tokens": pieces}, "late"
        finally:
            stream.close()
        if finish is None and self._streams_finish:
            raise IncompleteStream("the streamed reply ended without a finish reason")
        return text, usage, finish or "stop"

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
