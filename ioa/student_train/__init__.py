"""The student model, its batched generation and its training recipe (docs/design.md §1, §7)."""

from ioa.student_train.generate import format_prompt, generate_answers
from ioa.student_train.model import Student, load_student, random_student, resolve_device
from ioa.student_train.train import Example, TrainResult, default_lr, train_student

__all__ = [
    "Example",
    "Student",
    "TrainResult",
    "default_lr",
    "format_prompt",
    "generate_answers",
    "load_student",
    "random_student",
    "resolve_device",
    "train_student",
]
