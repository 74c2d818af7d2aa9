"""Bad input gets one line and writes nothing (issue 34, point 8; docs/errors.md): a student folder without a
tokenizer, a GGUF that does not load, a teacher.base_url that does not answer, and a model name the endpoint does
not serve are refused before the run directory is created (``ioa run``) or touched (``ioa resume``)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from fault_proxy import FakeOpenAIServer

from ioa.config import Config, load_config
from ioa.errors import UsageError
from ioa.rundir import RunDir
from ioa.teacher.endpoint import check_endpoint, served_models


def dead_url() -> str:
    """A local port with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def refused(overrides: list[str], tmp_path: Path) -> UsageError:
    """The error ``ioa.run`` raises for ``overrides``; the run directory it was given must not exist afterwards."""
    from ioa import run

    with pytest.raises(UsageError) as err:
        run(load_config(None, overrides, environ={}), tmp_path / "run", progress=False)
    assert err.value.exit_code == 2
    assert not (tmp_path / "run").exists()
    return err.value


@pytest.fixture
def no_tokenizer(tmp_path, one_thread) -> Path:
    """A model folder as a user might copy it: config and weights, no tokenizer."""
    from student_helpers import tiny_llama

    folder = tmp_path / "no-tokenizer"
    tiny_llama(64).save_pretrained(folder)
    return folder


def test_a_student_folder_without_a_tokenizer_is_refused(no_tokenizer, tmp_path):
    error = refused([f"student.model={no_tokenizer}"], tmp_path)
    assert str(error) == (
        f"student model '{no_tokenizer}' has no tokenizer (no tokenizer.json, tokenizer.model or vocab.json); "
        "save the model's tokenizer into the folder"
    )


def test_a_gguf_that_does_not_load_is_refused_and_an_intact_one_passes(tmp_path):
    from student_helpers import write_tiny_gguf

    from ioa.student_train.model import check_source

    whole = write_tiny_gguf(tmp_path / "whole.gguf")
    check_source(str(whole))
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])  # the magic bytes are there, the tensors not
    error = refused([f"student.model={cut}"], tmp_path)
    assert str(error).startswith(f"student model '{cut}' does not load: ValueError: ")


def test_a_teacher_url_that_does_not_answer_is_refused(tmp_path):
    url = dead_url()
    error = refused([f"teacher.base_url={url}"], tmp_path)
    assert str(error).startswith(f"teacher.base_url {url} does not answer (")
    assert str(error).endswith("); is the server running?")


def test_a_model_the_endpoint_does_not_serve_is_refused(tmp_path):
    with FakeOpenAIServer(models=("Qwen/Qwen2.5-7B-Instruct", "llama-3.1-8b")) as server:
        error = refused([f"teacher.base_url={server.url}", "teacher.model=qwen2.5-7b"], tmp_path)
    assert str(error) == (
        f"teacher.model 'qwen2.5-7b' is not served at {server.url}; "
        "it serves 'Qwen/Qwen2.5-7B-Instruct', 'llama-3.1-8b'"
    )


def test_a_served_model_passes_and_an_endpoint_without_a_list_is_trusted():
    with FakeOpenAIServer(models=("m",)) as listing, FakeOpenAIServer() as silent:
        assert served_models(listing.url, None) == ["m"]
        check_endpoint(Config().teacher.model_copy(update={"base_url": listing.url, "model": "m"}))
        assert served_models(silent.url, None) is None  # 404 on /models: the first real request will tell
        check_endpoint(Config().teacher.model_copy(update={"base_url": silent.url, "model": "anything"}))


def test_an_unset_api_key_variable_is_refused_before_the_run(tmp_path, monkeypatch):
    monkeypatch.delenv("IOA_TEST_NO_SUCH_KEY", raising=False)
    with FakeOpenAIServer(models=("m",)) as server:
        sets = [f"teacher.base_url={server.url}", "teacher.model=m", "teacher.api_key_env=IOA_TEST_NO_SUCH_KEY"]
        error = refused(sets, tmp_path)
    assert str(error) == "environment variable IOA_TEST_NO_SUCH_KEY (teacher.api_key_env) is not set"


def test_resume_refuses_a_dead_endpoint_and_touches_nothing(tmp_path):
    from ioa import resume

    config = load_config(None, [f"teacher.base_url={dead_url()}"], environ={})
    rd = RunDir.create(tmp_path / "run", config.to_yaml())
    before = sorted(p.relative_to(rd.root) for p in rd.root.rglob("*"))
    with pytest.raises(UsageError, match="does not answer"):
        resume(rd.root, progress=False)
    assert sorted(p.relative_to(rd.root) for p in rd.root.rglob("*")) == before


@pytest.mark.integration  # four `ioa` processes, each past its heavy imports
def test_the_cli_says_one_line_and_exits_2(no_tokenizer, tmp_path):
    from student_helpers import write_tiny_gguf

    whole = write_tiny_gguf(tmp_path / "whole.gguf")
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(whole.read_bytes()[:4096])
    with FakeOpenAIServer(models=("served",)) as server:
        cases = [
            [f"student.model={no_tokenizer}"],
            [f"student.model={cut}"],
            [f"teacher.base_url={dead_url()}"],
            [f"teacher.base_url={server.url}", "teacher.model=other"],
        ]
        for sets in cases:
            args = [a for s in sets for a in ("--set", s)]
            out = subprocess.run(
                [sys.executable, "-m", "ioa", "run", "--run-dir", str(tmp_path / "run"), *args],
                capture_output=True,
                text=True,
                timeout=300,
            )
            lines = out.stderr.strip().splitlines()
            assert out.returncode == 2 and len(lines) == 1 and lines[0].startswith("ioa: error: "), out.stderr
            assert not (tmp_path / "run").exists()
