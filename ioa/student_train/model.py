"""The student: built from config (tiny from-scratch Llama or a pretrained causal LM) or from a checkpoint."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
import transformers
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
)

from ioa.config import StudentConfig, TrainingConfig
from ioa.errors import UsageError
from ioa.student_train.precision import Precision, choose_precision

# A LoRA checkpoint holds only the adapter; this file says which base it sits on.
BASE_FILE = "base_model.json"

BUNDLED = "bundled"
"""``student.model`` naming the bundled SmolLM2-135M-Instruct (the embedded teacher's weights): a pretrained
student that needs no network, e.g. for ``ioa bench`` with its oracle teacher."""
BUILT_IN = ("tiny", BUNDLED)
"""``student.model`` values that name a student this package provides, not a path or hub id."""
TINY_TOKENIZER = Path(__file__).with_name("tiny_tokenizer")
"""The tiny student's own tokenizer and chat template (SmolLM2's, shipped as package data; see its NOTICE), so that
it needs neither the embedded teacher nor the package that ships the teacher's weights."""


@dataclass
class Student:
    """A student model ready to generate and to train."""

    model: transformers.PreTrainedModel
    """The causal LM; a ``peft.PeftModel`` when fine-tuned with LoRA."""
    tokenizer: transformers.PreTrainedTokenizerBase
    """Its tokenizer, left-padding, with a pad token."""
    device: torch.device
    """Where the model lives."""
    finetune: Literal["full", "lora"]
    """Which weights training updates."""
    config: StudentConfig | None = None
    """The config the base model was built from; a LoRA checkpoint records it to rebuild its base."""
    optimizer_state: dict[str, Any] | None = None
    """With ``training.carry_optimizer``, AdamW's state (moments and step counts, on the CPU) after the last
    training call, which the next one continues; saved beside each checkpoint, so a resumed run continues it too."""

    def context_window(self) -> int:
        """Tokens the model attends over: its config's position limit (the tiny student's ``context_length``)."""
        config = getattr(self.model, "config", None)
        return int(
            getattr(config, "max_position_embeddings", 0) or (self.config.context_length if self.config else 2048)
        )

    def precision(self) -> Precision:
        """How it is computed on its device: autocast dtype and loss scaling (``ioa.student_train.precision``)."""
        return choose_precision(self.config.dtype if self.config else "auto", self.device, self.finetune)

    def params(self) -> tuple[int, int]:
        """(total parameters, trainable parameters); tied embeddings count once."""
        total = sum(p.numel() for p in self.model.parameters())
        trainable = sum(p.numel() for p in self.model.parameters() if p.requires_grad)
        return total, trainable


def resolve_device(name: str) -> torch.device:
    """'auto' means CUDA when present, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("student.device is 'cuda' but no CUDA device is available")
    return torch.device(name)


def student_dtype(cfg: StudentConfig, device: torch.device, finetune: str) -> torch.dtype:
    """The weight dtype: the configured one, or for 'auto' fp32 on the CPU and for full fine-tuning, and for a LoRA
    student's frozen base on CUDA bf16 where the GPU has it, else fp16 (``choose_precision``)."""
    return choose_precision(cfg.dtype, device, finetune).weights


def _finetune_mode(cfg: StudentConfig) -> Literal["full", "lora"]:
    if cfg.finetune == "auto":
        return "full" if cfg.model == "tiny" else "lora"
    return cfg.finetune


def _prepare_tokenizer(tokenizer: transformers.PreTrainedTokenizerBase) -> transformers.PreTrainedTokenizerBase:
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    # Left padding so that every prompt in a generation batch ends where decoding starts.
    tokenizer.padding_side = "left"
    return tokenizer


def resolve_alias(name: str) -> str:
    """``bundled`` as the local folder of the bundled model (converted on first use); any other name as given."""
    if name != BUNDLED:
        return name
    from ioa.teacher.local_server import ensure_teacher_folder

    return str(ensure_teacher_folder())


def _source(name: str) -> tuple[str, dict[str, str]]:
    """A model reference or ``bundled`` as from_pretrained arguments; a ``.gguf`` path loads via ``gguf_file=``."""
    name = resolve_alias(name)
    if name.endswith(".gguf"):
        path = Path(name).expanduser()
        return str(path.parent), {"gguf_file": path.name}
    return str(Path(name).expanduser()) if name.startswith("~") else name, {}


GGUF_MAGIC = b"GGUF"


