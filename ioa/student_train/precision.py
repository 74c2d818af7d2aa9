"""Which floating-point formats the student trains and answers in, decided from what the device supports.

bf16 has fp32's range, so it needs no loss scaling; only GPUs from Ampere on (compute capability 8.0) compute in it.
Older GPUs (V100, T4) get fp16, whose narrow range underflows small gradients to zero unless the loss is scaled up
before the backward pass and the gradients scaled back down (``torch.amp.GradScaler``). The CPU computes in fp32.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from ioa.errors import UsageError

DType = Literal["auto", "bfloat16", "float16", "float32"]


@dataclass(frozen=True)
class Precision:
    """How the student is held and computed."""

    weights: torch.dtype
    """The dtype the model's weights are stored in."""
    compute: torch.dtype | None
    """The autocast dtype of forward passes; None computes in the weights' dtype (no autocast)."""
    scale_loss: bool
    """Whether the loss is scaled for the backward pass (fp16 compute)."""

    def autocast(self, device: torch.device) -> torch.autocast:
        """The autocast context of a forward pass on ``device`` (a no-op when ``compute`` is None)."""
        return torch.autocast(device.type, dtype=self.compute or torch.float32, enabled=self.compute is not None)

    def scaler(self, device: torch.device) -> torch.amp.GradScaler:
        """The loss scaler of a training loop (disabled, a pass-through, unless ``scale_loss``)."""
        return torch.amp.GradScaler(device.type, enabled=self.scale_loss)


def bf16_supported(device: torch.device) -> bool:
    """Whether ``device`` computes in bf16 natively (asked of CUDA only: the CPU path stays in fp32)."""
    return device.type == "cuda" and torch.cuda.is_bf16_supported()


def choose_precision(dtype: DType, device: torch.device, finetune: str) -> Precision:
    """The precision for ``student.dtype`` = ``dtype`` on ``device``, for full or LoRA fine-tuning.

    On CUDA, autocast computes in bf16 where the device has it, else in fp16 with loss scaling. With 'auto' a LoRA
    student's frozen base is stored in that half format; full fine-tuning keeps fp32 weights (an AdamW step at lr
    2e-5 is below bf16's resolution and would be lost). LoRA's own weights stay fp32 either way (peft's default).
    """
    if device.type != "cuda":
        return Precision(torch.float32 if dtype == "auto" else getattr(torch, dtype), None, False)
    half = torch.bfloat16 if bf16_supported(device) else torch.float16
    if dtype == "auto":
        weights = half if finetune == "lora" else torch.float32
    else:
        weights = getattr(torch, dtype)
    if weights is torch.bfloat16 and half is not torch.bfloat16:
        raise UsageError("student.dtype=bfloat16 but this GPU does not support bf16; use auto (fp16 with loss scaling)")
    if weights is torch.float16 and finetune == "full":
        # GradScaler cannot unscale fp16 gradients, and fp16 weights cannot hold small AdamW updates.
        raise UsageError("student.dtype=float16 cannot be fully fine-tuned; use auto (fp32 weights, fp16 compute)")
    return Precision(weights, half, half is torch.float16)
