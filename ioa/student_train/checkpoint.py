"""Writing a student checkpoint all-or-nothing: full weights, or a LoRA adapter plus a pointer to its base."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ioa.student_train.model import BASE_FILE, BUILT_IN, Student

HPARAMS_FILE = "hparams.json"


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
    """Save the student and its hyperparameters to ``out_dir``, replacing any earlier one there."""
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
