"""The retry policy against a fault-injecting proxy in front of a trivial OpenAI-compatible server."""

from __future__ import annotations

import email.utils
import time
from collections import Counter

import pytest
from fault_proxy import FAULTS, FakeOpenAIServer, FaultProxy

from ioa.config import TeacherConfig
from ioa.teacher.client import ChatTeacher, build_chat_model
from ioa.teacher.ledger import teacher_summary
from ioa.teacher.retries import RetryPolicy, retry_after_s
from ioa.traces import Tracer, read_traces

FAST = {"timeout_s": 0.5, "retry_backoff_s": 0.01, "retry_max_backoff_s": 2.0}


def make_teacher(url: str, tmp_path, **cfg) -> ChatTeacher:
    config = TeacherConfig(model="fake", **{**FAST, **cfg})
    return ChatTeacher(build_chat_model(config, url, None), config, Tracer(tmp_path / "traces.jsonl"))


def questions(n: int) -> list[dict[str, str]]:
    return [{"question": f"What is {i} + 1?"} for i in range(n)]


def traced_faults(tmp_path) -> Counter[str]:
    out: Counter[str] = Counter()
    for e in read_traces(tmp_path / "traces.jsonl"):
        out.update(e.get("faults") or {})
    return out


def test_backoff_doubles_with_jitter_and_is_capped():
    policy = RetryPolicy(max_retries=5, backoff_s=1.0, max_backoff_s=8.0, seed=1)
    for retry, ceiling in enumerate([1, 2, 4, 8, 8, 8]):
        waits = [policy.delay(retry) for _ in range(50)]
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        assert len(set(waits)) > 1  # jittered, not lockstep


def test_retry_after_is_a_floor_and_capped():
    policy = RetryPolicy(max_retries=2, backoff_s=0.01, max_backoff_s=5.0)
    assert policy.delay(0, retry_after=3.0) >= 3.0
    assert policy.delay(0, retry_after=100.0) == 5.0


def test_retry_after_header_forms():
    assert retry_after_s({"retry-after": "2"}) == 2.0
    assert retry_after_s({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < retry_after_s({"retry-after": later}) <= 30
    assert retry_after_s({}) is None and retry_after_s({"retry-after": "soon"}) is None


def test_every_fault_kind_is_retried_counted_and_traced(tmp_path):
    with FakeOpenAIServer() as server, FaultProxy(server.url, script=list(FAULTS), stall_s=1.5) as proxy:
        teacher = make_teacher(proxy.url, tmp_path, max_retries=len(FAULTS), max_concurrency=1)
        [pred] = teacher.run("answer_probe", questions(1), round=0, node="identify")
    assert pred is not None and pred.answer == "answer: 42"  # a bare probe keeps the whole reply
    expected = proxy.client_kinds()
    assert expected == Counter(
        rate_limited=1, server_error=2, connection=1, timeout=1, bad_response=2, empty_completion=1
    )
    assert traced_faults(tmp_path) == expected
    assert teacher.stats.faults == expected and teacher.stats.retries == len(FAULTS)
    [event] = read_traces(tmp_path / "traces.jsonl")
    assert event["kind"] == "completion" and event["retries"] == len(FAULTS)
    # The empty completion was paid for, then the good one: two completions, one request that failed none.
    assert event["calls"] == 2 and teacher.stats.failed_requests == 0


def test_retry_after_is_honoured(tmp_path):
    with FakeOpenAIServer() as server, FaultProxy(server.url, script=["rate_limited"], retry_after_s=1) as proxy:
        teacher = make_teacher(proxy.url, tmp_path, max_retries=1)
        start = time.monotonic()
        [pred] = teacher.run("answer_probe", questions(1), round=0, node="identify")
    assert pred is not None and proxy.injected["rate_limited"] == 1
    assert time.monotonic() - start >= 1.0  # backoff alone would have waited about 0.01 s


def test_thirty_percent_faults_lose_nothing(tmp_path):
    with FakeOpenAIServer() as server, FaultProxy(server.url, rate=0.3, stall_s=1.0, seed=3) as proxy:
        teacher = make_teacher(proxy.url, tmp_path, max_retries=6, max_concurrency=4)
        preds = teacher.run("answer_probe", questions(40), round=1, node="identify")
    assert all(p is not None and p.answer == "answer: 42" for p in preds)
    assert sum(proxy.injected.values()) >= 6
    assert traced_faults(tmp_path) == proxy.client_kinds() == teacher.stats.faults


def test_exhausted_retries_record_the_item_as_failed_and_go_on(tmp_path):
    with FakeOpenAIServer() as server, FaultProxy(server.url, rate=1.0, faults=("server_error_503",)) as proxy:
        teacher = make_teacher(proxy.url, tmp_path, max_retries=2, max_concurrency=2)
        preds = teacher.run("answer_probe", questions(3), round=2, node="identify")
    assert preds == [None, None, None]
    assert proxy.injected["server_error_503"] == 9 and server.requests == 0  # 3 items x (1 + 2 retries)
    assert teacher.stats.failed_requests == 3 and teacher.stats.dropped == 3
    summary = teacher_summary(read_traces(tmp_path / "traces.jsonl"), teacher.cfg)
    assert summary["failed_requests"] == 3 and summary["failed_items_count"] == 3
    assert summary["faults"] == {"server_error": 9} and summary["retries"] == 6
    assert {i["item"] for i in summary["failed_items"]} == {f"2/identify/answer_probe//{i}" for i in range(3)}
    assert all(i["error"].startswith("server_error after 3 attempts") for i in summary["failed_items"])


@pytest.mark.parametrize("concurrency", [1, 4])
def test_requests_in_flight_are_bounded_by_max_concurrency(tmp_path, concurrency):
    import threading

    live, peak, lock = [0], [0], threading.Lock()

    def slow_reply(messages):
        with lock:
            live[0] += 1
            peak[0] = max(peak[0], live[0])
        time.sleep(0.1)
        with lock:
            live[0] -= 1
        return "answer: 1"

    with FakeOpenAIServer(slow_reply) as server:
        teacher = make_teacher(server.url, tmp_path, max_concurrency=concurrency, timeout_s=10)
        teacher.run("answer_probe", questions(12), round=0, node="identify")
    assert peak[0] == concurrency
