"""The run's final student: the LoRA adapter and a merged model folder, each loadable by
``transformers.AutoModelForCausalLM`` (and so by vLLM: the merged folder as a model, the adapter
with ``--lora-modules``)."""

from __future__ import annotations

import json
from pathlib import Path

from ioa.config import Config
from ioa.rundir import RunDir
from ioa.student_train.checkpoint import HPARAMS_FILE, atomic_dir, save_checkpoint
from ioa.student_train.model import Student, load_student

FINAL = "final"
ADAPTER = "adapter"
MERGED = "merged"


def export_student(student: Student, out_dir: Path, hparams: dict | None = None) -> dict[str, Path]:
    """Write ``out_dir/adapter`` (LoRA students only) and ``out_dir/merged`` (always); returns {name: folder}.

    The student is consumed: its adapter is merged into its base weights in place, which
    spares a second copy of a model that may fill most of the memory.
    """
    out_dir = Path(out_dir)
    written: dict[str, Path] = {}
    model = student.model
    if student.finetune == "lora":
        save_checkpoint(student, out_dir / ADAPTER, hparams or {})
        written[ADAPTER] = out_dir / ADAPTER
        model = model.merge_and_unload()
    with atomic_dir(out_dir / MERGED) as tmp:
        model.save_pretrained(tmp)
        student.tokenizer.save_pretrained(tmp)
    written[MERGED] = out_dir / MERGED
    return written


def export_run_student(
    config: Config, tokenizer_dir: Path, run_dir: RunDir, checkpoint: str | None, student: Student | None = None
) -> dict[str, str]:
    """Export the run's last student checkpoint (or the initial student if it never trained) to RUN_DIR/student/final.

    ``student``, when given, is that checkpoint's student already in memory: it is exported (and consumed) instead of
    a second copy loaded from disk. Returns the written folders relative to the run directory, for summary.json.
    """
    path = run_dir.resolve(checkpoint) if checkpoint else None
    if student is None:
        student = load_student(config.student, tokenizer_dir, path, config.training)
    hparams = json.loads((path / HPARAMS_FILE).read_text()) if path and (path / HPARAMS_FILE).exists() else None
    written = export_student(student, run_dir.student / FINAL, hparams)
    return {name: run_dir.relative(folder) for name, folder in written.items()}
