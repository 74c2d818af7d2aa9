"""Fixtures shared by test modules: the student tests' models (helpers in student_helpers.py), and one real
small run per test session, reused by every test that needs a finished run.

torch and transformers are imported inside the fixtures that need them, so a test that needs neither
(the config, the rules, the CLI's usage errors) starts without them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

SMALL = [
    "student.hidden_size=64",
    "student.num_layers=2",
    "student.num_heads=2",
    "student.intermediate_size=128",
    "domain.probes_per_module=3",
    "synthesis.examples_per_module=3",
    "budget.max_rounds=2",
    "budget.min_batch_per_module=1",
    "budget.max_teach_attempts=1",
    "training.epochs=2",
]
"""Overrides that make a real run (real teacher server, real training) finish in minutes on 2 CPU cores."""


@pytest.fixture(scope="session")
def small_run(tmp_path_factory) -> tuple[Path, dict]:
    """A finished real run of the embedded default with SMALL overrides: (run directory, summary)."""
    from ioa import run
    from ioa.config import load_config

    run_dir = tmp_path_factory.mktemp("runs") / "small"
    summary = run(load_config(None, SMALL, environ={}), run_dir, progress=False)
    return run_dir, summary


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """One torch thread for a module's tests.

    Tests share two cores with other work: one thread avoids oversubscription stalls
    and keeps floating-point results, and so the trained answers, reproducible.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The teacher's tokenizer as a Hugging Face folder, read from the bundled GGUF (no network)."""
    from student_helpers import teacher_gguf
    from transformers import AutoTokenizer

    path = teacher_gguf()
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    folder = tmp_path_factory.mktemp("teacher")
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def pretrained_dir(tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local 'pretrained' folder, as a user's model would be: random tiny Llama plus tokenizer."""
    from student_helpers import tiny_llama
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    folder = tmp_path_factory.mktemp("pretrained")
    tiny_llama(len(tokenizer)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
