"""Probes answered by a served student (vLLM, SGLang, `transformers serve`) through the teacher's client code."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ioa.config import StudentConfig, TeacherConfig
from ioa.errors import RuntimeFailure, UsageError
from ioa.student_train.model import resolve_alias
from ioa.teacher.client import build_chat_model
from ioa.teacher.prompt_format import probe_messages

CHECKPOINT = "{checkpoint}"


@dataclass
class StudentEndpoint:
    """An OpenAI-compatible endpoint that answers probes for the student, greedily and concurrently.

    The request's model name is ``cfg.eval_model`` with ``{checkpoint}`` replaced by the current
    checkpoint's absolute path (the base model before the first round), so a server that loads
    models by path, such as `transformers serve` started without a model, evaluates each round's student.
    """

    cfg: StudentConfig
    api_key: str | None = None

    def __post_init__(self) -> None:
        if not self.cfg.eval_base_url:
            raise UsageError("student.eval_base_url is not set")
        if CHECKPOINT in self.cfg.eval_model and self.cfg.model == "tiny":
            # The initial tiny student exists only in memory; nothing could serve it by path.
            raise UsageError("student.eval_model '{checkpoint}' needs a pretrained student (student.model)")

    def model_name(self, checkpoint: Path | None) -> str:
        """The name sent with each request for the student saved at ``checkpoint`` (None = initial)."""
        # A server cannot know the alias 'bundled': it is sent as the folder the bundled model lives in.
        where = str(Path(checkpoint).resolve()) if checkpoint is not None else resolve_alias(self.cfg.model)
        return self.cfg.eval_model.replace(CHECKPOINT, where)

    def answer(
        self,
        questions: list[str],
        checkpoint: Path | None,
        *,
        max_tokens: int,
        progress: Callable[[int], None] | None = None,
    ) -> list[str]:
        """Greedy answers in order within ``max_tokens`` (the run's student answer cap), ``eval_batch_size``
        requests in flight at a time."""
        # The same client as the teacher's, set for probes: temperature 0 and the student's answer cap.
        client_cfg = TeacherConfig(model=self.model_name(checkpoint), temperature=0.0, max_tokens=max_tokens)
        chat = build_chat_model(client_cfg, self.cfg.eval_base_url, self.api_key)
        # The same turns the in-process student sees; the server renders them with the model's chat template.
        inputs = [probe_messages(q) for q in questions]
        step = self.cfg.eval_batch_size
        answers: list[str] = []
        for start in range(0, len(inputs), step):
            chunk = inputs[start : start + step]
            try:
                replies = chat.batch(chunk, config={"max_concurrency": step})
            except Exception as exc:  # the client already retried transient errors
                raise RuntimeFailure(
                    f"student endpoint {self.cfg.eval_base_url} failed: {type(exc).__name__}: {exc}"
                ) from exc
            answers += [str(r.content).strip() for r in replies]
            if progress is not None:
                progress(len(chunk))
        return answers
