"""Teacher throughput: requests/s at concurrency 1 against ``--concurrency N``, on the embedded teacher.

It starts the local teacher server (``transformers serve`` of SmolLM2-135M-Instruct) twice, without
and with ``--continuous-batching``, and sends the same distinct probe questions through ioa's own
teacher client (cache off, so every request reaches the server). Results go to stdout as a table.

    python benchmarks/teacher_throughput.py --requests 8 --concurrency 2 --max-tokens 24
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from ioa.config import TeacherConfig
from ioa.teacher.client import ChatTeacher, build_chat_model
from ioa.teacher.local_server import LocalTeacherServer, ensure_teacher_folder
from ioa.traces import Tracer, read_traces


def measure(url: str, model: str, concurrency: int, requests: int, max_tokens: int) -> dict[str, float]:
    """Requests/s and completion tokens/s for ``requests`` distinct questions, ``concurrency`` at a time."""
    cfg = TeacherConfig(model=model, max_concurrency=concurrency, timeout_s=600, max_retries=0, cache=False)
    traces = Path(tempfile.mkdtemp(prefix="ioa-bench-")) / "traces.jsonl"
    teacher = ChatTeacher(build_chat_model(cfg, url, None), cfg, Tracer(traces))
    questions = [{"question": f"What is {17 + i} + {26 + 3 * i}? Explain briefly."} for i in range(requests)]
    teacher.run("answer_probe", questions[:1], round=0, node="warmup", temperature=0.0, max_tokens=max_tokens)
    before = teacher.snapshot()
    start = time.perf_counter()
    out = teacher.run("answer_probe", questions, round=0, node="bench", temperature=0.0, max_tokens=max_tokens)
    seconds = time.perf_counter() - start
    after = teacher.snapshot()
    tokens = after["completion_tokens"] - before["completion_tokens"]
    errors = [e["error"] for e in read_traces(traces) if e.get("error")]
    return {
        "first_error": errors[0] if errors else None,
        "concurrency": concurrency,
        "requests": requests,
        "ok": sum(p is not None for p in out),
        "seconds": round(seconds, 2),
        "requests_per_s": round(requests / seconds, 3),
        "completion_tokens_per_s": round(tokens / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=8, help="requests per measurement")
    parser.add_argument("--concurrency", type=int, default=TeacherConfig().max_concurrency, help="the N to compare")
    parser.add_argument("--max-tokens", type=int, default=24, help="completion cap per request")
    parser.add_argument("--batching", choices=["both", "off", "on"], default="both", help="continuous batching")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    folder = ensure_teacher_folder()
    results = []
    for batching in {"both": (False, True), "off": (False,), "on": (True,)}[args.batching]:
        log = Path(tempfile.mkstemp(prefix="ioa-bench-teacher-", suffix=".log")[1])
        row: dict[str, object] = {"continuous_batching": batching}
        try:
            with LocalTeacherServer(folder, log_path=log, continuous_batching=batching) as server:
                one = measure(server.base_url, server.model_name, 1, args.requests, args.max_tokens)
                many = measure(server.base_url, server.model_name, args.concurrency, args.requests, args.max_tokens)
            row |= {"c1": one, "cN": many, "ratio": round(many["requests_per_s"] / one["requests_per_s"], 2)}
            if one["ok"] < args.requests or many["ok"] < args.requests:  # failed requests are fast, not throughput
                row["error"] = f"requests failed: {one['first_error'] or many['first_error']}"
        except Exception as exc:  # noqa: BLE001 - a mode that does not work is a result too
            row["error"] = f"{type(exc).__name__}: {exc}"
        results.append(row)

    print(f"cpu cores: {os.cpu_count()}, load average at end: {os.getloadavg()[0]:.1f}")
    print(f"{'server':<24}{'conc':>5}{'req/s':>9}{'tok/s':>8}{'ok':>5}{'ratio':>7}")
    for row in results:
        name = "continuous batching" if row["continuous_batching"] else "default"
        if "error" in row:
            print(f"{name:<24} failed: {row['error']}")
            continue
        for key in ("c1", "cN"):
            m = row[key]
            ratio = f"{row['ratio']:>7}" if key == "cN" else ""
            print(
                f"{name:<24}{m['concurrency']:>5}{m['requests_per_s']:>9}{m['completion_tokens_per_s']:>8}"
                f"{m['ok']:>5}{ratio}"
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
