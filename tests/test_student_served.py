"""Probes answered through an OpenAI-compatible endpoint: a stdlib fake server records what the client sends."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ioa.config import StudentConfig
from ioa.errors import RuntimeFailure, UsageError
from ioa.student_train.served import StudentEndpoint
from ioa.teacher.prompt_format import probe_messages


class FakeOpenAI(ThreadingHTTPServer):
    """Answers chat completions 'What is a+b?' with the sum, slowly enough to see concurrency."""

    def __init__(self, status: int = 200) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.status = status
        self.requests: list[dict] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _Handler(BaseHTTPRequestHandler):
    server: FakeOpenAI

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 - the http.server hook name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        srv = self.server
        with srv.lock:
            srv.requests.append(body)
            srv.in_flight += 1
            srv.max_in_flight = max(srv.max_in_flight, srv.in_flight)
        time.sleep(0.05)
        with srv.lock:
            srv.in_flight -= 1
        if srv.status != 200:
            payload = {"error": {"message": "no such model", "type": "invalid_request_error"}}
        else:
            a, b = map(int, re.findall(r"\d+", body["messages"][-1]["content"])[:2])
            payload = {
                "id": "x",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": f" {a + b}\n"}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
            }
        data = json.dumps(payload).encode()
        self.send_response(srv.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _serve(status: int = 200) -> Iterator[FakeOpenAI]:
    server = FakeOpenAI(status)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    yield from _serve()


@pytest.fixture
def failing() -> Iterator[FakeOpenAI]:
    yield from _serve(400)


QUESTIONS = [f"What is {a}+{b}?" for a in range(3) for b in range(3)]


def test_answers_come_back_in_order_greedy_capped_and_concurrent(fake: FakeOpenAI, tmp_path: Path) -> None:
    cfg = StudentConfig(model="/models/base", eval_base_url=fake.base_url, eval_batch_size=4)
    endpoint = StudentEndpoint(cfg)
    done: list[int] = []
    answers = endpoint.answer(QUESTIONS, tmp_path / "round_2", max_tokens=7, progress=done.append)

    assert answers == [str(a + b) for a in range(3) for b in range(3)]
    assert done == [4, 4, 1]
    assert 1 < fake.max_in_flight <= 4
    for body in fake.requests:
        assert body["model"] == str((tmp_path / "round_2").resolve())  # '{checkpoint}': this round's student
        assert body["temperature"] == 0 and body["max_completion_tokens"] == 7
        question = body["messages"][-1]["content"]
        assert body["messages"] == probe_messages(question)  # the turns the teacher and the in-process student get


def test_initial_student_is_asked_by_its_base_name(fake: FakeOpenAI) -> None:
    cfg = StudentConfig(model="org/base-model", eval_base_url=fake.base_url)
    assert StudentEndpoint(cfg).answer(QUESTIONS[:1], None, max_tokens=4) == ["0"]
    assert fake.requests[0]["model"] == "org/base-model"
    fixed = StudentConfig(eval_base_url=fake.base_url, eval_model="my-lora")  # a fixed served name works for tiny
    StudentEndpoint(fixed).answer(QUESTIONS[:1], None, max_tokens=4)
    assert fake.requests[-1]["model"] == "my-lora"


def test_the_bundled_student_is_asked_by_its_local_folder_not_its_alias() -> None:
    from ioa.teacher.local_server import ensure_teacher_folder

    endpoint = StudentEndpoint(StudentConfig(model="bundled", eval_base_url="http://127.0.0.1:1/v1"))
    assert endpoint.model_name(None) == str(ensure_teacher_folder())


def test_endpoint_errors_are_one_line_runtime_failures(failing: FakeOpenAI) -> None:
    endpoint = StudentEndpoint(StudentConfig(model="/m", eval_base_url=failing.base_url))
    with pytest.raises(RuntimeFailure, match="student endpoint .* failed: .*400"):
        endpoint.answer(QUESTIONS[:2], None, max_tokens=12)


def test_tiny_student_cannot_be_served_by_path() -> None:
    with pytest.raises(UsageError, match="needs a pretrained student"):
        StudentEndpoint(StudentConfig(eval_base_url="http://127.0.0.1:1/v1"))
