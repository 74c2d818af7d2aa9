"""All configuration in one place: typed, validated, resolved once.

Precedence is file, then environment (``IOA_SECTION__FIELD``), then ``--set`` flags.
Every model forbids unknown keys, so a typo is an error rather than a silent default.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ioa.errors import UsageError

ENV_PREFIX = "IOA_"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class TeacherConfig(_Section):
    """The teacher LLM, reached over an OpenAI-compatible HTTP endpoint."""

    base_url: str | None = Field(
        None, description="OpenAI-compatible endpoint; empty starts the embedded local teacher server."
    )
    model: str = Field("SmolLM2-135M-Instruct", description="Model name sent to the endpoint.")
    api_key_env: str | None = Field(
        None, description="Name of the environment variable holding the API key (the key itself is never stored)."
    )
    temperature: float = Field(0.7, ge=0, le=2, description="Sampling temperature for synthesis.")
    max_tokens: int = Field(128, gt=0, description="Completion token cap per synthesis request.")
    max_concurrency: int = Field(2, ge=1, description="Teacher requests in flight at once.")
    timeout_s: float = Field(120.0, gt=0, description="Per-request timeout in seconds.")
    max_retries: int = Field(
        2, ge=0, description="Retries of a request on 429, 5xx, timeouts, connection errors, broken or empty replies."
    )
    retry_backoff_s: float = Field(
        1.0, gt=0, description="First retry waits about this long (with jitter); each further retry doubles it."
    )
    retry_max_backoff_s: float = Field(
        30.0, gt=0, description="Longest wait before a retry, also the cap on a server's Retry-After."
    )
    parse_retries: int = Field(1, ge=0, description="Re-asks when an answer does not parse, before it is dropped.")
    programs: dict[str, str] = Field(
        default_factory=dict, description="Optimized DSPy programs: name -> JSON file saved by `ioa optimize-prompts`."
    )
    serve_port: int = Field(0, ge=0, le=65535, description="Port of the embedded server; 0 picks a free one.")
    serve_timeout_s: float = Field(300.0, gt=0, description="How long to wait for the embedded server to come up.")
    serve_threads: int = Field(
        1,
        ge=0,
        description="torch CPU threads of the embedded server (0 leaves torch's default); "
        "1 avoids thread thrash beside the student.",
    )
    serve_continuous_batching: bool = Field(
        False, description="Start the embedded server with `--continuous-batching` (batches concurrent requests)."
    )
    cache: bool = Field(True, description="Reuse stored completions: a repeated or resumed request is not paid twice.")
    cache_path: str | None = Field(
        None, description="SQLite response cache shared across runs; empty keeps it in RUN_DIR/teacher_cache.sqlite."
    )
    price_per_1k_prompt: float | None = Field(
        None, ge=0, description="USD per 1000 prompt tokens; with the completion price it gives summary cost_usd."
    )
    price_per_1k_completion: float | None = Field(None, ge=0, description="USD per 1000 completion tokens.")


class StudentConfig(_Section):
    """The student: the embedded tiny model, a local folder, a GGUF file or a hub id."""

    model: str = Field(
        "tiny",
        description="'tiny' builds the embedded from-scratch student; 'bundled' is the bundled SmolLM2-135M-Instruct "
        "(the embedded teacher's weights, offline); else a path or hub id.",
    )
    finetune: Literal["auto", "full", "lora"] = Field(
        "auto", description="'auto' is full fine-tuning for 'tiny' and LoRA for pretrained students."
    )
    hidden_size: int = Field(192, gt=0, description="Tiny student: hidden size.")
    num_layers: int = Field(4, gt=0, description="Tiny student: decoder layers.")
    num_heads: int = Field(4, gt=0, description="Tiny student: attention heads.")
    intermediate_size: int = Field(512, gt=0, description="Tiny student: MLP width.")
    context_length: int = Field(256, gt=0, description="Tiny student: maximum sequence length.")
    init_seed: int = Field(
        0, description="Seed of the student's random initialisation: the tiny student's weights, a LoRA adapter's."
    )
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="'auto' uses CUDA when present.")
    eval_batch_size: int = Field(64, gt=0, description="Probes answered per generation batch.")
    max_new_tokens: int = Field(12, gt=0, description="Token cap for a student answer to a probe.")
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field(
        "auto",
        description="Weight dtype; 'auto' is bf16 on CUDA (fp32 master weights for full fine-tuning) and fp32 on CPU.",
    )
    gradient_checkpointing: bool = Field(
        False, description="Recompute activations in the backward pass: less memory, slower steps."
    )
    eval_base_url: str | None = Field(
        None,
        description="OpenAI-compatible endpoint serving the student for probes (e.g. vLLM); empty answers in process.",
    )
    eval_model: str = Field(
        "{checkpoint}",
        description="Model name sent to eval_base_url; '{checkpoint}' becomes the current student checkpoint's path.",
    )
    eval_api_key_env: str | None = Field(
        None, description="Name of the environment variable holding eval_base_url's API key."
    )


class TrainingConfig(_Section):
    """The training node (docs/design.md §7)."""

    epochs: int | None = Field(
        None, gt=0, description="Epochs over each ZPD batch; empty picks 3 (pretrained students) or 12 (tiny)."
    )
    batch_size: int = Field(16, gt=0, description="Examples per optimizer step.")
    lr: float | None = Field(
        None, gt=0, description="Learning rate; empty picks 1e-4 (LoRA), 2e-5 (full) or 1e-3 (tiny)."
    )
    replay_fraction: float = Field(0.2, ge=0, lt=1, description="Share of each batch replayed from mastered modules.")
    carry_optimizer: bool = Field(
        True,
        description="Continue AdamW's moments from one training round to the next instead of restarting them.",
    )
    consolidation_epochs: int | None = Field(
        None,
        ge=0,
        description="Of each example's epochs, how many wait for one consolidation over everything taught, "
        "all modules shuffled together, when the run finishes; empty picks 1, or 0 when training.epochs is 1 "
        "(0: every epoch in the example's own round).",
    )
    lora_r: int = Field(16, gt=0, description="LoRA rank.")
    lora_alpha: int = Field(32, gt=0, description="LoRA alpha.")
    lora_dropout: float = Field(0.05, ge=0, lt=1, description="LoRA dropout.")
    lora_targets: list[str] = Field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"], description="Modules LoRA wraps."
    )
    max_seq_len: int = Field(96, gt=8, description="Training sequences are cut to this many tokens.")
    seed: int = Field(0, description="Seed of data order and dropout.")

    @property
    def kept_back(self) -> int:
        """Epochs each example keeps back for consolidation: ``consolidation_epochs``, or 1 unless a round has one."""
        if self.consolidation_epochs is not None:
            return self.consolidation_epochs
        # Unset epochs pick 3 or 12 (``default_epochs``), so only an explicit single epoch has none to spare.
        return 0 if self.epochs == 1 else 1


class GymDatasetConfig(_Section):
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


class DomainConfig(_Section):
    """What is taught: the built-in arithmetic domain, a seed file (``path``) or reasoning-gym datasets (``gym``)."""

    name: Literal["arithmetic"] = Field("arithmetic", description="Built-in reasoning-gym domain.")
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


class RulesConfig(_Section):
    """The IOA rules and thresholds (docs/design.md §4)."""

    tau_gap: float = Field(0.3, ge=0, le=1, description="A module is deficient when its gap exceeds this.")
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


class SynthesisConfig(_Section):
    """How the teacher writes material."""

    examples_per_module: int = Field(10, gt=0, description="J: exercises synthesised per module per round.")
    answer_temperature: float = Field(0.0, ge=0, le=2, description="Temperature when answering probes.")
    answer_max_tokens: int = Field(32, gt=0, description="Completion token cap when answering probes.")


class AdapterConfig(_Section):
    """The Knowledge Adapter."""

    dedup_rouge: float = Field(0.9, gt=0, le=1, description="Drop an item this similar (ROUGE-L) to one kept.")
    target_token_share: float = Field(
        0.5, gt=0, le=1, description="Share of the student's context one worked solution may use."
    )
    scaffold: bool = Field(True, description="Prefix a hint from the nearest mastered module (Chroma).")
    practice_per_example: int = Field(
        100,
        ge=0,
        description="Practice exercises attached to each verified worked example: same module and level, "
        "answered by the domain's checker. A small student needs repetition that teacher calls alone cannot "
        "afford; 0 trains on the teacher's examples only.",
    )


class BudgetConfig(_Section):
    """When a run stops even if not everything is mastered."""

    max_rounds: int = Field(
        8,
        ge=1,
        description="Teach -> train -> diagnose rounds; consolidation (training.consolidation_epochs) adds one.",
    )
    max_teacher_calls: int = Field(2000, ge=1, description="Teacher requests over the whole run.")
    min_batch: int = Field(8, ge=1, description="Fewest adapted examples the planner trains on.")
    max_teach_attempts: int = Field(3, ge=1, description="Teach calls per round before training on what there is.")


class MetricConfig(_Section):
    """How free text is scored."""

    rouge_correct: float = Field(0.5, gt=0, le=1, description="Free text counts as correct at this ROUGE-L.")
    judge: bool = Field(
        False, description="Seed files: score 'text' tasks by the teacher as judge (a DSPy program) instead of ROUGE-L."
    )


class SandboxConfig(_Section):
    """Limits of the subprocess that runs untrusted code (seed tests, teacher and student code)."""

    mechanism: Literal["auto", "bwrap", "guard"] = Field(
        "auto", description="'bwrap' (bubblewrap; required), 'guard' (rlimits + audit hook), 'auto' (bwrap if usable)."
    )
    timeout_s: float = Field(10.0, gt=0, description="Wall-clock limit of one run.")
    cpu_s: int = Field(5, gt=0, description="CPU-time limit (RLIMIT_CPU).")
    memory_mb: int = Field(512, ge=64, description="Address-space limit (RLIMIT_AS).")
    max_procs: int = Field(32, ge=1, description="Process limit (RLIMIT_NPROC) of the sandbox user.")


class AblationConfig(_Section):
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
    "ioa", "uniform", "hard-first", "curriculum-no-gate", "ioa-no-identifier", "ioa-no-organizer", "ioa-no-adapter"
]
"""The strategies `ioa bench` knows (ioa/bench/strategies.py implements each)."""


TUNE_SEED = 100
"""The seed of `ioa bench`'s learning-rate search: never an evaluation seed (BenchConfig refuses it)."""


