"""A short real run through a fault-injecting proxy in front of the real local teacher server.

At a 30% fault rate the run completes, every fault is counted in traces.jsonl and summary.json,
and a fake API key planted in the environment appears in no file of the run and in no log.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import pytest
from fault_proxy import FaultProxy
from test_graph_integration import SMALL

from ioa.teacher.local_server import LocalTeacherServer, ensure_teacher_folder
from ioa.traces import read_traces

pytestmark = pytest.mark.integration

SECRET = f"sk-ioa-test-{uuid.uuid4().hex}"
KEY_ENV = "IOA_TEST_TEACHER_KEY"
# Generous: on a loaded 2-core machine a timed-out request keeps the server busy after the client
# gave up, so a short timeout snowballs into a queue of abandoned generations. Each stall costs this long.
TIMEOUT_S = 60


@pytest.fixture(scope="module")
def faulty_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("faults")
    run_dir, server_log = tmp / "run", tmp / "teacher_server.log"
    repo = str(Path(__file__).resolve().parents[1])
    env = {
        **os.environ,
        KEY_ENV: SECRET,
        "PYTHONPATH": os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")])),
    }
    with (
        LocalTeacherServer(ensure_teacher_folder(), log_path=server_log) as server,
        FaultProxy(server.base_url, rate=0.3, stall_s=TIMEOUT_S + 2, seed=7) as proxy,
    ):
        settings = [
            *SMALL,
            f"teacher.base_url={proxy.url}",
            f"teacher.model={server.model_name}",
            f"teacher.api_key_env={KEY_ENV}",
            f"teacher.timeout_s={TIMEOUT_S}",
            "teacher.max_retries=4",
            "teacher.retry_backoff_s=0.5",
            "teacher.retry_max_backoff_s=4",
            "teacher.max_tokens=40",
            "lengths.teacher_answer=16",
            "domain.probes_per_module=2",
            "budget.max_rounds=1",
            "teacher.price_per_1k_prompt=0.001",
            "teacher.price_per_1k_completion=0.002",
        ]
        cmd = [sys.executable, "-m", "ioa", "run", "--quiet", "--run-dir", str(run_dir)]
        for item in settings:
            cmd += ["--set", item]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3000)
    return run_dir, out, proxy, server_log


def test_the_run_completes_at_a_thirty_percent_fault_rate(faulty_run):
    run_dir, out, proxy, _ = faulty_run
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["teacher"]["calls"] > 0
    # Completed either way: exit 3 says that the faults left the round nothing to train on.
    assert out.returncode == (0 if summary["taught"] else 3), out.stderr
    assert sum(proxy.injected.values()) >= 10 and proxy.forwarded > 0
    assert summary["teacher"]["cost_usd"] > 0


def test_every_fault_is_counted_in_traces_and_summary(faulty_run):
    run_dir, _, proxy, _ = faulty_run
    events = [e for e in read_traces(run_dir / "traces.jsonl") if e["agent"] == "teacher" and "item" in e]
    traced: Counter[str] = Counter()
    for e in events:
        traced.update(e["faults"])
    # Each injected fault is seen by exactly one attempt; a slow real answer may add a timeout of its own.
    injected = proxy.client_kinds()
    assert all(traced[kind] >= n for kind, n in injected.items()), (traced, injected)
    teacher = json.loads((run_dir / "summary.json").read_text())["teacher"]
    assert teacher["faults"] == dict(traced)
    assert teacher["retries"] == sum(e["retries"] for e in events) > 0
    failed = [e for e in events if e["kind"] == "request_failed"]
    assert teacher["failed_requests"] == len(failed)
    assert teacher["failed_items_count"] == len(teacher["failed_items"]) <= len(failed)
    assert set(teacher["by_round"]) >= {"0", "1"} and {"diagnostician", "teacher"} <= set(teacher["by_agent"])


def test_the_api_key_is_in_no_file_and_no_log(faulty_run):
    run_dir, out, proxy, server_log = faulty_run
    assert f"Bearer {SECRET}" in proxy.authorization  # the key really was used
    files = [p for p in run_dir.rglob("*") if p.is_file()] + [server_log]
    assert len(files) > 10
    hits = [str(p) for p in files if SECRET.encode() in p.read_bytes()]
    assert hits == []
    assert SECRET not in out.stdout and SECRET not in out.stderr
    assert KEY_ENV in (run_dir / "config.yaml").read_text()  # the variable's name is what is kept
