"""The resolved configuration of one run: every section, and what the run records about itself."""

from __future__ import annotations

from typing import Any, Literal

import yaml
from pydantic import Field, model_validator

from ioa.config.commands import AblationConfig, BenchConfig, OptimizeConfig
from ioa.config.curriculum import (
    AdapterConfig,
    BudgetConfig,
    DomainConfig,
    LengthsConfig,
    MetricConfig,
    RulesConfig,
    SandboxConfig,
    SynthesisConfig,
)
from ioa.config.models import StudentConfig, TeacherConfig, TrainingConfig
from ioa.config.section import Section


class ObservabilityConfig(Section):
    """What the run records about itself beyond traces.jsonl, and how much of each prompt it keeps."""

    trace_max_chars: int = Field(
        2000, ge=0, description="Teacher prompts, raw outputs and parsed fields longer than this are cut in traces."
    )
    mlflow: bool = Field(
        False, description="Trace LangChain and DSPy calls to MLflow (mlflow autolog); needs `pip install mlflow`."
    )
    report: bool = Field(True, description="Write report.html and plots/ into the run directory when a run ends.")


class CheckpointerConfig(Section):
    """Where `ioa run` keeps the LangGraph checkpoints that `ioa resume` continues from (docs/deploy.md)."""

    backend: Literal["sqlite", "postgres"] = Field(
        "sqlite",
        description="sqlite: RUN_DIR/checkpoints.sqlite; postgres: the database whose DSN is in the variable dsn_env "
        "(langgraph-checkpoint-postgres). On LangGraph Server the server's own checkpointer holds them instead.",
    )
    dsn_env: str = Field(
        "IOA_POSTGRES_DSN",
        min_length=1,
        description="The NAME of the environment variable holding the Postgres DSN, so the DSN (and its password) "
        "stays out of config.yaml.",
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        # `checkpointer: postgres` (or --set checkpointer=postgres) names the backend alone.
        return {"backend": data} if isinstance(data, str) else data


class Config(Section):
    """The resolved configuration of one run; written as config.yaml into the run directory."""

    teacher: TeacherConfig = Field(default_factory=TeacherConfig)
    student: StudentConfig = Field(default_factory=StudentConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    domain: DomainConfig = Field(default_factory=DomainConfig)
    rules: RulesConfig = Field(default_factory=RulesConfig)
    synthesis: SynthesisConfig = Field(default_factory=SynthesisConfig)
    lengths: LengthsConfig = Field(default_factory=LengthsConfig)
    adapter: AdapterConfig = Field(default_factory=AdapterConfig)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    metric: MetricConfig = Field(default_factory=MetricConfig)
    ablation: AblationConfig = Field(default_factory=AblationConfig)
    bench: BenchConfig = Field(default_factory=BenchConfig)
    optimize: OptimizeConfig = Field(default_factory=OptimizeConfig)
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)
    observability: ObservabilityConfig = Field(default_factory=ObservabilityConfig)
    checkpointer: CheckpointerConfig = Field(default_factory=CheckpointerConfig)

    def to_yaml(self) -> str:
        """Serialised for config.yaml; holds no secret because keys live only in the environment."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)
