"""Retries of teacher requests: which faults are transient, how long to wait, and when to give up.

The OpenAI client's own retries are switched off (``max_retries=0``) so that this module alone
decides: exponential backoff with jitter, a server's ``Retry-After`` honoured, every fault counted
by kind. A request that still fails is reported as ``RequestFailed`` for the caller to record.
"""

from __future__ import annotations

import email.utils
import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import openai

T = TypeVar("T")

FAULT_KINDS = (
    "rate_limited",  # 429
    "server_error",  # 5xx
    "timeout",  # no answer within teacher.timeout_s
    "connection",  # refused, reset, or a body cut short by a closed connection
    "bad_response",  # 200 with a body that is not a chat completion (invalid or truncated JSON)
    "empty_completion",  # a well-formed completion with no text
    "client_error",  # another 4xx: the request itself is wrong, so it is not retried
)


class EmptyCompletion(Exception):
    """The endpoint answered with an empty completion; asking again usually helps."""


@dataclass(frozen=True)
class Fault:
    """A failed attempt, classified."""

    kind: str
    retryable: bool
    retry_after_s: float | None
    message: str


class RequestFailed(Exception):
    """A request that failed on every attempt; ``kind`` is the last fault's."""

    def __init__(self, fault: Fault, attempts: int) -> None:
        super().__init__(f"{fault.kind} after {attempts} attempts: {fault.message}")
        self.fault = fault
        self.attempts = attempts


def classify(exc: BaseException) -> Fault | None:
    """The fault behind an exception raised by a chat-completion call; None if it is no transport fault."""
    msg = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        retry_after = retry_after_s(exc.response.headers) if exc.response is not None else None
        if status == 429:
            return Fault("rate_limited", True, retry_after, msg)
        if status >= 500:
            return Fault("server_error", True, retry_after, msg)
        if status == 408:
            return Fault("timeout", True, retry_after, msg)
        return Fault("client_error", False, None, msg)
    if isinstance(exc, openai.APITimeoutError):
        return Fault("timeout", True, None, msg)
    if isinstance(exc, openai.APIConnectionError):
        return Fault("connection", True, None, msg)
    if isinstance(exc, EmptyCompletion):
        return Fault("empty_completion", True, None, msg)
    # The client parses the body after the status check: a broken body surfaces as one of these.
    if isinstance(exc, json.JSONDecodeError | ValueError | LookupError | TypeError):
        return Fault("bad_response", True, None, msg)
    return None


def retry_after_s(headers: Any) -> float | None:
    """Seconds a server asks us to wait: ``retry-after-ms``, or ``Retry-After`` as seconds or an HTTP date."""
    if headers is None:
        return None
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class RetryPolicy:
    """Exponential backoff with jitter, capped; a ``Retry-After`` is a floor on the wait.

    Jitter spreads the retries of concurrent workers so that they do not hit a recovering
    server in lockstep. The generator is seeded, so a test sees the same waits every time.
    """

    def __init__(self, max_retries: int, backoff_s: float, max_backoff_s: float, seed: int = 0) -> None:
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (0-based)."""
        ceiling = min(self.max_backoff_s, self.backoff_s * 2**retry)
        with self._lock:
            wait = ceiling / 2 + self._rng.uniform(0, ceiling / 2)  # "equal jitter": never less than half
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_backoff_s))
        return wait

    def call(
        self,
        fn: Callable[[], T],
        on_fault: Callable[[Fault, bool], None],
        sleep: Callable[[float], None] = time.sleep,
    ) -> T:
        """``fn()``, retried on transient faults; raises ``RequestFailed`` when the retries are spent.

        ``on_fault(fault, retrying)`` hears of every failed attempt, before the wait.
        """
        attempt = 0
        while True:
            try:
                return fn()
            except Exception as exc:
                fault = classify(exc)
                if fault is None:
                    raise
                retrying = fault.retryable and attempt < self.max_retries
                on_fault(fault, retrying)
                if not retrying:
                    raise RequestFailed(fault, attempt + 1) from exc
                sleep(self.delay(attempt, fault.retry_after_s))
                attempt += 1
