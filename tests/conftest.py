"""Fixtures shared by test modules; the student tests' helpers live in student_helpers.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from student_helpers import teacher_gguf, tiny_llama
from transformers import AutoTokenizer


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """One torch thread for a module's tests.

    Tests share two cores with other work: one thread avoids oversubscription stalls
    and keeps floating-point results, and so the trained answers, reproducible.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The teacher's tokenizer as a Hugging Face folder, read from the bundled GGUF (no network)."""
    path = teacher_gguf()
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    folder = tmp_path_factory.mktemp("teacher")
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def pretrained_dir(tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local 'pretrained' folder, as a user's model would be: random tiny Llama plus tokenizer."""
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    folder = tmp_path_factory.mktemp("pretrained")
    tiny_llama(len(tokenizer)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
