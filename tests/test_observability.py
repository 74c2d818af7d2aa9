"""Optional MLflow tracing: off by default, a one-line usage error without mlflow, both autologs when on."""

from __future__ import annotations

import sys
from types import ModuleType, SimpleNamespace

import pytest

from ioa.config import Config, ObservabilityConfig
from ioa.errors import UsageError
from ioa.observability import enable_observability


def test_off_by_default_and_needs_nothing():
    assert Config().observability.mlflow is False
    assert enable_observability(ObservabilityConfig()) == []


def test_without_mlflow_it_is_a_usage_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # makes `import mlflow` raise ImportError
    with pytest.raises(UsageError, match="pip install mlflow"):
        enable_observability(ObservabilityConfig(mlflow=True))


def test_with_mlflow_both_autologs_are_called(monkeypatch):
    calls = []
    fake = ModuleType("mlflow")
    fake.langchain = SimpleNamespace(autolog=lambda: calls.append("langchain"))
    fake.dspy = SimpleNamespace(autolog=lambda: calls.append("dspy"))
    monkeypatch.setitem(sys.modules, "mlflow", fake)
    assert enable_observability(ObservabilityConfig(mlflow=True)) == ["mlflow.langchain", "mlflow.dspy"]
    assert calls == ["langchain", "dspy"]


def test_a_run_refuses_before_creating_its_directory(monkeypatch, tmp_path):
    from ioa import run

    monkeypatch.setitem(sys.modules, "mlflow", None)
    config = Config.model_validate({"observability": {"mlflow": True}})
    with pytest.raises(UsageError, match="pip install mlflow"):
        run(config, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()
