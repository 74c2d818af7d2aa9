"""Prompt format and batched greedy answers: how the student is asked, in training and in probes alike."""

from __future__ import annotations

from collections.abc import Callable

import torch
import transformers
from transformers import GenerationConfig

from ioa.student_train.model import Student
from ioa.teacher.prompt_format import probe_messages


def format_prompt(tokenizer: transformers.PreTrainedTokenizerBase, question: str) -> str:
    """The question as the teacher is asked it (``probe_messages``: one user turn) in the tokenizer's chat template,
    ending where the answer starts, so that P_S and P_T compare the two models and nothing else."""
    if tokenizer.chat_template is None:
        # Base models without a template still get one fixed format, the same in training and probes.
        return f"Question: {question}\nAnswer: "
    return tokenizer.apply_chat_template(probe_messages(question), tokenize=False, add_generation_prompt=True)


def _generation_config(student: Student, max_new_tokens: int) -> GenerationConfig:
    # A fresh config, so sampling settings shipped with a pretrained model cannot leak into greedy probes.
    eos = student.model.generation_config.eos_token_id
    eos_ids = {student.tokenizer.eos_token_id, *(eos if isinstance(eos, list) else [eos])} - {None}
    return GenerationConfig(
        max_new_tokens=max_new_tokens,
        do_sample=False,
        num_beams=1,
        use_cache=True,
        pad_token_id=student.tokenizer.pad_token_id,
        eos_token_id=sorted(eos_ids),
    )


def generate_answers(
    student: Student,
    questions: list[str],
    *,
    max_new_tokens: int,
    batch_size: int,
    progress: Callable[[int], None] | None = None,
) -> list[str]:
    """Greedy answers, one per question and in order: the completion text only, special tokens stripped."""
    return answer_and_count(
        student, questions, max_new_tokens=max_new_tokens, batch_size=batch_size, progress=progress
    )[0]


def answer_and_count(
    student: Student,
    questions: list[str],
    *,
    max_new_tokens: int,
    batch_size: int,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[str], int]:
    """``generate_answers``, and how many answers the cap cut off (all of ``max_new_tokens`` used, no end token)."""
    model, tokenizer = student.model, student.tokenizer
    model.eval()
    tokenizer.padding_side = "left"
    gen_cfg = _generation_config(student, max_new_tokens)
    stops = torch.tensor(gen_cfg.eos_token_id)
    prompts = [format_prompt(tokenizer, q) for q in questions]
    # Batch prompts of similar length together so little compute goes to padding.
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    answers: list[str] = [""] * len(prompts)
    cut = 0
    with torch.inference_mode(), student.precision().autocast(student.device):
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            # The template already holds its special tokens; adding more would double the BOS.
            enc = tokenizer([prompts[i] for i in idx], return_tensors="pt", padding=True, add_special_tokens=False)
            enc = enc.to(student.device)
            out = model.generate(**enc, generation_config=gen_cfg)
            completions = out[:, enc["input_ids"].shape[1] :]
            if completions.shape[1] >= max_new_tokens:
                ended = torch.isin(completions.cpu(), stops).any(dim=1)
                cut += int((~ended).sum())
            for i, text in zip(idx, tokenizer.batch_decode(completions, skip_special_tokens=True), strict=True):
                answers[i] = text.strip()
            if progress is not None:
                progress(len(idx))
    return answers, cut
