"""`ioa train-student`: the training recipe on a JSONL file of examples, in one process or under ``accelerate launch``.

The same command runs plainly on one device, or on several with no code of its own for distribution:

    accelerate launch --multi_gpu --num_processes 2 -m ioa train-student --data examples.jsonl --out student/

``train_student`` does the rest (each rank trains on its share of every batch; rank 0 saves).
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

from accelerate import PartialState

from ioa.config import Config
from ioa.errors import UsageError
from ioa.jsonl import numbered_json_lines
from ioa.student_train.model import TINY_TOKENIZER, check_source, load_student, resolve_device
from ioa.student_train.train import Example, TrainResult, train_student


def read_examples(path: Path) -> list[Example]:
    """One ``{"prompt": ..., "target": ...}`` object per line; blank lines are skipped."""
    if not path.is_file():
        raise UsageError(f"training data {path} does not exist")
    examples = []
    for n, row in numbered_json_lines(path):
        if not (isinstance(row, dict) and isinstance(row.get("prompt"), str) and isinstance(row.get("target"), str)):
            raise UsageError(f'{path}:{n}: expected {{"prompt": "...", "target": "..."}}')
        examples.append(Example(prompt=row["prompt"], target=row["target"]))
    if not examples:
        raise UsageError(f"{path} holds no examples")
    return examples


def train_from_file(cfg: Config, data: Path, out: Path) -> TrainResult:
    """Build the student from ``cfg.student``, train it on ``data`` with ``cfg.training``, save it to ``out``.

    Prints one line per rank to stderr (so a launch shows who took part), and on rank 0 progress every tenth
    of the steps to stderr and the result as one JSON line to stdout.
    """
    examples = read_examples(data)
    check_source(cfg.student.model)
    # Join the process group before anything touches the GPU: on several GPUs it pins each rank to its own.
    state = PartialState(cpu=resolve_device(cfg.student.device).type != "cuda")
    with state.main_process_first():  # rank 0 converts the bundled student (student.model=bundled) once
        student = load_student(cfg.student, TINY_TOKENIZER, training=cfg.training)

    def report(step: int, total: int, loss: float) -> None:
        if state.is_main_process and (step == total or step % max(1, total // 10) == 0):
            print(f"step {step}/{total} loss {loss:.4f}", file=sys.stderr, flush=True)

    result = train_student(student, examples, cfg.training, out, progress=report)
    # One write with its newline: print() writes the text and the newline separately, and two ranks sharing
    # stderr then interleave their lines.
    sys.stderr.write(
        f"rank {state.process_index} of {state.num_processes} on {state.device} ({state.backend or 'no backend'}): "
        f"{result.steps} steps\n"
    )
    sys.stderr.flush()
    if state.is_main_process:
        print(json.dumps(asdict(result)), flush=True)
    return result
