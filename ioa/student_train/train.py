"""The training recipe: tokenize -> shuffle -> AdamW with warmup and clipping -> save beside the hyperparameters.

It runs under ``accelerate``: started plainly it is one process, as always; started by ``accelerate launch`` with N
processes, each rank trains on its share of every batch and accelerate averages the gradients (DDP).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from accelerate import Accelerator

from ioa.config import TrainingConfig
from ioa.errors import UsageError
from ioa.student_train.checkpoint import on_cpu, save_checkpoint
from ioa.student_train.generate import format_prompt
from ioa.student_train.model import Student

IGNORE = -100  # label of prompt and padding positions: no loss there


@dataclass
class Example:
    """One supervised pair."""

    prompt: str
    """The question, as the student will see it in a probe."""
    target: str
    """The answer text the student should produce."""


@dataclass(frozen=True)
class Replay:
    """Earlier examples rehearsed beside a round's new ones: ``per_epoch`` of them, drawn anew every epoch without
    replacement, each in proportion to its weight. A round of many epochs thus brings back most of a small pool, the
    heavier examples first and most often, at the cost of a fixed draw of ``per_epoch``."""

    pool: list[Example]
    weights: list[float]
    per_epoch: int

    def __post_init__(self) -> None:
        if len(self.weights) != len(self.pool) or any(w <= 0 for w in self.weights):
            raise ValueError("replay needs one positive weight per pooled example")

    @property
    def drawn(self) -> int:
        """Examples drawn each epoch: ``per_epoch``, or the whole pool when it holds fewer."""
        return min(self.per_epoch, len(self.pool))


@dataclass
class TrainResult:
    """What one call of ``train_student`` did."""

    steps: int
    """Optimizer steps."""
    examples: int
    """Examples in each epoch (those with at least one target token left after cutting), replayed ones included."""
    tokens: int
    """Non-padding tokens fed to the model, over all epochs."""
    loss_first: float
    """Loss of the first step (mean over target tokens)."""
    loss_last: float
    """Loss of the last step."""
    seconds: float
    """Wall time of the training loop (saving excluded)."""
    checkpoint: str
    """The folder the student was saved to."""
    epochs: int = 0
    """Epochs run: fewer than asked when the round stopped once its batch was learnt (``until_learnt``)."""
    processes: int = 1
    """Processes that trained together (``accelerate launch --num_processes``); 1 when started plainly."""
    truncated: int = 0
    """Examples the training sequence length cut short (counted into summary.json's lengths)."""


def default_lr(student: Student, cfg: TrainingConfig) -> float:
    """cfg.lr when set; else 1e-4 for LoRA, 2e-5 for full fine-tuning of a pretrained model, 1e-3 from scratch."""
    if cfg.lr is not None:
        return cfg.lr
    if student.finetune == "lora":
        return 1e-4
    # A random 11M model has nothing to forget and barely moves at fine-tuning rates. On single-digit
    # addition (228 steps of 16) 1e-3 learned the seen sums in two seeds of two; 2e-3 and 3e-3 stalled
    # on the most common answers, and 5e-4 matched 1e-3.
    return 1e-3 if _from_scratch(student) else 2e-5


def default_epochs(student: Student, cfg: TrainingConfig) -> int:
    """cfg.epochs when set; else 3 per stage (docs/design.md §7), or 12 for the tiny from-scratch student."""
    if cfg.epochs is not None:
        return cfg.epochs
    # A pretrained student refines what it knows; a random 11M model must first learn the skill at all:
    # on single-digit sums 3 epochs over a few hundred examples left it at 0% held out, 12 reached 40-50%.
    return 12 if _from_scratch(student) else 3


SCRATCH_STEPS = 150
"""Fewest optimizer steps a from-scratch student's round is given on its batch, of which it stops short once it
has learnt the batch (``until_learnt``). A random 11M model must first learn the answer's form before any word: on
16 worked word exercises in one template it answered 1 of 8 taught words per module after 50 steps and all 8 after
100 (lr 1e-3, batch 16); teacher-written exercises vary more, and 100 steps on 19 of them taught it 2 of 24. A
round of a few dozen examples at 12 epochs makes about 20 steps."""
LEARNT_EVERY = 10
"""Steps between two checks of whether a round's batch is learnt: a forward pass over the batch and the replay pool.
In benchmarks/round_stop.py a round of 8 new and a pool of 24 took 130 steps and 13 checks in 25.6 s, against 150
steps in 24.4 s without them: a check cost about two steps, a fifth of the training between two checks."""


def consolidation_epochs(student: Student, cfg: TrainingConfig) -> int:
    """Epochs each example keeps back from its round for the final consolidation (``TrainingConfig.kept_back`` of
    the student's ``default_epochs``)."""
    return cfg.kept_back(default_epochs(student, cfg))


def round_epochs(student: Student, cfg: TrainingConfig, examples: int) -> int:
    """Epochs over a round's own batch of ``examples``: ``default_epochs`` less those kept back for consolidation;
    for a from-scratch student with ``training.epochs`` unset, at least enough for ``SCRATCH_STEPS`` steps."""
    total = default_epochs(student, cfg)
    kept = cfg.kept_back(total)  # consolidation_epochs, without asking default_epochs twice
    epochs = total - kept
    if epochs < 1:
        raise UsageError(
            f"training.consolidation_epochs={kept} leaves no epoch of {total} for a round's own batch; lower it"
        )
    if cfg.epochs is None and _from_scratch(student) and examples:
        epochs = max(epochs, math.ceil(SCRATCH_STEPS / math.ceil(examples / cfg.batch_size)))
    return epochs


def until_learnt(student: Student, cfg: TrainingConfig) -> bool:
    """Whether a round stops once its batch is learnt (and nothing taught before is lost): where ``SCRATCH_STEPS``
    sets the steps (a from-scratch student, ``training.epochs`` unset). Replayed from r48's checkpoints, the 2.2M
    student answered every one of its round's 14, 11 and 8 examples after 50 of the 150 steps, each round; the
    other 100 steps took about two thirds of the round's training time. A set ``training.epochs`` (as `ioa bench`
    sets it, to hold steps equal between strategies) always runs every epoch."""
    return cfg.epochs is None and _from_scratch(student)


def replay_count(cfg: TrainingConfig, new: int) -> int:
    """Earlier examples to replay in each epoch beside a round's ``new`` ones, so that they are
    ``training.replay_fraction`` of what the round trains on."""
    return round(cfg.replay_fraction * new / (1 - cfg.replay_fraction))


def _from_scratch(student: Student) -> bool:
    return student.config is not None and student.config.model == "tiny"


def _encode(student: Student, examples: list[Example], max_len: int) -> tuple[list[tuple[list[int], int]], int]:
    """Token ids of prompt + target + eos, cut to ``max_len``, with the prompt length (where the loss starts);
    and how many examples the cut shortened."""
    tok = student.tokenizer
    # Prompt and target are tokenized apart so training sees exactly the prompt tokens that generation sees.
    prompts = tok([format_prompt(tok, e.prompt) for e in examples], add_special_tokens=False)["input_ids"]
    targets = tok([e.target for e in examples], add_special_tokens=False)["input_ids"]
    encoded, cut = [], 0
    for p, t in zip(prompts, targets, strict=True):
        whole = p + t + [tok.eos_token_id]
        ids = whole[:max_len]
        cut += len(ids) < len(whole)
        if len(ids) > len(p):  # a prompt that fills the whole window leaves nothing to learn
            encoded.append((ids, len(p)))
    return encoded, cut


def _encode_replay(
    student: Student, replay: Replay | None, max_len: int
) -> tuple[list[tuple[list[int], int]], list[float]]:
    """The replay pool encoded as ``_encode`` does, with the weights of the examples that keep a target token."""
    rows: list[tuple[list[int], int]] = []
    weights: list[float] = []
    for example, weight in zip(replay.pool, replay.weights, strict=True) if replay else ():
        encoded, _ = _encode(student, [example], max_len)
        rows += encoded
        weights += [weight] * len(encoded)
    return rows, weights


def _weighted_sample(weights: list[float], k: int, rng: random.Random) -> list[int]:
    """``k`` distinct indices, each drawn in proportion to its weight (Efraimidis and Spirakis: the k largest
    u ** (1 / w))."""
    keys = [rng.random() ** (1 / w) for w in weights]
    return sorted(range(len(weights)), key=keys.__getitem__, reverse=True)[:k]


def _collate(rows: list[tuple[list[int], int]], pad_id: int) -> dict[str, torch.Tensor]:
    """Prompts left-padded and targets right-padded, so every row's target starts in the same column.

    Labels are IGNORE on prompt and padding positions, so only target tokens are learned. The aligned
    targets let the loss compute logits for the target columns alone (see ``_loss``).
    """
    prompt_width = max(prompt_len for _, prompt_len in rows)
    width = prompt_width + max(len(ids) - prompt_len for ids, prompt_len in rows)
    input_ids = torch.full((len(rows), width), pad_id)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE)
    for r, (ids, prompt_len) in enumerate(rows):
        start = prompt_width - prompt_len
        input_ids[r, start : start + len(ids)] = torch.tensor(ids)
        attention[r, start : start + len(ids)] = 1
        # Labels by position, not by pad id: eos doubles as pad and must be learned where it ends an answer.
        labels[r, prompt_width : start + len(ids)] = torch.tensor(ids[prompt_len:])
    # Positions count real tokens only, as in generation: left padding must not shift absolute positions.
    positions = (attention.cumsum(dim=1) - 1).clamp(min=0)
    return {"input_ids": input_ids, "attention_mask": attention, "position_ids": positions, "labels": labels}


