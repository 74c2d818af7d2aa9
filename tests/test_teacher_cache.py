"""The response cache and the teacher ledger: nothing paid twice, intended draws kept apart, cost."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from fault_proxy import FakeOpenAIServer

from ioa.config import TeacherConfig
from ioa.teacher.cache import CachedCompletion, TeacherCache, cache_key
from ioa.teacher.client import ChatTeacher, build_chat_model
from ioa.teacher.ledger import teacher_summary
from ioa.traces import Tracer, read_traces

MESSAGES = [("system", "Answer."), ("human", "What is 2 + 2?")]


def test_key_ignores_the_draw_only_when_greedy():
    greedy, sampled = {"temperature": 0.0, "max_tokens": 8}, {"temperature": 0.7, "max_tokens": 8}
    assert cache_key("m", MESSAGES, greedy, "0/identify/p//0/0") == cache_key("m", MESSAGES, greedy, "other")
    assert cache_key("m", MESSAGES, sampled, "1/teach/p//0/0") != cache_key("m", MESSAGES, sampled, "1/teach/p//1/0")
    assert cache_key("m", MESSAGES, sampled, "d") == cache_key("m", MESSAGES, dict(reversed(sampled.items())), "d")
    assert cache_key("m", MESSAGES, greedy, "d") != cache_key("m2", MESSAGES, greedy, "d")
    assert cache_key("m", MESSAGES, greedy, "d") != cache_key("m", MESSAGES, {**greedy, "max_tokens": 9}, "d")


def make_teacher(url, tmp_path, cache, name="traces.jsonl", **cfg) -> ChatTeacher:
    config = TeacherConfig(model="fake", **{"max_concurrency": 2, **cfg})
    return ChatTeacher(build_chat_model(config, url, None), config, Tracer(tmp_path / name), cache)


def test_a_repeated_run_is_served_from_the_cache_and_draws_stay_distinct(tmp_path):
    same = [{"question": "What is 2 + 2?"}] * 3
    cache = TeacherCache(tmp_path / "shared" / "cache.sqlite")
    with FakeOpenAIServer() as server:
        first = make_teacher(server.url, tmp_path, cache, "a.jsonl")
        first.run("answer_probe", same, round=1, node="teach", temperature=0.7)
        assert server.requests == 3  # three intended draws, not one
        # A new process (e.g. `ioa resume`) asking from the same run position pays nothing.
        again = make_teacher(server.url, tmp_path, TeacherCache(cache.path), "b.jsonl")
        preds = again.run("answer_probe", same, round=1, node="teach", temperature=0.7)
        assert server.requests == 3 and again.stats.cache_hits == 3 and again.stats.calls == 0
        assert all(p.answer == "answer: 42" for p in preds)  # a bare probe keeps the whole reply
        # Another teach attempt in the same round is a new draw.
        again.run("answer_probe", same, round=1, node="teach", temperature=0.7, draw="attempt1")
        assert server.requests == 6
        # Greedy answers are deterministic: one request serves every repeat of the question.
        greedy = make_teacher(server.url, tmp_path, cache, "c.jsonl", max_concurrency=1)
        greedy.run("answer_probe", same, round=0, node="identify", temperature=0.0)
        assert server.requests == 7 and greedy.stats.cache_hits == 2
    summary = teacher_summary(read_traces(tmp_path / "b.jsonl"), again.cfg)
    assert summary["cache_hits"] == 3 and summary["calls"] == 3 and summary["prompt_tokens"] == 30


def test_failures_and_empty_completions_are_not_cached(tmp_path):
    replies = iter(["", "answer: 5"])
    cache = TeacherCache(tmp_path / "cache.sqlite")
    with FakeOpenAIServer(lambda messages: next(replies)) as server:
        teacher = make_teacher(server.url, tmp_path, cache, max_retries=1, retry_backoff_s=0.01)
        [pred] = teacher.run("answer_probe", [{"question": "2 + 3?"}], round=0, node="identify", temperature=0.0)
    assert pred.answer == "answer: 5" and server.requests == 2 and len(cache) == 1


def test_cache_is_safe_across_processes(tmp_path):
    path = tmp_path / "cache.sqlite"
    TeacherCache(path)
    script = textwrap.dedent(
        f"""
        import sys
        from ioa.teacher.cache import CachedCompletion, TeacherCache
        cache = TeacherCache({str(path)!r})
        for i in range(150):
            cache.put(f"{{sys.argv[1]}}-{{i}}", "m", CachedCompletion("x", 1, 1))
            cache.put(f"both-{{i}}", "m", CachedCompletion(sys.argv[1], 1, 1))
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, tag]) for tag in ("a", "b")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    cache = TeacherCache(path)
    assert len(cache) == 450
    assert cache.get("a-149") == CachedCompletion("x", 1, 1) and cache.get("both-7").text in {"a", "b"}


def test_summary_accounts_per_round_and_agent_with_cost(tmp_path):
    cache = TeacherCache(tmp_path / "cache.sqlite")
    prices = {"price_per_1k_prompt": 0.5, "price_per_1k_completion": 2.0}
    with FakeOpenAIServer() as server:
        teacher = make_teacher(server.url, tmp_path, cache, **prices)
        teacher.run("answer_probe", [{"question": "1 + 1?"}] * 2, round=0, node="identify", temperature=0.0)
        teacher.run("answer_probe", [{"question": "3 + 1?"}], round=2, node="teach", temperature=0.7)
    summary = teacher_summary(read_traces(tmp_path / "traces.jsonl"), teacher.cfg)
    assert summary["calls"] == 2 and summary["cache_hits"] == 1  # the fake: 10 prompt + 3 completion tokens
    assert summary["by_round"]["0"] == {
        "calls": 1,
        "prompt_tokens": 10,
        "completion_tokens": 3,
        "cache_hits": 1,
        "cost_usd": 0.011,
    }
    assert summary["by_agent"]["diagnostician"]["calls"] == 1 and summary["by_agent"]["teacher"]["calls"] == 1
    assert summary["cost_usd"] == round(20 / 1000 * 0.5 + 6 / 1000 * 2.0, 6)
    assert "cost_usd" not in teacher_summary([], TeacherConfig())
