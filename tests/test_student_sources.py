"""A student from anywhere: a local folder, a GGUF file, a hub id from the cache; dtype and gradient checkpointing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from student_helpers import SUMS, TINY, write_tiny_gguf
from transformers import AutoModelForCausalLM

from ioa.config import StudentConfig, TrainingConfig
from ioa.errors import UsageError
from ioa.student_train import Student, generate_answers, load_student, train_student
from ioa.student_train.export import export_student

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.integration  # dequantizes, trains and exports a real GGUF student
def test_gguf_student_loads_dequantized_trains_and_exports(tokenizer_dir: Path, tmp_path: Path) -> None:
    gguf_file = write_tiny_gguf(tmp_path / "tiny.gguf")
    cfg = StudentConfig(model=str(gguf_file))
    student = load_student(cfg, tokenizer_dir, training=TrainingConfig(lora_r=4, lora_alpha=8))
    assert student.finetune == "lora"
    base = student.model.get_base_model()
    assert getattr(base.config, "quantization_config", None) is None  # a plain model: it can be saved
    assert student.tokenizer.chat_template is not None  # the template comes with the GGUF's tokenizer
    assert base.model.embed_tokens.weight.dtype == torch.float32

    train_student(student, SUMS, TrainingConfig(epochs=2, batch_size=8, lr=2e-2), tmp_path / "round_1")
    questions = [e.prompt for e in SUMS[:6]]
    expected = generate_answers(student, questions, max_new_tokens=4, batch_size=6)
    written = export_student(load_student(cfg, tokenizer_dir, checkpoint=tmp_path / "round_1"), tmp_path / "final")
    merged = AutoModelForCausalLM.from_pretrained(written["merged"])
    assert merged.config.architectures == ["LlamaForCausalLM"]
    reloaded = load_student(StudentConfig(model=str(written["merged"]), finetune="full"), tokenizer_dir)
    assert generate_answers(reloaded, questions, max_new_tokens=4, batch_size=6) == expected


_HUB_LOAD = """
import json, sys
from pathlib import Path
from ioa.config import StudentConfig
from ioa.errors import UsageError
from ioa.student_train import load_student
student = load_student(StudentConfig(model="ioa-test/tiny-llama"), Path("unused"))
print(json.dumps({"finetune": student.finetune, "params": student.params()[0]}))
try:
    load_student(StudentConfig(model="ioa-test/not-cached"), Path("unused"))
except UsageError as exc:
    print(exc)
"""


def test_hub_id_loads_from_the_cache_offline(pretrained_dir: Path, tmp_path: Path) -> None:
    # The Hugging Face cache layout, as a download would have left it: snapshots/<commit>, refs/main.
    commit = "0" * 40
    repo = tmp_path / "hub" / "models--ioa-test--tiny-llama"
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for f in pretrained_dir.iterdir():
        (snapshot / f.name).write_bytes(f.read_bytes())
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)

    env = dict(os.environ, HF_HUB_CACHE=str(tmp_path / "hub"), HF_HUB_OFFLINE="1")
    proc = subprocess.run([sys.executable, "-c", _HUB_LOAD], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    first, second = proc.stdout.strip().splitlines()[-2:]
    assert json.loads(first)["finetune"] == "lora" and json.loads(first)["params"] > 0
    assert second.startswith("cannot load student 'ioa-test/not-cached'"), second


def test_missing_local_student_is_a_usage_error(tokenizer_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot load student"):
        load_student(StudentConfig(model=str(tmp_path / "nowhere.gguf")), tokenizer_dir)


def test_explicit_dtype_is_applied(pretrained_dir: Path, tokenizer_dir: Path) -> None:
    student = load_student(StudentConfig(model=str(pretrained_dir), dtype="bfloat16"), tokenizer_dir)
    base = {p.dtype for name, p in student.model.named_parameters() if "lora_" not in name}
    assert base == {torch.bfloat16}  # PEFT keeps the small adapter itself in fp32


@pytest.mark.parametrize("model", ["tiny", "pretrained"])
def test_gradient_checkpointing_gives_the_same_training(
    model: str, pretrained_dir: Path, tokenizer_dir: Path, tmp_path: Path
) -> None:
    base = StudentConfig(**TINY) if model == "tiny" else StudentConfig(model=str(pretrained_dir))
    cfg = TrainingConfig(epochs=2, batch_size=8, lr=1e-2, lora_dropout=0.0)
    plain = load_student(base, tokenizer_dir, training=cfg)
    checkpointed = load_student(base.model_copy(update={"gradient_checkpointing": True}), tokenizer_dir, training=cfg)
    a = train_student(plain, SUMS, cfg, tmp_path / "a")
    b = train_student(checkpointed, SUMS, cfg, tmp_path / "b")

    def inner(student: Student) -> torch.nn.Module:
        return student.model.get_base_model() if student.finetune == "lora" else student.model

    assert inner(checkpointed).is_activation_checkpointing and not inner(plain).is_activation_checkpointing
    assert a.loss_first == pytest.approx(b.loss_first, rel=1e-5)
    assert a.loss_last == pytest.approx(b.loss_last, rel=1e-4)
