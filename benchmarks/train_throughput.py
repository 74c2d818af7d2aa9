"""Training tokens/s and MFU of ioa's own training recipe, LoRA against full fine-tuning, at real model shapes.

Usage (from the repository root):

    .venv/bin/python benchmarks/train_throughput.py [--size small|0.5b|1b] [--mode lora|full|both]
        [--steps N] [--warmup N] [--batch-size N] [--seq-len N] [--peak-tflops X] [--threads N]

It builds a randomly initialised student of the chosen shape (``random_student``: placed, typed and
LoRA-wrapped as ``load_student`` does, so bf16 autocast on CUDA, fp32 on CPU) and trains it with
``train_student`` on synthetic examples that each fill exactly ``--seq-len`` tokens (no padding). Step
times come from the recipe's progress callback; the first ``--warmup`` steps are not timed.

FLOPs per trained token, N the model's parameters (tied embeddings once: they are the output matmul):
  full fine-tuning  6 N   (2 N forward, 4 N backward: activation and weight gradients)
  LoRA              4 N   (the frozen weights need activation gradients but no weight gradients;
                           the adapters' own FLOPs are under 1% and not counted)
Attention-score FLOPs and recomputation are not counted (the usual MFU convention), so MFU errs low.
MFU = achieved FLOP/s / the device's dense bf16 peak (table below); "n/a" on CPU or an unknown device
unless --peak-tflops is given.
"""

from __future__ import annotations

import argparse
import gc
import os
import tempfile
import time
import warnings
from pathlib import Path

import torch
from transformers import LlamaConfig, PretrainedConfig, Qwen2Config

from ioa.config import StudentConfig, TrainingConfig
from ioa.student_train import Example, random_student, train_student
from ioa.student_train.model import TINY_TOKENIZER

SIZES: dict[str, tuple[str, PretrainedConfig]] = {
    # Runs on a 2-core CPU in about a minute; the tiny student's vocabulary (SmolLM2's 49152 tokens).
    "small": (
        "Llama, 4 x 256",
        LlamaConfig(
            vocab_size=49152,
            hidden_size=256,
            intermediate_size=704,
            num_hidden_layers=4,
            num_attention_heads=4,
            num_key_value_heads=4,
            tie_word_embeddings=True,
        ),
    ),
    "0.5b": (
        "Qwen2.5-0.5B shape",
        Qwen2Config(
            vocab_size=151936,
            hidden_size=896,
            intermediate_size=4864,
            num_hidden_layers=24,
            num_attention_heads=14,
            num_key_value_heads=2,
            max_position_embeddings=32768,
            tie_word_embeddings=True,
        ),
    ),
    "1b": (
        "Llama-3.2-1B shape",
        LlamaConfig(
            vocab_size=128256,
            hidden_size=2048,
            intermediate_size=8192,
            num_hidden_layers=16,
            num_attention_heads=32,
            num_key_value_heads=8,
            max_position_embeddings=131072,
            tie_word_embeddings=True,
        ),
    ),
}
# (batch size, sequence length, steps, warm-up steps) when not given.
DEFAULTS = {"small": (4, 128, 8, 2), "0.5b": (8, 1024, 20, 5), "1b": (8, 1024, 20, 5)}
# Dense bf16 tensor-core peaks in TFLOP/s from NVIDIA's data sheets (the sparse figures are twice these).
# Matched in order against torch.cuda.get_device_name(): the PCIe and NVL H100s before the SXM one.
PEAK_TFLOPS = [("H100 PCIe", 756.0), ("H100 NVL", 835.0), ("H100", 989.0), ("H200", 989.0), ("A100", 312.0)]
FLOPS_PER_PARAM_TOKEN = {"full": 6, "lora": 4}


def device_peak(device: torch.device) -> tuple[str, float | None]:
    """The device's name and dense bf16 peak in TFLOP/s (None when not in the table, or on CPU)."""
    if device.type != "cuda":
        return "cpu", None
    name = torch.cuda.get_device_name(device)
    return name, next((peak for key, peak in PEAK_TFLOPS if key in name), None)


def examples(n: int, seq_len: int) -> list[Example]:
    """``n`` examples longer than ``seq_len`` tokens; training cuts each to exactly ``seq_len``."""
    words = " ".join(f"w{j}" for j in range(seq_len))  # every word is at least one token
    return [Example(prompt=f"Repeat list {i}.", target=words) for i in range(n)]


