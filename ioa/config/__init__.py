"""All configuration in one place: typed, validated, resolved once.

Precedence is file, then environment (``IOA_SECTION__FIELD``), then ``--set`` flags.
Every model forbids unknown keys, so a typo is an error rather than a silent default.
The sections live by concern in ``models``, ``curriculum``, ``commands`` and ``run``; ``load`` resolves them.
"""

from ioa.config.commands import AblationConfig, BenchConfig, OptimizeConfig, Strategy
from ioa.config.curriculum import (
    AdapterConfig,
    BudgetConfig,
    DomainConfig,
    GymDatasetConfig,
    LengthsConfig,
    MetricConfig,
    RulesConfig,
    SandboxConfig,
    Schedule,
    SynthesisConfig,
)
from ioa.config.load import ENV_PREFIX, describe_validation_error, load_config
from ioa.config.models import StudentConfig, TeacherConfig, TrainingConfig
from ioa.config.run import CheckpointerConfig, Config, ObservabilityConfig

__all__ = [
    "ENV_PREFIX",
    "AblationConfig",
    "AdapterConfig",
    "BenchConfig",
    "CheckpointerConfig",
    "BudgetConfig",
    "Config",
    "DomainConfig",
    "GymDatasetConfig",
    "LengthsConfig",
    "MetricConfig",
    "ObservabilityConfig",
    "OptimizeConfig",
    "RulesConfig",
    "SandboxConfig",
    "Schedule",
    "Strategy",
    "StudentConfig",
    "SynthesisConfig",
    "TeacherConfig",
    "TrainingConfig",
    "describe_validation_error",
    "load_config",
]
