"""Learning-rate schedule of the paper (§4.1): linear warm-up, then logarithmic (geometric) decay.

With the paper's numbers: lr rises linearly from 1e-3 to 5e-3 over the first 5 epochs, then decays
log-linearly to 5e-4 over 15 more epochs. The schedule is a function of the *fractional* epoch
``t = epoch + iteration / iterations_per_epoch`` so the lr changes smoothly every step:
lr(0) = 1e-3, lr(5) = 5e-3, lr(20) = 5e-4.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class LrSchedule:
    """Warm-up + log-decay schedule; ``epochs`` is the total (warm-up included)."""

    lr_start: float = 1e-3
    lr_peak: float = 5e-3
    lr_end: float = 5e-4
    warmup_epochs: float = 5.0
    epochs: float = 20.0

    def __post_init__(self) -> None:
        if min(self.lr_start, self.lr_peak, self.lr_end) <= 0:
            raise ValueError(f"learning rates must be > 0, got {self}")
        if not 0 <= self.warmup_epochs <= self.epochs or self.epochs <= 0:
            raise ValueError(f"need 0 <= warmup_epochs <= epochs and epochs > 0, got {self}")

    def lr_at(self, t: float) -> float:
        """Learning rate at fractional epoch ``t`` (clamped to [0, epochs])."""
        t = min(max(t, 0.0), self.epochs)
        if t < self.warmup_epochs:
            return self.lr_start + (self.lr_peak - self.lr_start) * t / self.warmup_epochs
        decay_epochs = self.epochs - self.warmup_epochs
        if decay_epochs <= 0:
            return self.lr_peak
        fraction = (t - self.warmup_epochs) / decay_epochs
        return math.exp(math.log(self.lr_peak) + fraction * (math.log(self.lr_end) - math.log(self.lr_peak)))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set the learning rate of every parameter group."""
    for group in optimizer.param_groups:
        group["lr"] = lr


def make_optimizer(
    parameters: list[torch.nn.Parameter], lr: float, momentum: float = 0.9, weight_decay: float = 1e-4
) -> torch.optim.SGD:
    """SGD as the paper (momentum 0.9, weight decay 1e-4)."""
    return torch.optim.SGD(parameters, lr=lr, momentum=momentum, weight_decay=weight_decay)
