"""The two models and how one teaches the other: the teacher endpoint, the student, the training recipe."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ioa.config.section import Section

ServeDType = Literal["auto", "bfloat16", "float32"]
"""What the embedded teacher server computes in (``teacher.serve_dtype``, ``ioa teacher serve --dtype``)."""


class TeacherConfig(Section):
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
    max_concurrency: int = Field(
        16,
        ge=1,
        description="Teacher requests in flight at once against teacher.base_url (a served or hosted model batches "
        "dozens); the embedded server uses serve_concurrency instead.",
    )
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
        2,
        ge=0,
        description="torch CPU threads of the embedded server (0 leaves torch's default); the student waits while "
        "the teacher works, so the server may use the cores (docs/benchmarks.md, teacher throughput).",
    )
    serve_dtype: ServeDType = Field(
        "auto",
        description="dtype the embedded server computes in; 'auto' is bfloat16 where the CPU has native bf16 "
        "(AMX or AVX512-BF16) or on a GPU, else float32. On the 2-core reference machine bf16 decodes 16 synthesis "
        "requests 2.1 times as fast; its rounding depends on batching, so P_T may move by a probe or two between runs, "
        "where float32 repeats it exactly (docs/teacher.md).",
    )
    serve_continuous_batching: bool = Field(
        True,
        description="Start the embedded server with `--continuous-batching`, which decodes concurrent requests "
        "together; without it the server answers them one at a time.",
    )
    serve_concurrency: int = Field(
        16,
        ge=1,
        description="Requests in flight at once against the embedded server (with continuous batching; without it, "
        "1): it replaces max_concurrency there.",
    )
    cache: bool = Field(True, description="Reuse stored completions: a repeated or resumed request is not paid twice.")
    cache_path: str | None = Field(
        None, description="SQLite response cache shared across runs; empty keeps it in RUN_DIR/teacher_cache.sqlite."
    )
    price_per_1k_prompt: float | None = Field(
        None, ge=0, description="USD per 1000 prompt tokens; with the completion price it gives summary cost_usd."
    )
    price_per_1k_completion: float | None = Field(None, ge=0, description="USD per 1000 completion tokens.")

    def for_embedded_server(self) -> TeacherConfig:
        """This config as a run against the embedded server uses it: ``serve_concurrency`` requests in flight.

        Without continuous batching the server answers one request at a time, and requests beyond one only wait
        (at 4 in flight, 8 requests took 650 s on 2 cores: docs/benchmarks.md), so it gets 1.
        """
        concurrency = self.serve_concurrency if self.serve_continuous_batching else 1
        return self.model_copy(update={"max_concurrency": concurrency})


class StudentConfig(Section):
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
    context_length: int = Field(
        256, gt=0, description="Tiny student: its context window (a pretrained student brings its own)."
    )
    init_seed: int = Field(
        0, description="Seed of the student's random initialisation: the tiny student's weights, a LoRA adapter's."
    )
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="'auto' uses CUDA when present.")
    eval_batch_size: int = Field(64, gt=0, description="Probes answered per generation batch.")
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


class TrainingConfig(Section):
    """The training node (docs/design.md §7)."""

    epochs: int | None = Field(
        None, gt=0, description="Epochs over each ZPD batch; empty picks 3 (pretrained students) or 12 (tiny)."
    )
    batch_size: int = Field(16, gt=0, description="Examples per optimizer step.")
    lr: float | None = Field(
        None, gt=0, description="Learning rate; empty picks 1e-4 (LoRA), 2e-5 (full) or 1e-3 (tiny)."
    )
    replay_fraction: float = Field(
        0.2, ge=0, lt=1, description="Share of each round's training batch replayed from earlier rounds."
    )
    carry_optimizer: bool = Field(
        True,
        description="Continue AdamW's moments from one training round to the next instead of restarting them.",
    )
    consolidation_epochs: int | None = Field(
        None,
        ge=0,
        description="Of each example's epochs, how many wait for one consolidation over everything taught, "
        "all modules shuffled together, when the run finishes; empty picks half of them, rounded down (6 of the "
        "tiny student's 12, 1 of a pretrained student's 3; 0: every epoch in the example's own round).",
    )
    lora_r: int = Field(16, gt=0, description="LoRA rank.")
    lora_alpha: int = Field(32, gt=0, description="LoRA alpha.")
    lora_dropout: float = Field(0.05, ge=0, lt=1, description="LoRA dropout.")
    lora_targets: list[str] = Field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"], description="Modules LoRA wraps."
    )
    seed: int = Field(0, description="Seed of data order and dropout.")

    def kept_back(self, epochs: int) -> int:
        """Of an example's ``epochs``, those it keeps back for consolidation: ``consolidation_epochs``, or half.

        Half, because a round's own batch trained for all its epochs at once is what the student keeps best at the
        end and the earlier rounds' fade (docs/bench-log.md, Change 22): the held-out accuracy of the same
        curriculum rose from 0.13 to 0.20 when half the epochs waited for the pass over everything taught. The other
        half stays in the round, so each diagnosis still sees what the round taught."""
        return self.consolidation_epochs if self.consolidation_epochs is not None else epochs // 2

    @property
    def consolidates(self) -> bool:
        """Whether any epoch waits for consolidation. Unset epochs pick 3 or 12 (``default_epochs``), half of
        which is at least 1."""
        return self.kept_back(self.epochs or 3) > 0
