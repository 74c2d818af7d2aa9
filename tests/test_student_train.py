"""The student: tiny models built, trained, saved, reloaded and asked questions for real, offline, in seconds."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch
from peft import PeftModel
from student_helpers import SUMS, TINY, same_weights, weights

from ioa.config import StudentConfig, TrainingConfig
from ioa.student_train import (
    Student,
    TrainResult,
    default_lr,
    format_prompt,
    generate_answers,
    load_student,
    random_student,
    train_student,
)
from ioa.student_train.checkpoint import restore_trainer_state
from ioa.teacher.prompt_format import probe_messages

TEACHER_PARAMS = 134_500_000

pytestmark = pytest.mark.usefixtures("one_thread")


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
    assert same_weights(weights(first), weights(second))
    assert not same_weights(weights(first), weights(other_seed))


def test_prompt_is_the_teachers_probe_in_the_students_chat_template(tokenizer_dir: Path) -> None:
    student = load_student(StudentConfig(**TINY), tokenizer_dir)
    prompt = format_prompt(student.tokenizer, "What is 2+2?")
    # Asked exactly as the teacher is (one user turn), so P_S and P_T compare the models and nothing else.
    rendered = student.tokenizer.apply_chat_template(
        probe_messages("What is 2+2?"), tokenize=False, add_generation_prompt=True
    )
    assert prompt == rendered and "What is 2+2?" in prompt
    assert prompt.endswith("<|im_start|>assistant\n")
    assert student.tokenizer.padding_side == "left" and student.tokenizer.pad_token is not None


def test_loss_on_aligned_targets_equals_per_example_cross_entropy(tokenizer_dir: Path) -> None:
    """The batched loss (left-padded prompts, logits at target columns only) is the plain mean over target tokens."""
    from ioa.student_train.train import Example, _collate, _encode, _loss

    student = load_student(StudentConfig(**TINY), tokenizer_dir)
    examples = [Example("Calculate 1 + 6.", "1 + 6 = 7\nAnswer: 7"), Example("What is 12 - 30 + 4?", "Answer: -14")]
    rows, cut = _encode(student, examples, max_len=96)
    assert cut == 0
    assert rows[0][1] != rows[1][1] and len(rows[0][0]) - rows[0][1] != len(rows[1][0]) - rows[1][1]
    with torch.no_grad():
        batched = _loss(student.model, _collate(rows, student.tokenizer.pad_token_id))
        token_losses = []
        for ids, prompt_len in rows:  # each example alone: no padding, every logit computed
            logits = student.model(input_ids=torch.tensor([ids])).logits[0]
            token_losses.append(
                torch.nn.functional.cross_entropy(
                    logits[prompt_len - 1 : -1], torch.tensor(ids[prompt_len:]), reduction="none"
                )
            )
    assert torch.allclose(batched, torch.cat(token_losses).mean(), atol=1e-5)


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
    assert same_weights(weights(student), weights(reloaded))
    questions = [e.prompt for e in SUMS]
    assert generate_answers(reloaded, questions, max_new_tokens=6, batch_size=16) == generate_answers(
        student, questions, max_new_tokens=6, batch_size=16
    )

    hparams = json.loads((out / "hparams.json").read_text())
    assert hparams["lr"] == 1e-2 and hparams["examples"] == 64
    assert hparams["training"]["epochs"] == 40 and hparams["result"]["steps"] == 320
    assert [p.name for p in out.parent.iterdir()] == ["student"]  # no temp folder left behind


def test_a_later_lesson_continues_the_optimizer_moments(tokenizer_dir: Path, tmp_path: Path) -> None:
    student = load_student(StudentConfig(**TINY), tokenizer_dir)
    cfg = TrainingConfig(epochs=1, batch_size=8, lr=1e-3, carry_optimizer=True)
    first = train_student(student, SUMS, cfg, tmp_path / "a")
    second = train_student(student, SUMS, cfg, tmp_path / "b")
    assert student.optimizer_state is not None
    # AdamW's step count runs on across the two calls, as it does across epochs within one.
    assert {int(s["step"]) for s in student.optimizer_state["state"].values()} == {first.steps + second.steps}
    # Kept on the CPU between rounds.
    assert {t.device.type for s in student.optimizer_state["state"].values() for t in s.values()} == {"cpu"}
    # Off, every call starts them afresh.
    student = load_student(StudentConfig(**TINY), tokenizer_dir)
    train_student(student, SUMS, cfg.model_copy(update={"carry_optimizer": False}), tmp_path / "c")
    assert student.optimizer_state is None


def _losses(student: Student, cfg: TrainingConfig, out: Path) -> list[float]:
    seen: list[float] = []
    train_student(student, SUMS, cfg, out, progress=lambda step, total, loss: seen.append(loss))
    return seen


def test_a_student_reloaded_with_its_trainer_state_trains_on_exactly_as_the_one_in_memory(
    tokenizer_dir: Path, tmp_path: Path
) -> None:
    cfg = TrainingConfig(epochs=1, batch_size=8, lr=1e-3, carry_optimizer=True)
    student = load_student(StudentConfig(**TINY), tokenizer_dir)
    train_student(student, SUMS, cfg, tmp_path / "round_1")
    rng = torch.get_rng_state(), random.getstate()
    # Draws between rounds, which a resumed run must not see either.
    torch.rand(3)
    random.random()
    # What a resumed run does: the checkpoint's weights, then its AdamW state and RNG states.
    reloaded = load_student(StudentConfig(**TINY), tokenizer_dir, checkpoint=tmp_path / "round_1")
    assert reloaded.optimizer_state is None
    restore_trainer_state(reloaded, tmp_path / "round_1", carry_optimizer=True)
    assert torch.equal(torch.get_rng_state(), rng[0]) and random.getstate() == rng[1]
    restarted = load_student(StudentConfig(**TINY), tokenizer_dir, checkpoint=tmp_path / "round_1")

    on = _losses(student, cfg, tmp_path / "memory")
    assert _losses(reloaded, cfg, tmp_path / "reloaded") == on
    assert _losses(restarted, cfg, tmp_path / "restarted") != on  # fresh moments: the run would diverge


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
    assert same_weights(weights(student), weights(reloaded))
    questions = [e.prompt for e in SUMS[:4]]
    assert generate_answers(reloaded, questions, max_new_tokens=4, batch_size=4) == generate_answers(
        student, questions, max_new_tokens=4, batch_size=4
    )

    # A later round trains the reloaded adapter further and replaces the checkpoint in place.
    train_student(reloaded, SUMS, TrainingConfig(epochs=1, batch_size=8, lr=1e-2), tmp_path / "ckpt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]


def test_lora_adapter_is_drawn_from_the_init_seed(pretrained_dir: Path, tokenizer_dir: Path) -> None:
    def adapter(init_seed: int) -> dict[str, torch.Tensor]:
        student = load_student(StudentConfig(model=str(pretrained_dir), init_seed=init_seed), tokenizer_dir)
        return {n: p for n, p in weights(student).items() if "lora_A" in n}

    torch.manual_seed(1)
    first = adapter(0)
    torch.manual_seed(2)  # another history of draws before it: a later trial in the same bench worker
    expected_draw = torch.rand(1)
    torch.manual_seed(2)
    second = adapter(0)
    assert torch.equal(torch.rand(1), expected_draw), "adding the adapter must not move the caller's RNG"
    assert first and same_weights(first, second)
    assert not same_weights(first, adapter(1))


def test_default_lr_follows_the_design(pretrained_dir: Path, tokenizer_dir: Path) -> None:
    tiny = load_student(StudentConfig(**TINY), tokenizer_dir)
    lora = load_student(StudentConfig(model=str(pretrained_dir)), tokenizer_dir)
    full = load_student(StudentConfig(model=str(pretrained_dir), finetune="full"), tokenizer_dir)
    assert full.finetune == "full" and full.params()[0] == full.params()[1]
    assert default_lr(lora, TrainingConfig()) == 1e-4
    assert default_lr(full, TrainingConfig()) == 2e-5
    assert default_lr(tiny, TrainingConfig()) == 1e-3
    assert default_lr(tiny, TrainingConfig(lr=5e-4)) == 5e-4


def test_random_student_of_any_shape_is_built_like_a_loaded_one(
    pretrained_dir: Path, tokenizer_dir: Path, tmp_path: Path
) -> None:
    config = load_student(StudentConfig(model=str(pretrained_dir), finetune="full"), tokenizer_dir).model.config
    lora = random_student(config, tokenizer_dir, StudentConfig(model="random", finetune="lora"))
    loaded = load_student(StudentConfig(model=str(pretrained_dir)), tokenizer_dir)
    assert isinstance(lora.model, PeftModel) and lora.finetune == "lora"
    assert lora.params() == loaded.params()  # same shape, same adapter
    assert lora.tokenizer.padding_side == "left" and lora.model.generation_config.pad_token_id is not None
    full = random_student(config, tokenizer_dir, StudentConfig(model="random", finetune="full"))
    assert full.params()[0] == full.params()[1] == loaded.params()[0] - loaded.params()[1]
    result = train_student(full, SUMS, TrainingConfig(epochs=2, batch_size=8, lr=1e-2), tmp_path / "r")
    assert result.steps == 4 and result.loss_last < result.loss_first


def test_bundled_student_is_the_embedded_teacher_fine_tuned_with_lora(tmp_path: Path) -> None:
    cfg = StudentConfig(model="bundled")
    # The tokenizer folder is not read: a pretrained student brings its own tokenizer.
    student = load_student(cfg, tmp_path / "unused", training=TrainingConfig(lora_r=4, lora_alpha=8))
    total, trainable = student.params()
    assert student.finetune == "lora" and total == pytest.approx(TEACHER_PARAMS, rel=0.01) and trainable < total / 100
    train_student(student, SUMS[:8], TrainingConfig(epochs=1, batch_size=8, lr=1e-3), tmp_path / "ckpt")
    # The checkpoint names its base by the alias, so it loads wherever the bundled teacher is cached.
    assert json.loads((tmp_path / "ckpt" / "base_model.json").read_text())["base_model"] == "bundled"
    reloaded = load_student(cfg, tmp_path / "unused", checkpoint=tmp_path / "ckpt")
    assert same_weights(weights(student), weights(reloaded))


def test_a_from_scratch_student_takes_enough_steps_on_a_small_round(tokenizer_dir: Path, pretrained_dir: Path) -> None:
    """A round of a few teacher-written examples still gets SCRATCH_STEPS steps; a set epoch count or a
    pretrained student keeps its epochs."""
    from ioa.student_train.train import SCRATCH_STEPS, round_epochs

    tiny = load_student(StudentConfig(**TINY), tokenizer_dir)
    cfg = TrainingConfig(batch_size=16)
    assert round_epochs(tiny, cfg, 9) == SCRATCH_STEPS  # one step per epoch
    assert round_epochs(tiny, cfg, 40) == -(-SCRATCH_STEPS // 3)  # three steps per epoch
    assert round_epochs(tiny, cfg, 16 * SCRATCH_STEPS) == 6  # twelve epochs, half kept back for consolidation
    assert round_epochs(tiny, TrainingConfig(epochs=4), 9) == 2
    pretrained = load_student(StudentConfig(model=str(pretrained_dir)), tokenizer_dir)
    assert round_epochs(pretrained, cfg, 9) == 2


def test_a_round_stops_once_the_student_writes_its_whole_batch(tokenizer_dir: Path, tmp_path: Path) -> None:
    """With stop_when_learnt the recipe ends at the first check (every LEARNT_EVERY steps) where greedy decoding
    writes every example exactly, those of the replay pool too; without it, it runs every epoch it was given."""
    from ioa.student_train.train import LEARNT_EVERY, Replay

    lesson, earlier = SUMS[:3], SUMS[5:7]
    cfg = TrainingConfig(epochs=300, batch_size=8, lr=1e-2)
    student = load_student(StudentConfig(**TINY), tokenizer_dir)
    replay = Replay(pool=earlier, weights=[1.0, 1.0], per_epoch=1)
    stopped = train_student(student, lesson, cfg, tmp_path / "stopped", replay=replay, stop_when_learnt=True)
    assert stopped.steps < 300 and stopped.steps % LEARNT_EVERY == 0 and stopped.epochs == stopped.steps
    answers = generate_answers(student, [e.prompt for e in lesson + earlier], max_new_tokens=6, batch_size=8)
    assert answers == [e.target for e in lesson + earlier]
    hparams = json.loads((tmp_path / "stopped" / "hparams.json").read_text())
    assert (hparams["epochs"], hparams["epochs_run"]) == (300, stopped.steps)

    unstopped = train_student(
        load_student(StudentConfig(**TINY), tokenizer_dir),
        lesson,
        cfg.model_copy(update={"epochs": 20}),
        tmp_path / "all",
    )
    assert (unstopped.steps, unstopped.epochs) == (20, 20)


def test_only_a_from_scratch_student_with_unset_epochs_stops_when_learnt(
    tokenizer_dir: Path, pretrained_dir: Path
) -> None:
    from ioa.student_train.train import until_learnt

    tiny = load_student(StudentConfig(**TINY), tokenizer_dir)
    assert until_learnt(tiny, TrainingConfig())
    assert not until_learnt(tiny, TrainingConfig(epochs=4))  # `ioa bench` holds steps equal between strategies
    assert not until_learnt(load_student(StudentConfig(model=str(pretrained_dir)), tokenizer_dir), TrainingConfig())