def _lr_at(step: int, total: int, lr: float) -> float:
    """Short linear warmup (5% of steps), then cosine decay to lr/10, as in nanoGPT."""
    warmup = max(1, total // 20)
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return lr / 10 + 0.5 * (1 + math.cos(math.pi * progress)) * (lr - lr / 10)


def _loss(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean cross-entropy over target tokens."""
    logits, targets = _target_logits(model, batch)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1), ignore_index=IGNORE)


@torch.no_grad()
def _written(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> list[bool]:
    """Per row of ``batch``: whether every target token (eos included) is the model's top prediction given the tokens
    before it, which is exactly when greedy decoding writes that target and stops; found without generating."""
    model.eval()
    try:
        logits, targets = _target_logits(model, batch)
    finally:
        model.train()
    wrong = (logits.argmax(dim=-1) != targets) & (targets != IGNORE)
    return (~wrong.any(dim=1)).tolist()


def _learnt(model: torch.nn.Module, data: list[tuple[list[int], int]], batch_size: int, pad_id: int) -> bool:
    """Whether greedy decoding writes, for every prompt of ``data``, one of the targets taught for it. Teachers write
    the same problem twice with other steps (r49: two worked solutions for "bird" in one batch of five), and no
    student writes both."""
    written: dict[tuple[int, ...], bool] = {}
    device = next(model.parameters()).device
    for start in range(0, len(data), batch_size):
        rows = data[start : start + batch_size]
        batch = {k: v.to(device) for k, v in _collate(rows, pad_id).items()}
        for (ids, prompt_len), ok in zip(rows, _written(model, batch), strict=True):
            key = tuple(ids[:prompt_len])
            written[key] = written.get(key, False) or ok
    return all(written.values())


def _target_logits(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """The logits at the positions that predict a target token, and those tokens (IGNORE on padding)."""
    labels = batch["labels"]
    prompt_width = int((labels != IGNORE).any(dim=0).float().argmax())
    # Logits only at the positions that predict a target token (position i predicts token i+1): with a
    # 49k vocabulary the output layer dominates a tiny model's compute, and prompt positions carry no loss.
    predicting = torch.arange(prompt_width - 1, labels.shape[1] - 1, device=labels.device)
    logits = model(
        input_ids=batch["input_ids"],
        attention_mask=batch["attention_mask"],
        position_ids=batch["position_ids"],
        logits_to_keep=predicting,
        use_cache=False,
    ).logits
    return logits, labels[:, prompt_width:]


def train_student(
    student: Student,
    examples: list[Example],
    cfg: TrainingConfig,
    out_dir: Path,
    progress: Callable[[int, int, float], None] | None = None,
    *,
    max_len: int | None = None,
    replay: Replay | None = None,
    stop_when_learnt: bool = False,
) -> TrainResult:
    """Fine-tune the student on ``examples`` (``default_epochs`` epochs), each epoch with ``replay.per_epoch`` earlier
    examples drawn afresh beside them; save it to ``out_dir``, leave it in eval mode.

    ``stop_when_learnt`` ends the training early, at an epoch's end, once greedy decoding writes one of the targets
    of every prompt of ``examples`` and of the whole replay pool (``_learnt``, checked every ``LEARNT_EVERY`` steps):
    the batch learnt, and nothing taught before lost to it. Checking the batch alone, r50 stopped its rounds after
    20-40 steps, which drew 20-40 replayed examples; capitals fell from 0.50 to 0.17 in a round that taught four
    regular plurals.

    ``progress(step, total_steps, loss)`` is called after every optimizer step. Under ``accelerate launch`` every
    rank calls this with the same arguments: a batch stays ``cfg.batch_size`` examples per optimizer step, split
    between the ranks, so steps, schedule and examples seen are those of one process. Only rank 0 saves.
    """
    started = time.perf_counter()
    # The student already chose its device; CPU training must say so, or accelerate would not use gloo.
    accelerator = Accelerator(cpu=student.device.type != "cuda")
    device = accelerator.device
    lr = default_lr(student, cfg)
    epochs = default_epochs(student, cfg)
    # The run's lengths.train_seq fits every prompt and answer (ioa.lengths); unset, only the model's window cuts.
    data, cut = _encode(student, examples, max_len or student.context_window())
    if not data:
        raise ValueError("no training example has a target token within the training sequence length")
    pool, weights = _encode_replay(student, replay, max_len or student.context_window())
    drawn = min(replay.per_epoch, len(pool)) if replay else 0  # of the encoded pool, not ``replay.drawn``

    # Every round reseeds from training.seed (recorded in hparams.json) and starts its schedule at step 0, so a round
    # redone after a resume draws the same order, dropout and learning rates; AdamW's state is what carries over.
    torch.manual_seed(cfg.seed)  # dropout (LoRA) draws from the global generator
    order_rng = torch.Generator().manual_seed(cfg.seed)  # same seed on every rank: all ranks agree on the order
    replay_rng = random.Random(cfg.seed)  # likewise for the replayed examples
    steps_per_epoch = math.ceil((len(data) + drawn) / cfg.batch_size)
    total = epochs * steps_per_epoch
    params = [p for p in student.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.95), weight_decay=0.0)
    if cfg.carry_optimizer and student.optimizer_state is not None:
        # A fresh AdamW's first steps move every weight by about the full learning rate, whatever its gradient:
        # restarted each round, that would jolt what earlier rounds taught (docs/bench.md, Change 19).
        optimizer.load_state_dict(student.optimizer_state)
    if student.config is not None and student.config.gradient_checkpointing:
        # Non-reentrant checkpointing needs no gradient on the inputs, so it also works under LoRA's frozen embeddings.
        student.model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    # With one process prepare() wraps nothing; with several it wraps the model in DDP (gradients all-reduced).
    model, optimizer = accelerator.prepare(student.model, optimizer)
    # bf16 autocast on GPUs that have it; fp16 with loss scaling on older ones; fp32 on the CPU.
    precision = student.precision()
    scaler = precision.scaler(device)

    model.train()
    step, tokens, losses, ran, checked = 0, 0, [], 0, 0
    for _ in range(epochs):
        epoch = data + [pool[i] for i in _weighted_sample(weights, drawn, replay_rng)]
        order = torch.randperm(len(epoch), generator=order_rng).tolist()
        for start in range(0, len(order), cfg.batch_size):
            rows = [epoch[i] for i in order[start : start + cfg.batch_size]]
            # This rank's share; a batch that does not split evenly repeats its last example on the short ranks,
            # so that every rank runs forward and backward at every step.
            with accelerator.split_between_processes(rows, apply_padding=True) as mine:
                batch = _collate(mine, student.tokenizer.pad_token_id)
            batch = {k: v.to(device) for k, v in batch.items()}
            for group in optimizer.param_groups:
                group["lr"] = _lr_at(step, total, lr)
            with precision.autocast(device):
                loss = _loss(model, batch)
            accelerator.backward(scaler.scale(loss))
            scaler.unscale_(optimizer)  # clip the true gradients; a step with inf or nan gradients is skipped
            accelerator.clip_grad_norm_(params, 1.0)
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            tokens += int(accelerator.reduce(batch["attention_mask"].sum(), "sum"))
            losses.append(accelerator.reduce(loss.detach(), "mean").item())  # the mean over the ranks' shares
            if progress is not None:
                progress(step, total, losses[-1])
        ran += 1
        if stop_when_learnt and step - checked >= LEARNT_EVERY:
            checked = step  # every rank checks the whole batch with the same weights, so all stop together
            if _learnt(model, data + pool, cfg.batch_size, student.tokenizer.pad_token_id):
                break
    model.eval()
    student.model = accelerator.unwrap_model(model)
    if cfg.carry_optimizer:
        # On the CPU: between rounds the student, not its optimizer, should own the accelerator's memory.
        student.optimizer_state = on_cpu(optimizer.state_dict())

    seconds = time.perf_counter() - started
    result = TrainResult(
        step,
        len(data) + drawn,
        tokens,
        losses[0],
        losses[-1],
        seconds,
        str(out_dir),
        ran,
        accelerator.num_processes,
        cut,
    )
    hparams = {
        "training": cfg.model_dump(mode="json"),
        "student": student.config.model_dump(mode="json") if student.config else None,
        "finetune": student.finetune,
        "lr": lr,
        "epochs": epochs,
        "epochs_run": ran,
        "examples": len(examples) + drawn,
        "replay": {"per_epoch": drawn, "pool": len(pool)},
        "result": asdict(result),
    }
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        save_checkpoint(student, Path(out_dir), hparams)
    accelerator.wait_for_everyone()  # no rank reads the checkpoint before rank 0 has written it
    return result
