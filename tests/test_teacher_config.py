"""Every teacher setting reaches the part that uses it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ioa.config import TeacherConfig, load_config
from ioa.errors import UsageError
from ioa.graph.runner import teacher_endpoint
from ioa.progress import RunProgress
from ioa.rundir import RunDir
from ioa.teacher import local_server as local_teacher
from ioa.teacher.client import ChatTeacher, build_chat_model


def test_chat_model_gets_endpoint_key_sampling_and_timeout_and_leaves_retries_to_ioa():
    cfg = TeacherConfig(model="m", temperature=0.3, max_tokens=77, timeout_s=9.5, max_retries=5)
    chat = build_chat_model(cfg, "http://127.0.0.1:9/v1", "sk-secret-value")
    assert chat.model_name == "m" and chat.openai_api_base == "http://127.0.0.1:9/v1"
    assert chat.openai_api_key.get_secret_value() == "sk-secret-value"
    assert chat.temperature == 0.3 and chat.max_tokens == 77 and chat.request_timeout == 9.5
    assert chat.max_retries == 0  # the ChatTeacher's policy retries (cfg.max_retries), not the OpenAI client
    teacher = ChatTeacher(chat, cfg)
    assert teacher.lm.kwargs["temperature"] == 0.3 and teacher.lm.kwargs["max_tokens"] == 77
    assert teacher.lm.engine.policy.max_retries == 5
    assert "sk-secret-value" not in teacher._redact("401: bad key sk-secret-value")


def test_serve_settings_reach_the_embedded_server(monkeypatch, tmp_path):
    seen = {}

    class Recorder:
        def __init__(self, folder, **kwargs):
            seen.update(kwargs)

        def __enter__(self):
            return SimpleNamespace(base_url="http://127.0.0.1:1/v1", model_name="folder")

        def __exit__(self, *exc):
            pass

    monkeypatch.setattr(local_teacher, "LocalTeacherServer", Recorder)
    monkeypatch.setattr(local_teacher, "ensure_teacher_folder", lambda progress=None: tmp_path)
    cfg = load_config(None, ["teacher.serve_continuous_batching=true", "teacher.serve_dtype=float32"], environ={})
    with teacher_endpoint(cfg, RunDir(tmp_path), RunProgress(enabled=False)) as (url, model):
        assert (url, model) == ("http://127.0.0.1:1/v1", "folder")
    assert seen["continuous_batching"] is True and seen["log_path"] == tmp_path / "teacher_server.log"
    assert seen["dtype"] == "float32"


def test_the_server_computes_in_bf16_only_where_the_cpu_has_it(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for amx, avx512_bf16, expected in ((True, False, "bfloat16"), (False, True, "bfloat16"), (False, False, "float32")):
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda amx=amx: amx, raising=False)
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda v=avx512_bf16: v, raising=False)
        assert local_teacher.serve_dtype("auto") == expected
    assert local_teacher.serve_dtype("bfloat16") == "bfloat16" and local_teacher.serve_dtype("float32") == "float32"
    with pytest.raises(UsageError, match="auto, bfloat16 or float32"):
        local_teacher.serve_dtype("fp8")


def test_the_server_command_names_its_dtype(tmp_path):
    command = local_teacher.LocalTeacherServer(tmp_path, dtype="bfloat16").command()
    assert command[command.index("--dtype") + 1] == "bfloat16"


def test_api_key_name_not_value_goes_to_config_yaml():
    cfg = load_config(None, ["teacher.api_key_env=MY_KEY"], environ={"MY_KEY": "sk-should-not-appear"})
    assert "MY_KEY" in cfg.to_yaml() and "sk-should-not-appear" not in cfg.to_yaml()
