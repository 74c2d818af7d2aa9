"""Teacher throughput: requests/s through ioa's own teacher client (``ChatTeacher`` and its DSPy engine) at several
concurrencies, against one of two servers.

``--server latency`` (the client's own ceiling): a local server that answers every request after a fixed
``--delay``, any number in parallel, so a perfect client reaches ``concurrency / delay`` requests/s. The ratio
printed is measured / perfect; ioa's client should stay at or above 0.8 up to concurrency 32.

``--server embedded``: the embedded teacher (``transformers serve`` of SmolLM2-135M-Instruct, ``--threads`` torch
threads), with and without ``--continuous-batching``, in each ``--dtypes``; the ratio is requests/s at each
concurrency over requests/s at concurrency 1 on the same server. With two dtypes it also prints, per concurrency,
the second's completion tokens/s over the first's (bf16 against fp32 by default).

The response cache is on (a fresh file, so every request misses and is stored, as in a run); retries are as
configured by default, so a dropped connection is retried as it would be in a run and shows in the ``retries``
column. Results go to stdout as a table.

    python benchmarks/teacher_throughput.py --server latency --delay 1 --concurrency 1,8,16,32
    python benchmarks/teacher_throughput.py --server embedded --concurrency 4,8,16 --requests 32 --max-tokens 64
    python benchmarks/teacher_throughput.py --server embedded --batching on --concurrency 16 --requests 32 \
        --max-tokens 96 --context 36
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import product
from pathlib import Path
from typing import Any

from ioa.config import TeacherConfig
from ioa.teacher.cache import TeacherCache
from ioa.teacher.client import ChatTeacher, build_chat_model
from ioa.traces import Tracer, read_traces

FLOOR = 0.8
"""The least share of a perfect client's requests/s that ioa's client must reach against the latency server."""


class _LatencyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        time.sleep(self.server.delay_s)
        body = json.dumps(
            {
                "id": "chatcmpl-latency",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": request.get("model", "latency"),
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": "answer: 42"}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13},
            }
        ).encode()
        # Head and body in one write: two small writes meet the client's delayed ACK and add 40 ms to every request,
        # which would be the server's latency, not the client's.
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        self.wfile.write(head.encode() + body)


class _LatencyServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # the default backlog of 5 would make a burst of connections wait for SYN retries

    def __init__(self, delay_s: float) -> None:
        super().__init__(("127.0.0.1", 0), _LatencyHandler)
        self.delay_s = delay_s


@contextmanager
def latency_server(delay_s: float) -> Iterator[tuple[str, str]]:
    """(base_url, model) of a server that answers each request after ``delay_s``, in a thread of its own."""
    server = _LatencyServer(delay_s)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", "latency"
    finally:
        server.shutdown()
        server.server_close()


def measure(url: str, model: str, concurrency: int, requests: int, max_tokens: int, context: int = 0) -> dict[str, Any]:
    """Requests/s and completion tokens/s for ``requests`` distinct questions, ``concurrency`` at a time, each after
    ``context`` sentences of lesson text (a synthesis request's prompt is 450-620 tokens, a probe's about 40)."""
    work = Path(tempfile.mkdtemp(prefix="ioa-bench-"))
    cfg = TeacherConfig(model=model, base_url=url, max_concurrency=concurrency, timeout_s=600)
    teacher = ChatTeacher(
        build_chat_model(cfg, url, None), cfg, Tracer(work / "traces.jsonl"), TeacherCache(work / "c")
    )
    lesson = "Most nouns take -s in the plural: one cat, two cats. " * context
    questions = [{"question": f"{lesson}What is {17 + i} + {26 + 3 * i}? Explain briefly."} for i in range(requests)]
    teacher.run("answer_probe", [{"question": "warm-up"}], round=0, node="warmup", temperature=0.0, max_tokens=8)
    before = teacher.snapshot()
    start = time.perf_counter()
    out = teacher.run("answer_probe", questions, round=0, node="bench", temperature=0.0, max_tokens=max_tokens)
    seconds = time.perf_counter() - start
    after = teacher.snapshot()
    errors = [e["error"] for e in read_traces(work / "traces.jsonl") if e.get("error")]
    return {
        "concurrency": concurrency,
        "requests": requests,
        "ok": sum(p is not None for p in out),
        "retries": after["retries"] - before["retries"],
        "first_error": errors[0] if errors else None,
        "seconds": round(seconds, 2),
        "requests_per_s": round(requests / seconds, 3),
        "completion_tokens_per_s": round((after["completion_tokens"] - before["completion_tokens"]) / seconds, 1),
    }


def bench_latency(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Each concurrency against the latency server: two waves of requests, ratio to ``concurrency / delay``."""
    rows = []
    with latency_server(args.delay) as (url, model):
        for c in args.concurrency:
            row = measure(url, model, c, args.requests or 2 * c, args.max_tokens, args.context)
            row["ratio"] = round(row["requests_per_s"] / (c / args.delay), 2)
            rows.append({"server": f"latency {args.delay:g} s", **row})
    return rows