def measure(size: str, mode: str, args: argparse.Namespace, tokenizer_dir: Path) -> dict[str, float]:
    """Train ``args.steps`` steps of ``mode`` fine-tuning; tokens/s and FLOP/s over the steps after warm-up."""
    student_cfg = StudentConfig(model=f"random-{size}", finetune=mode)
    training = TrainingConfig(epochs=1, batch_size=args.batch_size, lr=1e-4)
    student = random_student(SIZES[size][1], tokenizer_dir, student_cfg, training)
    total, trainable = student.params()
    stamps: list[float] = []
    with tempfile.TemporaryDirectory(prefix="ioa-train-bench-") as out:
        result = train_student(
            student,
            examples(args.steps * args.batch_size, args.seq_len),
            training,
            Path(out) / "student",
            progress=lambda *_: stamps.append(time.perf_counter()),  # loss.item() has synchronised the device
            max_len=args.seq_len,
        )
    if result.tokens != args.steps * args.batch_size * args.seq_len:
        raise RuntimeError(f"expected full {args.seq_len}-token rows, trained {result.tokens} tokens")
    seconds = stamps[-1] - stamps[args.warmup - 1]
    tokens_per_s = (args.steps - args.warmup) * args.batch_size * args.seq_len / seconds
    flops_param = total if mode == "full" else total - trainable  # LoRA: the frozen base
    row = {
        "params": total,
        "trainable": trainable,
        "dtype": str(next(student.model.parameters()).dtype).removeprefix("torch."),
        "step_s": seconds / (args.steps - args.warmup),
        "tokens_per_s": tokens_per_s,
        "tflops": FLOPS_PER_PARAM_TOKEN[mode] * flops_param * tokens_per_s / 1e12,
        "loss": f"{result.loss_first:.2f} -> {result.loss_last:.2f}",
    }
    if student.device.type == "cuda":
        row["peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
        torch.cuda.reset_peak_memory_stats()
    del student
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=list(SIZES), default="small", help="model shape (random init)")
    parser.add_argument("--mode", choices=["both", "full", "lora"], default="both", help="which fine-tuning")
    parser.add_argument("--steps", type=int, help="optimizer steps per mode, warm-up included")
    parser.add_argument("--warmup", type=int, help="first steps not timed (at least 1)")
    parser.add_argument("--batch-size", type=int, help="examples per step")
    parser.add_argument("--seq-len", type=int, help="tokens per example")
    parser.add_argument("--peak-tflops", type=float, help="the device's dense bf16 peak, to override the table")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch CPU threads")
    args = parser.parse_args()
    batch, seq_len, steps, warmup = DEFAULTS[args.size]
    args.batch_size = args.batch_size or batch
    args.seq_len = args.seq_len or seq_len
    args.steps = args.steps or steps
    args.warmup = args.warmup or warmup
    if not 1 <= args.warmup < args.steps:
        parser.error("need 1 <= --warmup < --steps")
    torch.set_num_threads(args.threads)
    # Saving a LoRA checkpoint makes peft look up the base model's config by name; "random-<size>" has none.
    warnings.filterwarnings("ignore", message=r".*random-", category=UserWarning)

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    name, peak = device_peak(device)
    peak = args.peak_tflops or peak
    modes = ["full", "lora"] if args.mode == "both" else [args.mode]
    tokenizer_dir = TINY_TOKENIZER
    rows = {mode: measure(args.size, mode, args, tokenizer_dir) for mode in modes}

    params = next(iter(rows.values()))["params"]
    print(f"model {args.size} ({SIZES[args.size][0]}, {params / 1e6:.1f}M params, random init) on {name}")
    print(f"batch {args.batch_size} x {args.seq_len} tokens, {args.steps} steps ({args.warmup} warm-up, not timed)")
    print(f"peak {f'{peak:.0f} TFLOP/s bf16 dense' if peak else 'unknown: MFU n/a (give --peak-tflops)'}")
    if device.type == "cpu":
        print(f"cpu cores: {os.cpu_count()}, torch threads: {torch.get_num_threads()}, load: {os.getloadavg()[0]:.1f}")
    print(f"{'mode':<6}{'weights':>10}{'trainable':>11}{'step s':>9}{'tokens/s':>10}{'TFLOP/s':>9}{'MFU':>7}  loss")
    for mode, r in rows.items():
        mfu = f"{100 * r['tflops'] / peak:.1f}%" if peak else "n/a"
        memory = f"  peak {r['peak_gib']:.1f} GiB" if "peak_gib" in r else ""
        print(
            f"{mode:<6}{r['dtype']:>10}{r['trainable'] / 1e6:>10.1f}M{r['step_s']:>9.3f}{r['tokens_per_s']:>10.0f}"
            f"{r['tflops']:>9.3f}{mfu:>7}  {r['loss']}{memory}"
        )
    if len(rows) == 2:
        print(f"ratio lora / full tokens/s: {rows['lora']['tokens_per_s'] / rows['full']['tokens_per_s']:.2f}x")


if __name__ == "__main__":
    main()
