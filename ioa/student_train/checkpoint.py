"""Writing a student checkpoint all-or-nothing: full weights, or a LoRA adapter plus a pointer to its base,
beside the hyperparameters and the trainer state that a resumed run continues from."""

from __future__ import annotations

import json
import os
import random
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from ioa.student_train.model import BASE_FILE, BUILT_IN, Student

HPARAMS_FILE = "hparams.json"
TRAINER_STATE = "trainer_state.pt"
"""AdamW's state (moments and step counts) and the global RNG states as the round left them."""


def on_cpu(tree: Any) -> Any:
    """A copy of a (nested) state dict with every tensor on the CPU, so the carried optimizer state holds no
    accelerator memory between rounds."""
    if isinstance(tree, torch.Tensor):
        return tree.detach().to("cpu", copy=True)
    if isinstance(tree, dict):
        return {k: on_cpu(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [on_cpu(v) for v in tree]
    return tree


def rng_states() -> dict[str, Any]:
    """The global generators' states: torch's CPU and CUDA ones and Python's ``random``."""
    states: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_trainer_state(student: Student, folder: Path, carry_optimizer: bool) -> None:
    """Continue where the round saved in ``folder`` left off: its AdamW state (with ``carry_optimizer``) and the
    global RNG states. A checkpoint without a trainer state (an older run's) leaves both as they are."""
    path = Path(folder) / TRAINER_STATE
    if not path.exists():
        return
    saved = torch.load(path, weights_only=True)  # tensors and plain containers only, never arbitrary objects
    if carry_optimizer:
        student.optimizer_state = saved["optimizer"]
    rng = saved["rng"]
    torch.set_rng_state(rng["torch"])
    random.setstate(rng["python"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])


def _base_pointer(student: Student) -> dict[str, Any]:
    if student.config is None:
        raise ValueError("a LoRA student needs the StudentConfig of its base to be saved")
    cfg = student.config.model_dump(mode="json")
    # A local base folder is recorded absolutely so the checkpoint loads from any working directory.
    if cfg["model"] not in BUILT_IN and Path(cfg["model"]).expanduser().exists():
        cfg["model"] = str(Path(cfg["model"]).expanduser().resolve())
    return {"base_model": cfg["model"], "student": cfg}


@contextmanager
def atomic_dir(out_dir: Path) -> Iterator[Path]:
    """A temporary sibling folder to write into, renamed to ``out_dir`` (replacing any earlier one) on success.

    A process killed half-way never leaves a half-written folder under ``out_dir``.
    """
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
    if out_dir.exists():
        out_dir.rename(old)  # a directory rename cannot replace a non-empty target
    tmp.rename(out_dir)
    shutil.rmtree(old, ignore_errors=True)


def save_checkpoint(student: Student, out_dir: Path, hparams: dict[str, Any]) -> None:
    """Save the student, its hyperparameters and its trainer state to ``out_dir``, replacing any earlier one there."""
    with atomic_dir(out_dir) as tmp:
        if student.finetune == "lora":
            pointer = _base_pointer(student)
            base = pointer["base_model"]
            if base not in BUILT_IN and not base.endswith(".gguf"):
                # Lets AutoModelForCausalLM.from_pretrained(adapter folder) find the base by itself.
                for peft_cfg in student.model.peft_config.values():
                    peft_cfg.base_model_name_or_path = base
            (tmp / BASE_FILE).write_text(json.dumps(pointer, indent=2))
        # For a PeftModel this writes the adapter only; for a plain model, the full weights.
        student.model.save_pretrained(tmp)
        student.tokenizer.save_pretrained(tmp)
        (tmp / HPARAMS_FILE).write_text(json.dumps(hparams, indent=2))
        torch.save({"optimizer": student.optimizer_state, "rng": rng_states()}, tmp / TRAINER_STATE)