def bench_embedded(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Concurrency 1 and each listed one on the embedded server, without and with continuous batching, per dtype."""
    from ioa.teacher.local_server import LocalTeacherServer, ensure_teacher_folder

    folder = ensure_teacher_folder()
    rows: list[dict[str, Any]] = []
    for dtype, batching in product(args.dtypes, {"both": (False, True), "off": (False,), "on": (True,)}[args.batching]):
        name = ("continuous batching" if batching else "default") + f", {args.threads} threads"
        log = Path(tempfile.mkstemp(prefix="ioa-bench-teacher-", suffix=".log")[1])
        server = LocalTeacherServer(
            folder, log_path=log, continuous_batching=batching, threads=args.threads, dtype=dtype
        )
        try:
            with server as srv:
                url, model = srv.base_url, srv.model_name
                one = measure(url, model, 1, args.requests or 8, args.max_tokens, args.context)
                rows.append({"server": name, "dtype": dtype, **one, "ratio": 1.0})
                for c in [c for c in args.concurrency if c != 1]:
                    many = measure(url, model, c, args.requests or 2 * c, args.max_tokens, args.context)
                    rows.append(
                        {
                            "server": name,
                            "dtype": dtype,
                            **many,
                            "ratio": round(many["requests_per_s"] / one["requests_per_s"], 2),
                        }
                    )
        except Exception as exc:  # noqa: BLE001 - a mode that does not work is a result too
            rows.append({"server": name, "dtype": dtype, "error": f"{type(exc).__name__}: {exc} (log {log})"})
    return rows


def dtype_ratios(rows: list[dict[str, Any]], dtypes: list[str]) -> list[str]:
    """Per server mode and concurrency, completion tokens/s in ``dtypes[1]`` over ``dtypes[0]``."""
    if len(dtypes) != 2:
        return []
    base, other = dtypes
    measured = [r for r in rows if "error" not in r]
    tok_s = {(r["server"], r["concurrency"], r["dtype"]): r["completion_tokens_per_s"] for r in measured}
    return [
        f"{server}, concurrency {conc}: {other}/{base} {tok_s[server, conc, other] / rate:.2f}"
        for (server, conc, dtype), rate in tok_s.items()
        if dtype == base and (server, conc, other) in tok_s
    ]


def print_table(rows: list[dict[str, Any]]) -> None:
    print(f"cpu cores: {os.cpu_count()}, load average at end: {os.getloadavg()[0]:.1f}")
    print(
        f"{'server':<34}{'dtype':<10}{'conc':>5}{'reqs':>6}{'ok':>5}{'retries':>8}{'s':>8}{'req/s':>9}{'tok/s':>8}"
        f"{'ratio':>7}"
    )
    for row in rows:
        head = f"{row['server']:<34}{row.get('dtype', '-'):<10}"  # the latency server has no dtype
        if "error" in row:
            print(f"{head} failed: {row['error']}")
            continue
        print(
            f"{head}{row['concurrency']:>5}{row['requests']:>6}{row['ok']:>5}{row['retries']:>8}"
            f"{row['seconds']:>8}{row['requests_per_s']:>9}{row['completion_tokens_per_s']:>8}{row['ratio']:>7}"
        )
        if row["first_error"]:
            print(f"{'':<44}first error: {row['first_error']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", choices=["latency", "embedded"], default="latency", help="which server to load")
    parser.add_argument(
        "--concurrency", type=lambda s: [int(c) for c in s.split(",")], default=[1, 2, 4, 8, 16, 32], help="e.g. 1,8,32"
    )
    parser.add_argument("--requests", type=int, default=0, help="requests per measurement (0: twice the concurrency)")
    parser.add_argument("--delay", type=float, default=1.0, help="latency server: seconds per request")
    parser.add_argument("--max-tokens", type=int, default=24, help="completion cap per request")
    parser.add_argument(
        "--context", type=int, default=0, help="sentences of lesson text before each question (36: a synthesis prompt)"
    )
    parser.add_argument("--threads", type=int, default=TeacherConfig().serve_threads, help="embedded: torch threads")
    parser.add_argument(
        "--batching", choices=["both", "off", "on"], default="both", help="embedded: continuous batching"
    )
    parser.add_argument(
        "--dtypes", type=lambda s: s.split(","), default=["float32", "bfloat16"], help="embedded: e.g. float32"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    rows = bench_latency(args) if args.server == "latency" else bench_embedded(args)
    print_table(rows)
    for line in dtype_ratios(rows, args.dtypes) if args.server == "embedded" else []:
        print(line)
    if args.server == "latency":
        worst = min(row["ratio"] for row in rows)
        print(f"lowest ratio {worst} (floor {FLOOR}): {'ok' if worst >= FLOOR else 'BELOW THE FLOOR'}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
