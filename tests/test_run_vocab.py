"""A run's tiny student speaks the tiny tokenizer cut to the run's domain, written once into the run directory."""

from __future__ import annotations

from pathlib import Path

from transformers import AutoTokenizer

from ioa.domains.words import WordsDomain
from ioa.student_train import format_prompt
from ioa.student_train.model import TINY_TOKENIZER
from ioa.student_train.run_vocab import run_tokenizer


def test_every_probe_and_answer_of_the_words_domain_keeps_the_full_tokenizers_tokens(tmp_path: Path) -> None:
    domain = WordsDomain()
    full = AutoTokenizer.from_pretrained(TINY_TOKENIZER)
    cut = AutoTokenizer.from_pretrained(run_tokenizer(domain, tmp_path / "tok"))
    assert len(cut) < 2_000 < 40_000 < len(full)
    # The probes are a stream the cut never drew from; each of their questions and accepted answers splits as before.
    for module in domain.modules:
        for task in domain.probes(module.id, 36, seed=5):
            prompt = format_prompt(full, task.question)
            assert cut.tokenize(prompt) == full.tokenize(prompt)
            answer = f"Answer: {task.answer}"
            assert cut.tokenize(answer) == full.tokenize(answer)
    # Words of no lesson still read, in shorter pieces.
    other = "Photosynthesis happens in chloroplasts."
    assert cut.decode(cut(other)["input_ids"]) == other
    assert len(cut.tokenize(other)) > len(full.tokenize(other))


def test_the_cut_is_written_once_and_read_back_on_resume(tmp_path: Path) -> None:
    out = run_tokenizer(WordsDomain(), tmp_path / "tok")
    written = (out / "tokenizer.json").stat().st_mtime_ns
    # A resumed run (even of a changed domain) keeps the tokenizer its student was built with.
    assert run_tokenizer(WordsDomain(seed=3), out) == out
    assert (out / "tokenizer.json").stat().st_mtime_ns == written


def test_a_cut_killed_mid_write_is_redone_not_read(tmp_path: Path) -> None:
    # What a kill during the write leaves: the uncut files beside the folder, never the folder itself.
    partial = tmp_path / ".tok.partial"
    AutoTokenizer.from_pretrained(TINY_TOKENIZER).save_pretrained(partial)
    out = run_tokenizer(WordsDomain(), tmp_path / "tok")
    assert len(AutoTokenizer.from_pretrained(out)) < 2_000
    assert not partial.exists()
