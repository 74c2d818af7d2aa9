"""GPU readiness, checked on the CPU (issue 34, point 6): the precision decision under monkeypatched device queries,
fp16 loss scaling that trains, optimizer state that leaves the device between rounds, an export that never loads a
second copy, and per-round LoRA adapters in the form vLLM's ``--lora-modules`` loads."""

from __future__ import annotations

import gc
import json
import re
import weakref
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from student_helpers import SUMS, TINY

from ioa.config import Config, StudentConfig, TrainingConfig
from ioa.errors import UsageError
from ioa.rundir import RunDir
from ioa.student_train import load_student, train_student
from ioa.student_train.model import student_dtype
from ioa.student_train.precision import Precision, choose_precision

pytestmark = pytest.mark.usefixtures("one_thread")
CUDA = torch.device("cuda")


@pytest.fixture
def gpu(monkeypatch):
    """Make ``torch.cuda.is_bf16_supported`` answer as a chosen GPU would: ``gpu(True)`` is an A100/H100."""

    def choose(bf16: bool) -> None:
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)

    return choose


@pytest.mark.parametrize(
    ("bf16", "finetune", "expected"),
    [
        (True, "lora", Precision(torch.bfloat16, torch.bfloat16, False)),
        (True, "full", Precision(torch.float32, torch.bfloat16, False)),
        (False, "lora", Precision(torch.float16, torch.float16, True)),  # a V100 or T4: fp16 needs loss scaling
        (False, "full", Precision(torch.float32, torch.float16, True)),
    ],
)
def test_bf16_only_where_the_gpu_has_it(gpu, bf16, finetune, expected):
    gpu(bf16)
    assert choose_precision("auto", CUDA, finetune) == expected
    assert student_dtype(StudentConfig(), CUDA, finetune) == expected.weights


def test_the_cpu_computes_in_fp32_without_asking_cuda(monkeypatch):
    def no_cuda(*args, **kwargs):
        raise AssertionError("the CPU path must not query CUDA")

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", no_cuda)
    for finetune in ("full", "lora"):
        assert choose_precision("auto", torch.device("cpu"), finetune) == Precision(torch.float32, None, False)


def test_an_impossible_dtype_is_refused_in_one_line(gpu):
    gpu(False)
    with pytest.raises(UsageError, match="does not support bf16"):
        choose_precision("bfloat16", CUDA, "lora")
    gpu(True)
    with pytest.raises(UsageError, match="cannot be fully fine-tuned"):
        choose_precision("float16", CUDA, "full")
    assert choose_precision("float16", CUDA, "lora") == Precision(torch.float16, torch.bfloat16, False)


def test_fp16_with_loss_scaling_trains(tokenizer_dir, tmp_path, monkeypatch):
    """The fp16 path of an older GPU, run on the CPU (which autocasts to fp16 too): scaled, unscaled, clipped."""
    from ioa.student_train.model import Student

    scalers: list[torch.amp.GradScaler] = []
    fp16 = Precision(torch.float32, torch.float16, True)

    def recorded(self, device):
        scalers.append(torch.amp.GradScaler(device.type, enabled=True))
        return scalers[-1]

    monkeypatch.setattr(Student, "precision", lambda self: fp16)
    monkeypatch.setattr(Precision, "scaler", recorded)
    student = load_student(StudentConfig(**TINY), tokenizer_dir)
    before = student.model.model.embed_tokens.weight.detach().clone()
    result = train_student(student, SUMS * 2, TrainingConfig(epochs=6, batch_size=8, lr=1e-2), tmp_path / "round_1")
    assert len(scalers) == 1 and scalers[0].get_scale() > 0
    assert torch.isfinite(torch.tensor([result.loss_first, result.loss_last])).all()
    assert result.loss_last < result.loss_first
    assert not torch.equal(before, student.model.model.embed_tokens.weight)


def test_optimizer_state_leaves_the_device_between_rounds(tokenizer_dir, tmp_path, monkeypatch):
    """The carried AdamW state is a CPU copy, and the optimizer that held it on the device is gone once a round ends."""
    made: list[weakref.ref] = []
    real = torch.optim.AdamW

    class Tracked(real):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(weakref.ref(self))

    monkeypatch.setattr(torch.optim, "AdamW", Tracked)
    student = load_student(StudentConfig(**TINY), tokenizer_dir)
    train_student(student, SUMS, TrainingConfig(epochs=1, batch_size=8, carry_optimizer=True), tmp_path / "round_1")
    gc.collect()
    assert len(made) == 1 and made[0]() is None, "the round's optimizer (and its device tensors) is still referenced"
    moments = [t for s in student.optimizer_state["state"].values() for t in s.values() if torch.is_tensor(t)]
    assert moments and all(t.device.type == "cpu" for t in moments)


def test_the_final_export_takes_the_student_in_memory(tokenizer_dir, tmp_path, monkeypatch):
    """No second copy: the services hand their student over, and the export loads nothing from disk."""
    import ioa.student_train.export as export
    from ioa.context import Services

    config = Config(student=StudentConfig(**TINY))
    rd = RunDir.create(tmp_path / "run", config.to_yaml())
    student = load_student(config.student, tokenizer_dir)
    train_student(student, SUMS, TrainingConfig(epochs=1, batch_size=8), rd.student / "round_1")
    svc = Services(config, rd, None, None, None, None, tokenizer_dir)
    svc.adopt_student(student, "student/round_1")

    def no_second_copy(*args, **kwargs):
        raise AssertionError("the export loaded a second copy of the student")

    monkeypatch.setattr(export, "load_student", no_second_copy)
    handed = svc.release_student("student/round_1")
    assert handed is student and svc._student is None
    written = export.export_run_student(config, tokenizer_dir, rd, "student/round_1", handed)
    assert (rd.root / written["merged"] / "model.safetensors").is_file()


# vLLM's rules for an adapter (vllm/lora/peft_helper.py and lora/utils.py): adapter_config.json with r, lora_alpha and
# target_modules; bias "none"; no modules_to_save; no DoRA; r within --max-lora-rank (16 by default); weights named
# base_model.model.<module>.lora_A/B.weight for modules of the model.
VLLM_MAX_LORA_RANK = 16
VLLM_WEIGHT = re.compile(r"^base_model\.model\.model\.layers\.\d+\.(self_attn|mlp)\.(\w+)\.lora_[AB]\.weight$")
VLLM_LLAMA_MODULES = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}


def test_each_round_s_lora_adapter_is_what_vllm_loads(pretrained_dir, tokenizer_dir, tmp_path):
    student = load_student(StudentConfig(model=str(pretrained_dir)), tokenizer_dir, training=TrainingConfig())
    round_dir = tmp_path / "student" / "round_1"
    train_student(student, SUMS, TrainingConfig(epochs=1, batch_size=8), round_dir)
    config = json.loads((round_dir / "adapter_config.json").read_text())
    assert config["peft_type"] == "LORA" and config["r"] <= VLLM_MAX_LORA_RANK and config["lora_alpha"]
    assert config["bias"] == "none" and not config.get("modules_to_save") and not config.get("use_dora")
    assert set(config["target_modules"]) <= VLLM_LLAMA_MODULES
    assert Path(config["base_model_name_or_path"]) == Path(pretrained_dir).resolve()  # the base to serve
    with safe_open(str(round_dir / "adapter_model.safetensors"), framework="pt") as weights:
        names = list(weights.keys())
    assert names and all(
        VLLM_WEIGHT.match(n) and VLLM_WEIGHT.match(n).group(2) in config["target_modules"] for n in names
    )
