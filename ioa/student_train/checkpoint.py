"""Writing a student checkpoint all-or-nothing: full weights, or a LoRA adapter plus a pointer to its base."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from ioa.student_train.model import BASE_FILE, Student

HPARAMS_FILE = "hparams.json"


def _base_pointer(student: Student) -> dict[str, Any]:
    if student.config is None:
        raise ValueError("a LoRA student needs the StudentConfig of its base to be saved")
    cfg = student.config.model_dump(mode="json")
    # A local base folder is recorded absolutely so the checkpoint loads from any working directory.
    if cfg["model"] != "tiny" and Path(cfg["model"]).exists():
        cfg["model"] = str(Path(cfg["model"]).resolve())
    return {"base_model": cfg["model"], "student": cfg}


def save_checkpoint(student: Student, out_dir: Path, hparams: dict[str, Any]) -> None:
    """Save the student and its hyperparameters to ``out_dir``, replacing any earlier one there.

    Everything is written into a temporary sibling folder that is renamed at the end,
    so a process killed half-way never leaves a half checkpoint under ``out_dir``.
    """
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    # For a PeftModel this writes the adapter only; for a plain model, the full weights.
    student.model.save_pretrained(tmp)
    student.tokenizer.save_pretrained(tmp)
    if student.finetune == "lora":
        (tmp / BASE_FILE).write_text(json.dumps(_base_pointer(student), indent=2))
    (tmp / HPARAMS_FILE).write_text(json.dumps(hparams, indent=2))
    old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
    if out_dir.exists():
        out_dir.rename(old)  # a directory rename cannot replace a non-empty target
    tmp.rename(out_dir)
    shutil.rmtree(old, ignore_errors=True)
