"""What is taught and how it is judged: the domain, the IOA rules, synthesis, the adapter, the budget, the metric
and the sandbox that runs untrusted code."""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import Field, model_validator

from ioa.config.section import Section


class GymDatasetConfig(Section):
    """One knowledge module made from a reasoning-gym dataset (``domain.gym`` entries)."""

    dataset: str = Field(description="reasoning-gym dataset name, e.g. 'basic_arithmetic'.")
    id: str | None = Field(None, description="Module id 'category/name'; default 'gym/<dataset>'.")
    description: str | None = Field(None, description="One sentence for the teacher; default names the dataset.")
    prerequisites: list[str] = Field(default_factory=list, description="Ids of modules this one builds on.")
    config: dict[str, Any] = Field(default_factory=dict, description="Dataset config fields held fixed at every level.")
    levels: int = Field(3, ge=1, le=10, description="Rungs of the difficulty ladder taken from the curriculum.")
    ladder: list[dict[str, Any]] | None = Field(
        None, description="Explicit ladder: per level, curriculum attribute -> value (overrides 'levels')."
    )
    answer: Literal["number", "word", "text"] = Field(
        "text", description="How the final answer is pulled out of free text before score_answer."
    )


class DomainConfig(Section):
    """What is taught: a built-in domain (``name``), a seed file (``path``) or reasoning-gym datasets (``gym``)."""

    name: Literal["words", "arithmetic"] = Field(
        "words",
        description="Built-in domain: 'words' (English word knowledge the embedded teacher knows: plurals, past "
        "tense, comparatives, capitals) or 'arithmetic' (reasoning-gym, for the bench's oracle teacher or a capable "
        "remote one).",
    )
    path: str | None = Field(None, description="JSONL seed file of your own domain (see README); beats 'name'.")
    gym: list[GymDatasetConfig] = Field(
        default_factory=list, description="reasoning-gym datasets as modules, with prerequisites and ladders."
    )
    probes_per_module: int = Field(12, gt=0, description="Held-out probes per module for P_T and P_S.")
    seed: int = Field(0, description="Seed of probe and exercise generation, and of the seed file's 8:2 split.")
    min_modules: int = Field(25, ge=1, description="Seed files: fewest knowledge modules the teacher should find.")
    max_modules: int = Field(35, ge=1, description="Seed files: most knowledge modules kept after merging.")
    seeds_per_module: int = Field(
        4, ge=2, description="Seed files: fewest seeds a module needs; small seed sets get fewer modules."
    )
    probe_fraction: float = Field(0.2, gt=0, lt=1, description="Seed files: share of each module's seeds held out.")
    merge_similarity: float = Field(
        0.85, gt=0, le=1, description="Seed files: modules this similar (cosine, MiniLM) are merged as duplicates."
    )

    @model_validator(mode="after")
    def _one_source(self) -> DomainConfig:
        if self.path and self.gym:
            raise ValueError("set either domain.path or domain.gym, not both")
        if self.min_modules > self.max_modules:
            raise ValueError("min_modules must not exceed max_modules")
        return self


Schedule = Literal["stages", "frontier"]
"""How the organizer walks the curriculum (RulesConfig.schedule)."""


