"""The embedded teacher: one-time atomic conversion of the bundled GGUF, and the real server."""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.request
from pathlib import Path

import pytest

import ioa.teacher.local_server as lt
from ioa.errors import RuntimeFailure
from ioa.teacher.local_server import MARKER, LocalTeacherServer, ensure_teacher_folder, teacher_folder_name


@pytest.fixture(scope="session")
def teacher_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the real conversion (about 20 s) happens once per session; IOA_CACHE_DIR reuses one across sessions."""
    env = os.environ.get("IOA_CACHE_DIR")
    return Path(env) if env else tmp_path_factory.mktemp("ioa-cache")


@pytest.fixture(scope="session")
def teacher_folder(teacher_cache: Path) -> Path:
    return ensure_teacher_folder(teacher_cache)


def _fake_convert(calls: list[str], delay_s: float = 0.0):
    def convert(gguf: Path, out_dir: Path) -> None:
        calls.append(out_dir.name)
        time.sleep(delay_s)
        (out_dir / "config.json").write_text("{}")

    return convert


@pytest.mark.integration  # the real conversion of the bundled teacher
def test_real_conversion_is_complete_and_idempotent(teacher_cache: Path, teacher_folder: Path) -> None:
    assert teacher_folder == teacher_cache / teacher_folder_name()
    assert (teacher_folder / MARKER).is_file()
    config = json.loads((teacher_folder / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"]  # `transformers serve` needs it
    assert "quantization_config" not in config
    assert (teacher_folder / "model.safetensors").is_file() and (teacher_folder / "tokenizer.json").is_file()
    assert not list(teacher_cache.glob(".*.tmp-*"))

    weights_mtime = (teacher_folder / "model.safetensors").stat().st_mtime_ns
    started = time.monotonic()
    assert ensure_teacher_folder(teacher_cache) == teacher_folder
    assert time.monotonic() - started < 1.0
    assert (teacher_folder / "model.safetensors").stat().st_mtime_ns == weights_mtime


def test_failed_conversion_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(gguf: Path, out_dir: Path) -> None:
        (out_dir / "half-written").write_text("x")
        raise KeyboardInterrupt  # as if the user stopped it midway

    monkeypatch.setattr(lt, "_convert", broken)
    with pytest.raises(KeyboardInterrupt):
        ensure_teacher_folder(tmp_path)
    assert not (tmp_path / teacher_folder_name()).exists()
    assert not list(tmp_path.glob(".*.tmp-*"))


def test_conversion_error_is_a_runtime_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(gguf: Path, out_dir: Path) -> None:
        raise ValueError("unsupported tensor type")

    monkeypatch.setattr(lt, "_convert", broken)
    with pytest.raises(RuntimeFailure, match="converting the bundled teacher failed: unsupported tensor type"):
        ensure_teacher_folder(tmp_path)
    assert not list(tmp_path.glob(".*.tmp-*"))


def test_leftovers_of_a_killed_conversion_are_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(lt, "_convert", _fake_convert(calls))
    stale_tmp = tmp_path / f".{teacher_folder_name()}.tmp-dead"
    stale_tmp.mkdir()
    unmarked = tmp_path / teacher_folder_name()
    unmarked.mkdir()
    (unmarked / "junk").write_text("x")

    folder = ensure_teacher_folder(tmp_path)
    assert calls and (folder / MARKER).is_file()
    assert not (folder / "junk").exists() and not stale_tmp.exists()


def test_concurrent_callers_convert_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(lt, "_convert", _fake_convert(calls, delay_s=0.5))
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(ensure_teacher_folder(tmp_path))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert len(set(results)) == 1 and len(results) == 3


def test_server_refuses_an_unconverted_folder(tmp_path: Path) -> None:
    with pytest.raises(RuntimeFailure, match="missing or incomplete"):
        LocalTeacherServer(tmp_path).start()


@pytest.mark.integration
def test_server_that_dies_reports_its_log(tmp_path: Path) -> None:
    (tmp_path / MARKER).write_text("{}")  # looks converted, holds no model
    log = tmp_path / "serve.log"
    server = LocalTeacherServer(tmp_path, log_path=log, timeout_s=120)
    with pytest.raises(RuntimeFailure, match="teacher server exited"):
        server.start()
    assert not server.running and log.read_text()


@pytest.mark.integration
def test_real_server_answers_chat_completions(teacher_folder: Path, tmp_path: Path) -> None:
    from langchain_openai import ChatOpenAI

    with LocalTeacherServer(teacher_folder, log_path=tmp_path / "serve.log") as server:
        assert server.base_url.startswith("http://127.0.0.1:") and server.base_url.endswith("/v1")
        body = {
            "model": server.model_name,
            "messages": [{"role": "user", "content": "What is 2+3?"}],
            "max_tokens": 16,
            "temperature": 0,
        }
        request = urllib.request.Request(
            f"{server.base_url}/chat/completions",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=120) as resp:
            reply = json.loads(resp.read())
        assert "5" in reply["choices"][0]["message"]["content"]
        assert 0 < reply["usage"]["completion_tokens"] <= 16

        # ChatOpenAI sends max_tokens as max_completion_tokens; the server must honour it.
        chat = ChatOpenAI(base_url=server.base_url, model=server.model_name, api_key="x", temperature=0, max_tokens=5)
        message = chat.invoke("Write a long story about a cat.")
        assert message.content
        assert message.usage_metadata is not None
        assert message.usage_metadata["input_tokens"] > 0
        assert message.usage_metadata["output_tokens"] == 5
        assert message.response_metadata["finish_reason"] == "length"
        proc = server._proc
    assert proc is not None and proc.poll() is not None and not server.running


@pytest.mark.integration
def test_continuous_batching_decodes_greedily_at_temperature_0_and_samples_above(
    teacher_folder: Path, tmp_path: Path
) -> None:
    """Probes are asked at temperature 0 and must be deterministic; synthesis requests sample, or one request's
    draws all return the same exercises. Both go through the batching engine side by side."""
    from concurrent.futures import ThreadPoolExecutor

    with LocalTeacherServer(
        teacher_folder, log_path=tmp_path / "serve.log", continuous_batching=True, concurrency=8
    ) as server:

        def ask(temperature: float) -> str:
            body = {
                "model": server.model_name,
                "messages": [{"role": "user", "content": "Name three animals and say one thing about each."}],
                "max_tokens": 24,
                "temperature": temperature,
            }
            request = urllib.request.Request(
                f"{server.base_url}/chat/completions",
                data=json.dumps(body).encode(),
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=300) as resp:
                return json.loads(resp.read())["choices"][0]["message"]["content"]

        with ThreadPoolExecutor(8) as pool:
            greedy = list(pool.map(ask, [0.0] * 4))
            sampled = list(pool.map(ask, [0.9] * 4))
    assert len(set(greedy)) == 1
    assert len(set(sampled)) > 1
    # The model runs in a process transformers spawns; it too attends per request (ioa.teacher.serve_main).
    assert "[ioa] model: SDPA per packed request" in (tmp_path / "serve.log").read_text()
