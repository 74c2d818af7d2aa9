"""The commands beside `ioa run`: `ioa bench` (with its ablation switches) and `ioa optimize-prompts`."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field, model_validator

from ioa.config.curriculum import Schedule
from ioa.config.section import Section


class AblationConfig(Section):
    """Switches that turn one IOA agent off, for the ablations of `ioa bench` (docs/bench.md)."""

    identifier: bool = Field(
        True, description="False: the planner never sees measured student scores (every module looks unlearnt)."
    )
    organizer: bool = Field(
        True,
        description="False: no targets, prerequisite stages, ZPD split or mastery gate; every unmastered "
        "module is taught each round.",
    )
    adapter: bool = Field(
        True,
        description="False: the teacher's worked solutions are trained on verbatim (no verification, "
        "capacity fit, de-duplication or scaffold).",
    )


Strategy = Literal[
    "ioa",
    "uniform",
    "uniform-rounds",
    "hard-first",
    "curriculum-no-gate",
    "ioa-no-identifier",
    "ioa-no-organizer",
    "ioa-no-adapter",
]
"""The strategies `ioa bench` knows (ioa/bench/strategies.py implements each)."""


class BenchConfig(Section):
    """`ioa bench`: the pedagogy benchmark against distillation baselines at equal teacher budget."""

    domain: Literal["arithmetic"] = Field(
        "arithmetic",
        description="The bench's domain: reasoning-gym arithmetic, whose generators the oracle teacher answers from "
        "exactly (the run's own domain.name does not apply).",
    )

    strategies: list[Strategy] = Field(
        default_factory=lambda: list(get_args(Strategy)),
        description="Strategies to compare (see docs/bench.md).",
    )
    seeds: int = Field(3, ge=1, description="Seeds per strategy (student init, exercises, data order).")
    first_seed: int = Field(
        0,
        ge=0,
        description="The first evaluation seed: trials run on seeds first_seed .. first_seed + seeds - 1, so a "
        "bench too long for one sitting can be split, and the same OUT later reuses every trial it holds.",
    )
    budget: int = Field(320, ge=1, description="Teacher-synthesized training examples per strategy and seed.")
    epochs: int = Field(
        12,
        ge=1,
        description="Epochs over every newly synthesized batch, for every strategy.",
    )
    lrs: list[float] = Field(
        default_factory=lambda: [5e-4, 1e-3, 2e-3],
        min_length=1,
        description="Learning-rate grid; with several, each strategy runs every rate on the tuning seeds and keeps "
        "the one with the best mean accuracy on their diagnostic probes (never on held-out items).",
    )
    tune_seeds: list[int] = Field(
        default_factory=lambda: [100],
        min_length=1,
        description="Seeds of the learning-rate search, fixed in advance and apart from the evaluation seeds (the "
        "report seeds): no result on a report seed ever chooses a setting.",
    )
    rounds: int = Field(4, ge=1, description="Synthesis rounds of the iterative baseline hard-first.")
    schedule: Schedule = Field(
        "frontier",
        description="The organizer's schedule in every IOA trial (replaces rules.schedule there); 'stages' measures "
        "`ioa run`'s default.",
    )
    diagnostic_probes_per_module: int = Field(
        24,
        gt=0,
        description="Diagnostic probes per module in every trial (replaces domain.probes_per_module there): what "
        "IOA's identifier and mastery gate, and hard-first, measure the student on.",
    )
    eval_probes_per_module: int = Field(
        100,
        ge=1,
        description="Held-out items per module, drawn afresh for each seed from a pool no probe or exercise comes "
        "from.",
    )
    eval_points: int = Field(5, ge=1, description="Most held-out evaluations per run for the accuracy/budget plot.")
    max_new_tokens: int | None = Field(
        None,
        gt=0,
        description="Token cap of the student's answers in the held-out evaluation, the same for every strategy; "
        "empty: derived from the domain's worked solutions in the student's tokens, as a run's student_answer cap "
        "(room for a full worked answer). No strategy sees it when it builds its data.",
    )
    teacher: Literal["oracle", "llm"] = Field(
        "oracle", description="'oracle' (exact, procedural worked solutions) or 'llm' (the configured teacher)."
    )
    student: Literal["scratch", "warm", "pretrained"] = Field(
        "scratch",
        description="The student every strategy of a seed starts from: 'scratch' (the tiny student, knowing "
        "nothing), 'warm' (the tiny student first taught a seed-chosen part of the domain outside the budget) or "
        "'pretrained' (the bundled SmolLM2-135M with LoRA; with it, lower bench.epochs to about 3).",
    )
    warm_per_level: int = Field(
        200, ge=1, description="'warm' student: oracle worked solutions per known module and level it is first taught."
    )
    workers: int = Field(2, ge=1, description="Runs in parallel, one torch thread each.")
    vocab: Literal["domain", "teacher"] = Field(
        "domain",
        description="The tiny student's tokenizer: 'domain' is the teacher's cut down to the tokens the domain's "
        "exercises and worked solutions use (the same tokens for that text, a smaller output layer); "
        "'teacher' is the teacher's whole vocabulary, as in `ioa run`.",
    )
    practice: bool = Field(
        False,
        description="Keep the adapter's checker-written practice (adapter.checker_practice_per_example, 0 by "
        "default: set it too) and give every baseline the same practice per worked example; off, no strategy gets "
        "practice, so all train on the same number of examples.",
    )

    @property
    def evaluation_seeds(self) -> range:
        """Seeds first_seed .. first_seed + seeds - 1."""
        return range(self.first_seed, self.first_seed + self.seeds)

    @model_validator(mode="after")
    def _apart_from_tuning(self) -> BenchConfig:
        seeds = self.evaluation_seeds
        shared = sorted(set(self.tune_seeds) & set(seeds))
        if shared:
            raise ValueError(
                f"evaluation seeds {seeds.start}..{seeds.stop - 1} include {shared}, the learning-rate search's "
                "tuning seeds; choose fewer seeds or another first_seed"
            )
        return self


class OptimizeConfig(Section):
    """`ioa optimize-prompts`: the data split, the metric and the models that propose new prompts."""

    budget: int = Field(
        8,
        gt=0,
        description="Default --budget: training examples BootstrapFewShot tries, MIPROv2 trials, or GEPA metric calls.",
    )
    train_size: int = Field(16, gt=0, description="Exercises the optimizer may learn from.")
    dev_size: int = Field(12, gt=0, description="Held-out exercises scored before and after optimizing.")
    split_seed: int = Field(0, description="Seed of the exercise draw and of the train/dev split.")
    zpd_target: float = Field(
        0.5,
        gt=0,
        lt=1,
        description="ZPD target: the student's success on an exercise's module and level that counts as ideal "
        "difficulty (about half right: hard enough to learn from, easy enough to follow).",
    )
    verify_weight: float = Field(
        0.7,
        ge=0,
        le=1,
        description="Share of the metric earned by a verified answer alone; the rest rewards verified solutions "
        "of exercises at the ZPD target. 1.0 skips measuring the student.",
    )
    student_exercises: int = Field(
        6, gt=0, description="Exercises per module and level on which the student's success is measured."
    )
    student_checkpoint: str | None = Field(
        None, description="Student whose success calibrates difficulty (a run's student/round_N); empty: initial."
    )
    reflection_base_url: str | None = Field(
        None, description="Endpoint of the model that proposes instructions (GEPA reflection, MIPROv2); empty: teacher."
    )
    reflection_model: str | None = Field(None, description="Model name at reflection_base_url.")
    reflection_api_key_env: str | None = Field(
        None, description="Environment variable holding the reflection endpoint's API key."
    )
    reflection_max_tokens: int = Field(512, gt=0, description="Completion token cap for a proposed instruction.")
