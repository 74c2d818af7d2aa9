"""A run's tiny student speaks the tiny tokenizer cut down to its domain (``ioa.student_train.domain_vocab``).

With the full 49,152-token vocabulary, 9.4M of the tiny student's 11.2M weights are its embedding, and its output
layer is most of every step: a step on 16 rows of 110 tokens took 2.5 s on a 2-core AVX2 CPU, against 0.35 s at
2,048 tokens (``benchmarks/student_vocab.py`` times a round of the real recipe at both). The cut keeps every token
of the domain's questions, answers and lessons, so the answers a probe asks for stay whole tokens; the teacher's
other words fall back to shorter pieces (15% more tokens on the main job's teacher-written lessons).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

from transformers import AutoTokenizer, PreTrainedTokenizerFast

from ioa.adapter.text import solution_lines, templated
from ioa.domains.base import Domain
from ioa.student_train.domain_vocab import cut_tokenizer
from ioa.student_train.generate import format_prompt
from ioa.student_train.model import TINY_TOKENIZER

QUESTIONS_PER_LEVEL = 40
"""Questions per (module, level) whose text the cut keeps: a words unit has 4 words a level, and 40 draws miss one
with odds of 1 in 100,000."""
SEED = 999_983
"""A stream of its own, so the cut says nothing about which questions a run probes."""


def lesson_text(domain: Domain, tokenizer: PreTrainedTokenizerFast) -> Iterator[str]:
    """What a run's student reads and writes: every level's questions as prompted, their answers, and the
    level's style references in the form of a training target (``Step 1: ...``, ``Answer: ...``)."""
    for module in domain.modules:
        yield f"{module.name}: {module.description}"
        for level in range(module.levels):
            for task in domain.exercises(module.id, level, QUESTIONS_PER_LEVEL, SEED):
                yield format_prompt(tokenizer, task.question)
                yield f"Answer: {task.answer}"
            for ref in domain.lesson(module.id, level).references:
                yield format_prompt(tokenizer, ref.problem)
                yield "\n".join([*templated(solution_lines(ref.steps)), f"Answer: {ref.answer}"])
                yield ref.check


def run_tokenizer(domain: Domain, out: Path) -> Path:
    """The tiny tokenizer cut to ``domain``, written once to ``out`` and read from there on resume."""
    if out.is_dir():
        return out
    # Written beside and renamed into place: a run killed mid-write must not resume with the uncut files that
    # cut_tokenizer saves first.
    partial = out.with_name(f".{out.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    full = AutoTokenizer.from_pretrained(TINY_TOKENIZER)
    cut_tokenizer(full, lesson_text(domain, full), partial)
    partial.rename(out)
    return out