class RulesConfig(Section):
    """The IOA rules and thresholds (docs/design.md §4)."""

    tau_gap: float = Field(0.3, ge=0, le=1, description="A module is deficient when its gap exceeds this.")
    teacher_floor: float = Field(
        0.5,
        ge=0,
        le=1,
        description="A module on which the teacher scores below this (P_T) is beyond_teacher: never taught, never "
        "reported mastered.",
    )
    tau_high: float = Field(0.9, ge=0, le=1, description="Eq. 3: ratio at which a prerequisite counts as mastered.")
    tau_low: float = Field(0.7, ge=0, le=1, description="Eq. 3: ratio below which it counts as not mastered.")
    tau_dep: float = Field(0.3, ge=0, le=1, description="Minimum empirical dependency strength for a new edge.")
    alpha: float = Field(0.7, ge=0, le=1, description="Severity weight of the gap against dependency strength.")
    target_fraction: float = Field(0.25, gt=0, le=1, description="Share of deficient modules taken as targets.")
    tau_zpd: float = Field(0.15, gt=0, description="Largest relative jump of student score between stages.")
    tau_mastery: float = Field(0.9, gt=0, le=1, description="Mastery gate: min P_S/P_T over the stage.")
    zpd_stretch: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Share of each module's exercises set one level above its ZPD level (the zone's upper edge: "
        "worked solutions the student can follow, not yet solve); 0 teaches the ZPD level alone.",
    )
    max_remedial: int = Field(5, ge=0, description="Remedial rounds before a stage is recorded as stuck.")
    schedule: Schedule = Field(
        "stages",
        description="'stages' (docs/design.md §5): one stage at a time, gated on mastery before the next, "
        "with remedial rounds and stuck after max_remedial. "
        "'frontier': every round teaches each deficient module whose "
        "prerequisites are ready (passed the gate at their easiest level, or already taught), each one level above "
        "the level it passed the gate at, so earlier modules keep being taught as later ones join; each round asks "
        "the teacher for every ready module, so a round costs more teacher calls. `ioa bench` sets its own "
        "(bench.schedule).",
    )
    retry_stuck: bool = Field(
        True,
        description="When every other deficient module is mastered or stuck, stuck modules get another turn "
        "instead of the run finishing with budget unspent.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> RulesConfig:
        if self.tau_low > self.tau_high:
            raise ValueError("tau_low must not exceed tau_high")
        return self


class SynthesisConfig(Section):
    """How the teacher writes material."""

    examples_per_module: int = Field(
        10, gt=0, description="J: new exercises the teacher is asked to write per request (module and level)."
    )
    answer_temperature: float = Field(0.0, ge=0, le=2, description="Temperature when answering probes.")
    bridge_max_distance: float = Field(
        0.55,
        gt=0,
        le=2,
        description="A bridging request and its scaffold recall the nearest mastered module only within this cosine "
        "distance (bundled MiniLM, on 'name: description'): farther, it is another subject. In the words domain "
        "modules of one family lie 0.26-0.51 apart and of different families 0.62-0.96 (docs/design.md §6).",
    )


class LengthsConfig(Section):
    """Caps in tokens, each derived from the student and the domain's data when empty (docs/design.md §4)."""

    student_answer: int | None = Field(None, gt=0, description="The student's answer cap.")
    adapter_budget: int | None = Field(None, gt=0, description="Tokens one adapted training target may use.")
    train_seq: int | None = Field(None, gt=8, description="Tokens of one training sequence (prompt and target).")
    teacher_answer: int | None = Field(None, gt=0, description="The teacher's completion cap for a probe.")
    teacher_synthesis: int | None = Field(
        None, gt=0, description="The teacher's completion cap for one synthesis request."
    )


AdapterStrategy = Literal[
    "concrete_example_first", "small_steps", "small_instances_first", "one_step_template", "plain_words"
]
"""The Knowledge Adapter's five adaptation strategies (docs/design.md §6), each a named step of the adapter."""

ADAPTER_STRATEGIES: tuple[str, ...] = get_args(AdapterStrategy)


class AdapterConfig(Section):
    """The Knowledge Adapter: verification, the five adaptation strategies, the length budget, de-duplication."""

    strategies: list[AdapterStrategy] = Field(
        default_factory=lambda: list(ADAPTER_STRATEGIES),
        description="The adaptation steps applied to what the student trains on: concrete_example_first (the "
        "concrete instance before the rule), small_steps (one idea per line), small_instances_first (drop "
        "exercises above the level's size, smallest first), one_step_template ('Step 1: ...' lines, then "
        "'Answer: X'), plain_words (no markdown or LaTeX, short sentences). Leave one out to switch it off.",
    )
    consistency_k: int = Field(
        3,
        ge=1,
        description="Self-consistency: where the domain's checker cannot judge an exercise, this many independent "
        "teacher solves (at the synthesis temperature) must all agree with its answer.",
    )
    max_sentence_words: int = Field(
        16, ge=3, description="plain_words: a longer sentence fails the plain-words check and is rewritten."
    )
    dedup_rouge: float = Field(0.9, gt=0, le=1, description="Drop an item this similar (ROUGE-L) to one kept.")
    target_token_share: float = Field(
        0.5,
        gt=0,
        le=1,
        description="Share of the student's context one adapted solution may use, when the run states no "
        "adapter budget of its own.",
    )
    scaffold: bool = Field(
        True, description="Bridging exercises: prefix a 'Recall:' line from the nearest mastered module (Chroma)."
    )
    checker_practice_per_example: int = Field(
        0,
        ge=0,
        description="A supplement, off by default: checker-written practice rows ('Answer: X', source "
        "'checker_practice') of the same module and level added per kept teacher example.",
    )


class BudgetConfig(Section):
    """When a run stops even if not everything is mastered."""

    max_rounds: int = Field(
        4,
        ge=1,
        description="Teach -> train -> diagnose rounds; consolidation (training.consolidation_epochs) adds one.",
    )
    max_teacher_calls: int = Field(2000, ge=1, description="Teacher requests over the whole run.")
    min_batch_per_module: int = Field(
        4,
        ge=1,
        description="Fewest adapted examples the planner trains on, per module in focus: a stage of two modules "
        "trains on at least 8, a remedial round on one module on at least 4.",
    )
    max_teach_attempts: int = Field(3, ge=1, description="Teach calls per round before training on what there is.")
    max_empty_rounds: int = Field(
        2,
        ge=1,
        description="Rounds in a row a module may be taught with nothing kept by the adapter before it is set "
        "aside (traced, counted in the summary) instead of paying for the same request again.",
    )


class MetricConfig(Section):
    """How free text is scored."""

    rouge_correct: float = Field(0.5, gt=0, le=1, description="Free text counts as correct at this ROUGE-L.")
    judge: bool = Field(
        False, description="Seed files: score 'text' tasks by the teacher as judge (a DSPy program) instead of ROUGE-L."
    )


class SandboxConfig(Section):
    """Limits of the subprocess that runs untrusted code (seed tests, teacher and student code)."""

    mechanism: Literal["auto", "bwrap", "guard"] = Field(
        "auto", description="'bwrap' (bubblewrap; required), 'guard' (rlimits + audit hook), 'auto' (bwrap if usable)."
    )
    timeout_s: float = Field(10.0, gt=0, description="Wall-clock limit of one run.")
    cpu_s: int = Field(5, gt=0, description="CPU-time limit (RLIMIT_CPU).")
    memory_mb: int = Field(512, ge=64, description="Address-space limit (RLIMIT_AS).")
    max_procs: int = Field(32, ge=1, description="Process limit (RLIMIT_NPROC) of the sandbox user.")