def check_source(name: str) -> None:
    """Fail fast, before a run directory exists, on a bad local student: missing, a GGUF that does not load, corrupt
    weights, or no tokenizer of its own (a student never borrows the teacher's).

    Hub ids are left to ``from_pretrained``: whether one is cached is only known by trying.
    """
    if name in BUILT_IN or not (name.startswith(("/", "~", "./", "../")) or name.endswith(".gguf")):
        return
    path = Path(name).expanduser()
    if not path.exists():
        raise UsageError(f"student model {name!r} does not exist")
    if name.endswith(".gguf"):
        _check_gguf(name, path)
    elif path.is_dir():
        _check_safetensors(name, path)
        _check_tokenizer(name, path)


def _check_gguf(name: str, path: Path) -> None:
    """Parse the GGUF's header, metadata and tensor table as ``from_pretrained`` will (a few seconds, no weights
    de-quantized): a truncated file, an architecture transformers cannot load, or no tokenizer fails here."""
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    with open(path, "rb") as f:
        if f.read(4) != GGUF_MAGIC:
            raise UsageError(f"student model {name!r} is not a GGUF file (no GGUF magic bytes)")
    try:
        parsed = load_gguf_checkpoint(str(path), return_tensors=False)
    except Exception as exc:  # noqa: BLE001 - the reader raises whatever a damaged file provokes
        raise UsageError(f"student model {name!r} does not load: {_first_line(exc)}") from exc
    if not parsed.get("tokenizer", {}).get("tokens"):
        raise UsageError(f"student model {name!r} carries no tokenizer (no tokenizer.ggml.tokens in the GGUF)")


def _check_tokenizer(name: str, folder: Path) -> None:
    """The folder's own tokenizer loads: every student but the tiny one is asked in its own chat template."""
    from transformers import AutoTokenizer

    try:
        AutoTokenizer.from_pretrained(str(folder))
    except Exception as exc:  # noqa: BLE001 - tokenizer classes raise ValueError, OSError, TypeError and more
        vocab = [p for p in folder.iterdir() if p.name.startswith(("tokenizer.", "vocab.")) or p.suffix == ".model"]
        if not vocab:
            raise UsageError(
                f"student model {name!r} has no tokenizer (no tokenizer.json, tokenizer.model or vocab.json); "
                "save the model's tokenizer into the folder"
            ) from exc
        raise UsageError(f"student model {name!r}: its tokenizer does not load ({_first_line(exc)})") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _check_safetensors(name: str, folder: Path) -> None:
    """Read each weights file's header, which spans every tensor: a truncated file or a garbled header fails here."""
    from safetensors import SafetensorError, safe_open

    for weights in sorted(folder.glob("*.safetensors")):
        try:
            with safe_open(str(weights), framework="pt"):
                pass
        except (SafetensorError, OSError) as exc:
            raise UsageError(f"student model {name!r}: {weights.name} is corrupt ({exc})") from exc


def _from_pretrained(loader: type, name: str, **kwargs: object) -> object:
    where, extra = _source(name)
    try:
        return loader.from_pretrained(where, **extra, **kwargs)
    except (OSError, ValueError) as exc:
        # A hub id that is neither cached nor reachable (offline) lands here too, with the hub's own reason.
        raise UsageError(f"cannot load student {name!r}: {str(exc).splitlines()[0]}") from exc


def dequantized(model: transformers.PreTrainedModel) -> transformers.PreTrainedModel:
    """A GGUF-loaded model as a plain one. Its weights are already de-quantized floats, but it still
    carries the GGUF quantizer, and save_pretrained refuses to write such a model; so the weights move
    into a model of the same class built from the config minus its quantization entry."""
    config = model.config
    if getattr(config, "quantization_config", None) is None:
        return model
    del config.quantization_config
    # GGUF leaves this None; `transformers serve` and vLLM pick the model class from it.
    config.architectures = [type(model).__name__]
    plain = type(model)(config)
    plain.load_state_dict(model.state_dict())
    plain.generation_config = model.generation_config
    return plain


def build_tiny(cfg: StudentConfig, tokenizer: transformers.PreTrainedTokenizerBase) -> LlamaForCausalLM:
    """The embedded from-scratch student: a small Llama over ``tokenizer``'s vocabulary, same weights every time."""
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=cfg.hidden_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        num_key_value_heads=cfg.num_heads,
        intermediate_size=cfg.intermediate_size,
        max_position_embeddings=cfg.context_length,
        tie_word_embeddings=True,  # the embedding matrix is most of a tiny model; share it with the head
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    # Initialise on CPU in fp32 from our own seed, so the initial student is bit-identical on every machine and in
    # every run.
    with _seeded(cfg.init_seed):
        return LlamaForCausalLM(config)


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Random draws inside come from ``seed``; the caller's RNG is left where it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _base_model(cfg: StudentConfig, tokenizer_dir: Path, finetune: str, device: torch.device) -> Student:
    if cfg.model == "tiny":
        tokenizer = _prepare_tokenizer(AutoTokenizer.from_pretrained(tokenizer_dir))
        model = build_tiny(cfg, tokenizer)
    else:
        tokenizer = _prepare_tokenizer(_from_pretrained(AutoTokenizer, cfg.model))
        loaded = _from_pretrained(AutoModelForCausalLM, cfg.model, dtype=student_dtype(cfg, device, finetune))
        model = dequantized(loaded)
    return _placed(model, tokenizer, cfg, finetune, device)


