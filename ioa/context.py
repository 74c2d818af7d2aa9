"""The runtime context: the services every node uses, built once per process and never checkpointed."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ioa.config import Config
from ioa.events import Reporter
from ioa.rundir import RunDir
from ioa.traces import Tracer

if TYPE_CHECKING:
    from ioa.domains.base import Domain
    from ioa.memory import ConceptMemory
    from ioa.student_train.model import Student
    from ioa.student_train.served import StudentEndpoint
    from ioa.teacher.protocol import Teacher


@dataclass
class Services:
    """Injected into nodes as ``runtime.context``; tests build one with fakes or tiny models."""

    config: Config
    run_dir: RunDir
    domain: Domain
    teacher: Teacher
    memory: ConceptMemory
    tracer: Tracer
    tokenizer_dir: Path
    progress: Reporter = field(default_factory=Reporter)
    """Where nodes report progress (ioa/events.py); the default drops every report."""
    student_endpoint: StudentEndpoint | None = None
    """Answers probes for the student when ``student.eval_base_url`` is set; None answers in process."""
    _student: Student | None = None
    _student_from: str | None = None

    def student(self, checkpoint: str | None) -> Student:
        """The student as of ``checkpoint`` (None = initial), loaded only when it changed.

        Loading from the checkpoint named in the state, not from memory, is what makes a
        resumed run train from exactly the weights, AdamW state and RNG states the last finished round saved.
        """
        from ioa.student_train.checkpoint import restore_trainer_state
        from ioa.student_train.model import load_student

        key = checkpoint or "<initial>"
        if self._student is None or self._student_from != key:
            path = self.run_dir.resolve(checkpoint) if checkpoint else None
            self._student = load_student(self.config.student, self.tokenizer_dir, path, self.config.training)
            if path is not None:  # and its optimizer and RNG states, so the next round trains as it would have
                restore_trainer_state(self._student, path, self.config.training.carry_optimizer)
            self._student_from = key
        return self._student

    def release_student(self, checkpoint: str | None) -> Student:
        """The student as of ``checkpoint``, handed over: the services forget it, so the taker (the final export,
        which merges a LoRA adapter in place) holds the only copy instead of loading a second one beside it."""
        student = self.student(checkpoint)
        self._student, self._student_from = None, None
        return student

    def adopt_student(self, student: Student, checkpoint: str) -> None:
        """Keep the just-trained student in memory as the one saved at ``checkpoint``."""
        self._student, self._student_from = student, checkpoint
