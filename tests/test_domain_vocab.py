"""The bench student's cut tokenizer: the teacher's tokens for the domain's text, any other text still readable."""

from __future__ import annotations

from pathlib import Path

import pytest
from student_helpers import TINY
from transformers import AutoTokenizer

from ioa.bench.student_vocab import domain_tokenizer
from ioa.config import StudentConfig, TrainingConfig
from ioa.domains import get_domain
from ioa.domains.steps import worked_steps
from ioa.graph.ablations import verbatim_target
from ioa.student_train import Example, format_prompt, generate_answers, load_student, train_student

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def cut_dir(tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return domain_tokenizer(get_domain("arithmetic", 0), tokenizer_dir, tmp_path_factory.mktemp("cut"))


def test_cut_tokenizer_splits_unseen_domain_text_exactly_as_the_teachers(tokenizer_dir: Path, cut_dir: Path) -> None:
    full, cut = AutoTokenizer.from_pretrained(tokenizer_dir), AutoTokenizer.from_pretrained(cut_dir)
    assert len(cut) < 1_000 < 40_000 < len(full)
    domain = get_domain("arithmetic", 0)
    # Another exercise stream than the one the tokens were chosen from, and the probes, which it never sees.
    tasks = [t for m in domain.modules for lv in range(m.levels) for t in domain.exercises(m.id, lv, 10, seed=7)]
    tasks += [t for m in domain.modules for t in domain.probes(m.id, 15, 0)]
    texts = [format_prompt(full, t.question) for t in tasks] + [
        verbatim_target(worked_steps(t), t.answer) for t in tasks
    ]
    for text in texts:
        assert cut.tokenize(text) == full.tokenize(text), text
    assert format_prompt(cut, "Calculate 1 + 2.") == format_prompt(full, "Calculate 1 + 2.")
    for name in ("bos_token", "eos_token", "pad_token", "unk_token"):
        assert getattr(cut, name) == getattr(full, name)
        assert getattr(cut, f"{name}_id") == getattr(full, f"{name}_id")


def test_cut_tokenizer_reads_text_outside_the_domain(cut_dir: Path) -> None:
    cut = AutoTokenizer.from_pretrained(cut_dir)
    text = "Zebras are naïve → 東京, ✓ 12345!"
    ids = cut(text, add_special_tokens=False)["input_ids"]
    assert cut.decode(ids) == text
    assert max(ids) < len(cut)


def test_tiny_student_on_the_cut_vocabulary_trains_saves_and_reloads(cut_dir: Path, tmp_path: Path) -> None:
    cfg = StudentConfig(**TINY)
    student = load_student(cfg, cut_dir)
    assert student.model.config.vocab_size == len(student.tokenizer) < 1_000
    examples = [
        Example(f"Calculate {a} + {b}.", f"{a} + {b} = {a + b}\nAnswer: {a + b}") for a in range(4) for b in range(4)
    ]
    result = train_student(student, examples * 4, TrainingConfig(epochs=3, batch_size=8, lr=1e-2), tmp_path / "ckpt")
    assert result.loss_last < result.loss_first
    questions = [e.prompt for e in examples]
    before = generate_answers(student, questions, max_new_tokens=12, batch_size=8)
    reloaded = load_student(cfg, cut_dir, checkpoint=tmp_path / "ckpt")
    assert len(reloaded.tokenizer) == len(student.tokenizer)
    assert generate_answers(reloaded, questions, max_new_tokens=12, batch_size=8) == before
