"""Test helpers: a fault-injecting HTTP proxy and a trivial OpenAI-compatible server (stdlib only).

``FaultProxy`` sits between ``ioa`` and a real endpoint. On a chat-completion request it either
forwards it or injects one fault: 429 with ``Retry-After``, 500, 503, a connection reset, a stall
past the client's timeout, a truncated or an invalid JSON body, or an empty completion. It
counts what it injected, so a test can compare with what the client recorded.
"""

from __future__ import annotations

import http.client
import json
import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

FAULTS = (
    "rate_limited",
    "server_error_500",
    "server_error_503",
    "reset",
    "stall",
    "truncated",
    "invalid_json",
    "empty",
)

# The fault kind (ioa.teacher.retries.FAULT_KINDS) the client should record for each injected fault.
CLIENT_KIND = {
    "rate_limited": "rate_limited",
    "server_error_500": "server_error",
    "server_error_503": "server_error",
    "reset": "connection",
    "stall": "timeout",
    "truncated": "bad_response",
    "invalid_json": "bad_response",
    "empty": "empty_completion",
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def log_message(self, *args: Any) -> None:
        pass

    def finish(self) -> None:
        try:
            super().finish()
        except (OSError, ValueError):
            pass  # the fault closed the socket on purpose

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send(
        self, status: int, body: bytes, headers: dict[str, str] | None = None, content_type: str = "application/json"
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def _send_paced(self, events: list[bytes], pace: float) -> None:
        """An event stream written one event at a time, ``pace`` seconds apart, as a server decodes it."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(sum(map(len, events))))
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            for event in events:
                self.wfile.write(event)
                self.wfile.flush()
                time.sleep(pace)
        except OSError:
            pass  # the client stopped reading: it closed the connection
        self.close_connection = True


class FakeOpenAIServer:
    """Answers every chat completion with ``reply(messages)``; counts and times the requests.

    ``models`` are listed at ``GET /v1/models``; without them that route is missing, as on a server that keeps no
    list (the run's preflight then checks only that the server answers). ``cut`` stops a reply at the request's
    ``max_tokens``, counting words as tokens, with finish reason "length". A request with ``stream: true`` gets its
    reply as an event stream (``stream_events``), a word every ``pace(messages)`` seconds (at once by default).
    """

    def __init__(
        self,
        reply: Callable[[list[dict[str, Any]]], str] = lambda messages: "answer: 42",
        models: tuple[str, ...] | None = None,
        cut: bool = False,
        pace: Callable[[list[dict[str, Any]]], float] = lambda messages: 0.0,
    ) -> None:
        self.reply = reply
        self.pace = pace
        self.models = models
        self.cut = cut
        self.request_times: list[float] = []
        self.bodies: list[dict[str, Any]] = []
        outer = self

        class Handler(_Handler):
            def do_GET(self) -> None:
                if outer.models is None or not self.path.endswith("/models"):
                    self._send(404, json.dumps({"error": {"message": f"no route {self.path}"}}).encode())
                    return
                listing = {"object": "list", "data": [{"id": m, "object": "model"} for m in outer.models]}
                self._send(200, json.dumps(listing).encode())

            def do_POST(self) -> None:
                request = json.loads(self._body())
                outer.request_times.append(time.monotonic())
                outer.bodies.append(request)
                text = outer.reply(request["messages"])
                # With ``cut``, a word stands for a token: a reply longer than the request's cap stops there, as a
                # server's does (off by default: scripted replies are written to be read whole).
                cap = request.get("max_completion_tokens") or request.get("max_tokens")
                words = text.split(" ")
                cut = outer.cut and cap is not None and len(words) > cap
                reply = completion(" ".join(words[:cap]) if cut else text, request.get("model", "fake"))
                if cut:
                    reply["choices"][0]["finish_reason"] = "length"
                if request.get("stream"):
                    usage = (request.get("stream_options") or {}).get("include_usage", False)
                    events = stream_events(reply, usage)
                    pace = outer.pace(request["messages"])
                    if pace:
                        self._send_paced(events, pace)
                    else:
                        self._send(200, b"".join(events), content_type="text/event-stream")
                else:
                    self._send(200, json.dumps(reply).encode())

        self._httpd = _Server(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    @property
    def requests(self) -> int:
        return len(self.request_times)

    def __enter__(self) -> FakeOpenAIServer:
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def completion(text: str, model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13},
    }


def stream_events(reply: dict[str, Any], usage: bool) -> list[bytes]:
    """A completion as a server streams it (``stream: true``), an event each: a chunk per word, the finish reason in
    the last one, then the usage when asked for (``stream_options.include_usage``), then ``[DONE]``."""
    choice = reply["choices"][0]
    words = choice["message"]["content"].split(" ")
    pieces = [w if i == 0 else " " + w for i, w in enumerate(words)] if choice["message"]["content"] else []
    base = {"id": reply["id"], "object": "chat.completion.chunk", "created": reply["created"], "model": reply["model"]}
    chunks = [{**base, "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]} for p in pieces]
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}]})
    if usage:
        chunks.append({**base, "choices": [], "usage": reply["usage"]})
    return [b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks] + [b"data: [DONE]\n\n"]


def emptied(data: bytes, streamed: bool) -> bytes:
    """A reply, JSON or event stream, with its text taken out."""
    if not streamed:
        reply = json.loads(data)
        reply["choices"][0]["message"]["content"] = ""
        return json.dumps(reply).encode()
    lines = []
    for line in data.split(b"\n"):
        if line.startswith(b"data: {"):
            chunk = json.loads(line[6:])
            for choice in chunk.get("choices", []):
                choice["delta"].pop("content", None)
            line = b"data: " + json.dumps(chunk).encode()
        lines.append(line)
    return b"\n".join(lines)


class FaultProxy:
    """Forwards to ``upstream`` (a ``.../v1`` URL), injecting faults into chat completions.

    Faults come from ``script`` first (one per request, in order), then at random with
    probability ``rate`` from ``faults``.
    """

    def __init__(
        self,
        upstream: str,
        *,
        rate: float = 0.0,
        faults: tuple[str, ...] = FAULTS,
        script: list[str] | None = None,
        stall_s: float = 2.0,
        retry_after_s: int = 1,
        seed: int = 0,
    ) -> None:
        parts = urlsplit(upstream)
        self.upstream_host, self.upstream_port = parts.hostname or "127.0.0.1", parts.port or 80
        self.rate, self.faults, self.script = rate, faults, list(script or [])
        self.stall_s, self.retry_after_s = stall_s, retry_after_s
        self.injected: Counter[str] = Counter()
        self.forwarded = 0
        self.authorization: set[str] = set()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        outer = self

        class Handler(_Handler):
            def do_GET(self) -> None:
                outer._forward(self, "GET", b"")

            def do_POST(self) -> None:
                body = self._body()
                outer.authorization.add(self.headers.get("Authorization", ""))
                fault = outer._pick() if self.path.endswith("/chat/completions") else None
                if fault is None:
                    outer._forward(self, "POST", body)
                else:
                    outer._inject(self, fault, body)

        self._httpd = _Server(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def client_kinds(self) -> Counter[str]:
        """The injected faults as the kinds the client is expected to count."""
        out: Counter[str] = Counter()
        for fault, n in self.injected.items():
            out[CLIENT_KIND[fault]] += n
        return out

    def _pick(self) -> str | None:
        with self._lock:
            if self.script:
                fault = self.script.pop(0)
            elif self._rng.random() < self.rate:
                fault = self._rng.choice(self.faults)
            else:
                return None
            self.injected[fault] += 1
            return fault

    def _upstream(self, method: str, path: str, body: bytes, headers: Any) -> tuple[int, bytes, str]:
        conn = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=600)
        try:
            keep = {k: v for k, v in headers.items() if k.lower() not in {"host", "connection", "accept-encoding"}}
            conn.request(method, path, body=body or None, headers=keep)
            resp = conn.getresponse()
            return resp.status, resp.read(), resp.getheader("Content-Type", "application/json")
        finally:
            conn.close()

    def _forward(self, handler: _Handler, method: str, body: bytes) -> None:
        status, data, content_type = self._upstream(method, handler.path, body, handler.headers)
        with self._lock:
            self.forwarded += 1
        handler._send(status, data, content_type=content_type)

    def _inject(self, handler: _Handler, fault: str, body: bytes) -> None:
        if fault == "rate_limited":
            error = {"error": {"message": "rate limited by the fault proxy", "type": "rate_limit"}}
            handler._send(429, json.dumps(error).encode(), {"Retry-After": str(self.retry_after_s)})
        elif fault in ("server_error_500", "server_error_503"):
            status = int(fault[-3:])
            handler._send(status, json.dumps({"error": {"message": f"fault proxy {status}"}}).encode())
        elif fault == "reset":
            # SO_LINGER 0: close() sends a TCP RST instead of an orderly FIN.
            handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            handler.connection.close()
            handler.close_connection = True
        elif fault == "stall":
            time.sleep(self.stall_s)
            handler.close_connection = True
        elif fault == "invalid_json":
            handler._send(200, b'{"id": "chatcmpl-broken", "choices": [{"message": <html>oops</html>')
        else:  # truncated, empty: the real answer, damaged
            _, data, content_type = self._upstream("POST", handler.path, body, handler.headers)
            if fault == "truncated":
                handler._send(200, data[: len(data) // 2], content_type=content_type)
            else:
                streamed = content_type.startswith("text/event-stream")
                handler._send(200, emptied(data, streamed), content_type=content_type)

    def __enter__(self) -> FaultProxy:
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def probe_oracle(run_dir: Path, unknown: str = "I am not sure.") -> Callable[[list[dict[str, Any]]], str]:
    """A scripted teacher for ``FakeOpenAIServer`` that knows the reference answer of every probe the run wrote
    (RUN_DIR/data/probes.jsonl); any other question gets ``unknown``."""

    def reply(messages: list[dict[str, Any]]) -> str:
        text = str(messages[-1]["content"])
        probes = run_dir / "data" / "probes.jsonl"
        rows = [json.loads(line) for line in probes.read_text().splitlines()] if probes.exists() else []
        known = [row for row in rows if row["question"] in text]
        return f"answer: {max(known, key=lambda r: len(r['question']))['answer']}" if known else unknown

    return reply