def _placed(
    model: transformers.PreTrainedModel,
    tokenizer: transformers.PreTrainedTokenizerBase,
    cfg: StudentConfig,
    finetune: str,
    device: torch.device,
) -> Student:
    model.to(device=device, dtype=student_dtype(cfg, device, finetune))
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return Student(model, tokenizer, device, finetune, cfg)


def random_student(
    config: transformers.PretrainedConfig,
    tokenizer_dir: Path,
    cfg: StudentConfig,
    training: TrainingConfig | None = None,
) -> Student:
    """A randomly initialised student of any causal-LM architecture (e.g. a Llama- or Qwen-shaped ``config``),
    placed, typed and LoRA-wrapped exactly as ``load_student`` does; for benchmarks at real model sizes.

    ``cfg`` supplies device, dtype, finetune mode and gradient checkpointing; ``cfg.model`` is only a label.
    """
    device = resolve_device(cfg.device)
    finetune = _finetune_mode(cfg)
    tokenizer = _prepare_tokenizer(AutoTokenizer.from_pretrained(tokenizer_dir))
    with torch.device(device):  # initialise where it will train: a 1B model is slow to build on the CPU
        model = AutoModelForCausalLM.from_config(config, dtype=student_dtype(cfg, device, finetune))
    return _with_adapter(_placed(model, tokenizer, cfg, finetune, device), training, cfg.init_seed)


def load_student(
    cfg: StudentConfig,
    tokenizer_dir: Path,
    checkpoint: Path | None = None,
    training: TrainingConfig | None = None,
) -> Student:
    """The initial student from ``cfg``, or the student saved by ``train_student`` in ``checkpoint``.

    ``tokenizer_dir`` is the tiny student's tokenizer folder (``TINY_TOKENIZER``, or the bench's cut of it); only
    the tiny student uses it: every other student brings its own tokenizer and chat template.
    ``training`` supplies the LoRA settings (r, alpha, dropout, targets); defaults when omitted.
    """
    device = resolve_device(cfg.device)
    if checkpoint is not None:
        return _load_checkpoint(Path(checkpoint), cfg, device)
    return _with_adapter(_base_model(cfg, tokenizer_dir, _finetune_mode(cfg), device), training, cfg.init_seed)


def _with_adapter(student: Student, training: TrainingConfig | None, seed: int) -> Student:
    """A LoRA student gets a fresh adapter (settings from ``training``, defaults when None); a full one is as is."""
    if student.finetune == "lora":
        # LoRA's A matrices are random: drawn from init_seed, not from whatever the process drew before, so
        # the same seed gives every strategy of a bench, and every rerun, the same adapter to train.
        with _seeded(seed):
            student.model = get_peft_model(student.model, lora_config(training or TrainingConfig()))
    return student


def lora_config(cfg: TrainingConfig) -> LoraConfig:
    """docs/design.md §7: r 16, alpha 32, dropout 0.05 on the attention projections."""
    return LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=list(cfg.lora_targets),
        task_type="CAUSAL_LM",
    )


def _load_checkpoint(path: Path, cfg: StudentConfig, device: torch.device) -> Student:
    if not path.is_dir():
        raise UsageError(f"student checkpoint {path} does not exist")
    pointer = path / BASE_FILE
    if not pointer.exists():
        # Full weights: the folder is a complete Hugging Face model.
        tokenizer = _prepare_tokenizer(AutoTokenizer.from_pretrained(path))
        model = AutoModelForCausalLM.from_pretrained(path, dtype=student_dtype(cfg, device, "full")).to(device)
        return Student(model, tokenizer, device, "full", cfg)
    # LoRA: rebuild the base exactly as it was first built (the tiny one from its recorded
    # config and the tokenizer saved beside the adapter), then lay the saved adapter on top.
    base_cfg = StudentConfig.model_validate(json.loads(pointer.read_text())["student"])
    base_cfg = base_cfg.model_copy(update={"device": cfg.device})
    student = _base_model(base_cfg, path, "lora", device)
    student.model = PeftModel.from_pretrained(student.model, path, is_trainable=True).to(device)
    return student