class BenchConfig(_Section):
    """`ioa bench`: the pedagogy benchmark against distillation baselines at equal teacher budget."""

    strategies: list[Strategy] = Field(
        default_factory=lambda: [
            "ioa",
            "uniform",
            "hard-first",
            "curriculum-no-gate",
            "ioa-no-identifier",
            "ioa-no-organizer",
            "ioa-no-adapter",
        ],
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
        default_factory=lambda: [1e-3],
        description="Learning-rate grid; with several, each strategy picks its "
        "best on the diagnostic probes of a tuning seed that is not an evaluation seed.",
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
    eval_probes_per_module: int = Field(30, ge=1, description="Held-out evaluation probes per module.")
    eval_points: int = Field(5, ge=1, description="Most held-out evaluations per run for the accuracy/budget plot.")
    max_new_tokens: int = Field(24, gt=0, description="Token cap of the student's answers, in the graph and in eval.")
    teacher: Literal["oracle", "llm"] = Field(
        "oracle", description="'oracle' (exact, procedural worked solutions) or 'llm' (the configured teacher)."
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
        description="Keep the adapter's checker-answered practice (adapter.practice_per_example) and give every "
        "baseline the same practice per worked example; off, no strategy gets practice, so all train on the same "
        "number of examples.",
    )

    @property
    def evaluation_seeds(self) -> range:
        """Seeds first_seed .. first_seed + seeds - 1."""
        return range(self.first_seed, self.first_seed + self.seeds)

    @model_validator(mode="after")
    def _apart_from_tuning(self) -> BenchConfig:
        seeds = self.evaluation_seeds
        if TUNE_SEED in seeds:
            raise ValueError(
                f"evaluation seeds {seeds.start}..{seeds.stop - 1} include {TUNE_SEED}, the learning-rate search's "
                "seed; choose fewer seeds or another first_seed"
            )
        return self


class OptimizeConfig(_Section):
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


class ObservabilityConfig(_Section):
    """What the run records about itself beyond traces.jsonl, and how much of each prompt it keeps."""

    trace_max_chars: int = Field(
        2000, ge=0, description="Teacher prompts, raw outputs and parsed fields longer than this are cut in traces."
    )
    mlflow: bool = Field(
        False, description="Trace LangChain and DSPy calls to MLflow (mlflow autolog); needs `pip install mlflow`."
    )
    report: bool = Field(True, description="Write report.html and plots/ into the run directory when a run ends.")


class Config(_Section):
    """The resolved configuration of one run; written as config.yaml into the run directory."""

    teacher: TeacherConfig = Field(default_factory=TeacherConfig)
    student: StudentConfig = Field(default_factory=StudentConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    domain: DomainConfig = Field(default_factory=DomainConfig)
    rules: RulesConfig = Field(default_factory=RulesConfig)
    synthesis: SynthesisConfig = Field(default_factory=SynthesisConfig)
    adapter: AdapterConfig = Field(default_factory=AdapterConfig)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    metric: MetricConfig = Field(default_factory=MetricConfig)
    ablation: AblationConfig = Field(default_factory=AblationConfig)
    bench: BenchConfig = Field(default_factory=BenchConfig)
    optimize: OptimizeConfig = Field(default_factory=OptimizeConfig)
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)
    observability: ObservabilityConfig = Field(default_factory=ObservabilityConfig)

    def to_yaml(self) -> str:
        """Serialised for config.yaml; holds no secret because keys live only in the environment."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = tree
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise UsageError(f"cannot set {dotted!r}: {part!r} is not a section")
    node[leaf] = value


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _parse_assignment(item: str) -> tuple[str, Any]:
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise UsageError(f"--set expects key=value, got {item!r}")
    # YAML scalars give numbers, booleans and lists without a type table of our own.
    return key.strip(), yaml.safe_load(raw) if raw.strip() else None


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for name, raw in environ.items():
        if name.startswith(ENV_PREFIX) and "__" in name:
            dotted = name[len(ENV_PREFIX) :].lower().replace("__", ".")
            _set_dotted(tree, dotted, yaml.safe_load(raw))
    return tree


def _read_file(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise UsageError(f"cannot read config {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise UsageError(f"config {path} is not valid YAML: {str(exc).splitlines()[0]}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"config {path} must be a mapping of sections")
    return data


def describe_validation_error(exc: ValidationError) -> str:
    """All problems of a config at once, on one line."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "config"
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        parts.append(f"{where}: {msg}")
    return "invalid config: " + "; ".join(parts)


def load_config(
    path: str | Path | None = None,
    overrides: list[str] | None = None,
    environ: dict[str, str] | None = None,
) -> Config:
    """Resolve file -> environment -> ``key=value`` overrides into one validated Config."""
    tree = _read_file(Path(path)) if path else {}
    tree = _merge(tree, _env_overrides(dict(os.environ) if environ is None else environ))
    for item in overrides or []:
        key, value = _parse_assignment(item)
        _set_dotted(tree, key, value)
    try:
        return Config.model_validate(tree)
    except ValidationError as exc:
        raise UsageError(describe_validation_error(exc)) from exc
