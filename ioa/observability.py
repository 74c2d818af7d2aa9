"""Optional tracing to MLflow, on top of traces.jsonl. Off by default; mlflow is never a dependency.

LangSmith needs nothing here: LangChain and LangGraph send traces there on their own when
``LANGSMITH_TRACING=true`` and ``LANGSMITH_API_KEY`` are set in the environment.
"""

from __future__ import annotations

import importlib

from ioa.config import ObservabilityConfig
from ioa.errors import UsageError


def enable_observability(cfg: ObservabilityConfig) -> list[str]:
    """Turn on the configured autologgers; returns what was enabled (empty when nothing is configured)."""
    if not cfg.mlflow:
        return []
    try:
        mlflow = importlib.import_module("mlflow")
    except ImportError as exc:
        raise UsageError("observability.mlflow is on but mlflow is not installed; run `pip install mlflow`") from exc
    # The teacher's HTTP calls go through LangChain's ChatOpenAI; its prompts are DSPy programs.
    mlflow.langchain.autolog()
    mlflow.dspy.autolog()
    return ["mlflow.langchain", "mlflow.dspy"]
