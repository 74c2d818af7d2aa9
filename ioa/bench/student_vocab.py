"""The bench student's tokenizer: the teacher's, cut down to the tokens of the domain's teaching text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from transformers import AutoTokenizer, PreTrainedTokenizerFast

from ioa.domains.base import Domain
from ioa.domains.steps import worked_steps
from ioa.graph.ablations import verbatim_target
from ioa.student_train.domain_vocab import cut_tokenizer
from ioa.student_train.generate import format_prompt

SAMPLE_PER_CELL = 100
"""Exercises per (module, level) whose text decides the kept tokens; rarer tokens fall back to shorter pieces."""
SAMPLE_SEED = 999_983
"""An exercise stream of its own: which tokens exist reveals nothing about any trial's exercises or probes."""


def _teaching_text(domain: Domain, full: PreTrainedTokenizerFast) -> Iterator[str]:
    for module in domain.modules:
        for level in range(module.levels):
            for task in domain.exercises(module.id, level, SAMPLE_PER_CELL, SAMPLE_SEED):
                yield format_prompt(full, task.question)
                yield verbatim_target(worked_steps(task), task.answer)


def domain_tokenizer(domain: Domain, teacher_dir: Path, out: Path) -> Path:
    """Write the cut tokenizer to ``out`` (the same every time for the same domain) and return ``out``."""
    full = AutoTokenizer.from_pretrained(teacher_dir)
    return cut_tokenizer(full, _teaching_text(domain, full), out)
