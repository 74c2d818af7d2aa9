"""The final export: train -> export -> reload with plain transformers -> the same greedy answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from student_helpers import SUMS, TINY
from transformers import AutoModelForCausalLM, AutoTokenizer

from ioa.config import Config, StudentConfig, TrainingConfig
from ioa.rundir import RunDir
from ioa.student_train import Student, format_prompt, generate_answers, load_student, train_student
from ioa.student_train.export import export_run_student, export_student

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def trained_tiny(tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Student, Path]:
    """The tiny from-scratch student after enough steps to answer the sums in more than one way."""
    student = load_student(StudentConfig(**TINY), tokenizer_dir)
    out = tmp_path_factory.mktemp("tiny") / "round_1"
    train_student(student, SUMS * 4, TrainingConfig(epochs=40, batch_size=8, lr=1e-2), out)
    return student, out


QUESTIONS = [e.prompt for e in SUMS] + ["What is 12+30? Answer with digits only.", "Hi"]


def _reload(folder: Path) -> Student:
    """The folder as any transformers user (or vLLM) would load it: no ioa code involved."""
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
    return Student(model, tokenizer, torch.device("cpu"), "full")


def _answers(student: Student) -> list[str]:
    return generate_answers(student, QUESTIONS, max_new_tokens=6, batch_size=8)


def _greedy_ids(student: Student) -> torch.Tensor:
    """Eight greedy tokens per question, never stopped early: compares models even where answers are empty."""
    enc = student.tokenizer([format_prompt(student.tokenizer, q) for q in QUESTIONS[:4]], return_tensors="pt")
    with torch.inference_mode():
        out = student.model.generate(**enc, do_sample=False, max_new_tokens=8, min_new_tokens=8)
    return out[:, enc["input_ids"].shape[1] :]


def test_full_finetuned_student_exports_a_merged_folder(
    trained_tiny: tuple[Student, Path], tokenizer_dir: Path, tmp_path: Path
) -> None:
    student, checkpoint = trained_tiny
    expected, expected_ids = _answers(student), _greedy_ids(student)
    assert len(set(expected)) >= 3, expected  # it learned more than one constant answer

    written = export_student(load_student(StudentConfig(**TINY), tokenizer_dir, checkpoint), tmp_path / "final")

    assert set(written) == {"merged"}  # a full fine-tune has no adapter
    assert json.loads((written["merged"] / "config.json").read_text())["architectures"] == ["LlamaForCausalLM"]
    reloaded = _reload(written["merged"])
    assert _answers(reloaded) == expected and torch.equal(_greedy_ids(reloaded), expected_ids)


def test_run_export_lands_in_run_dir_student_final(tokenizer_dir: Path, tmp_path: Path) -> None:
    config = Config(student=StudentConfig(**TINY), training=TrainingConfig(epochs=1, batch_size=8))
    rd = RunDir.create(tmp_path / "run", config.to_yaml())
    train_student(load_student(config.student, tokenizer_dir), SUMS, config.training, rd.student / "round_1")

    assert export_run_student(config, tokenizer_dir, rd, "student/round_1") == {"merged": "student/final/merged"}
    assert sorted(p.name for p in rd.student.iterdir()) == ["final", "round_1"]  # no temp folder left behind
    # A run that never trained still ends with its (initial) student exported.
    assert export_run_student(config, tokenizer_dir, rd, None) == {"merged": "student/final/merged"}


def test_lora_student_exports_adapter_and_merged_model(
    pretrained_dir: Path, tokenizer_dir: Path, tmp_path: Path
) -> None:
    cfg = StudentConfig(model=str(pretrained_dir))
    student = load_student(cfg, tokenizer_dir, training=TrainingConfig(lora_r=4, lora_alpha=8))
    train_student(student, SUMS * 2, TrainingConfig(epochs=10, batch_size=8, lr=2e-2), tmp_path / "round_1")
    expected, expected_ids = _answers(student), _greedy_ids(student)
    assert not torch.equal(_greedy_ids(_reload(pretrained_dir)), expected_ids)  # the adapter changed the model

    written = export_student(load_student(cfg, tokenizer_dir, checkpoint=tmp_path / "round_1"), tmp_path / "final")

    assert set(written) == {"adapter", "merged"}
    merged = _reload(written["merged"])
    assert not any("lora" in name for name in merged.model.state_dict())
    assert _answers(merged) == expected and torch.equal(_greedy_ids(merged), expected_ids)
    # The adapter folder names its base, so transformers' PEFT integration loads base + adapter from it alone.
    adapter_cfg = json.loads((written["adapter"] / "adapter_config.json").read_text())
    assert adapter_cfg["base_model_name_or_path"] == str(pretrained_dir.resolve())
    from_adapter = _reload(written["adapter"])
    assert _answers(from_adapter) == expected and torch.equal(_greedy_ids(from_adapter), expected_ids)
    # ... and ioa itself can continue training from it.
    again = load_student(cfg, tokenizer_dir, checkpoint=written["adapter"])
    assert again.finetune == "lora" and _answers(again) == expected


@pytest.mark.integration
def test_exported_student_served_by_transformers_serve_answers_like_in_process(
    trained_tiny: tuple[Student, Path], tokenizer_dir: Path, tmp_path: Path
) -> None:
    from ioa.student_train.served import StudentEndpoint
    from ioa.teacher.local_server import MARKER, LocalTeacherServer

    student, checkpoint = trained_tiny
    merged = export_student(load_student(StudentConfig(**TINY), tokenizer_dir, checkpoint), tmp_path)["merged"]
    (merged / MARKER).write_text("{}")  # the server refuses folders without ioa's completeness marker
    with LocalTeacherServer(merged, log_path=tmp_path / "serve.log", timeout_s=120) as server:
        cfg = StudentConfig(model=str(merged), eval_base_url=server.base_url, eval_model=server.model_name)
        served = StudentEndpoint(cfg).answer(QUESTIONS, None, max_tokens=6)
    assert served == _answers(student)
