"""Training-curve plot from ``losses.csv`` (one row per step: epoch, step, lr, total, mask, score, reg)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np


def epoch_means(log_path: Path) -> dict[str, np.ndarray]:
    """Per-epoch means of every logged loss: ``{"epoch": (E,), "total": (E,), "mask": ..., ...}``."""
    with Path(log_path).open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    keys = ("total", "mask", "score", "reg", "lr")
    if not rows:
        return {"epoch": np.zeros(0), **{k: np.zeros(0) for k in keys}}
    epochs = np.array([int(r["epoch"]) for r in rows])
    unique = np.unique(epochs)
    means = {k: np.array([np.mean([float(r[k]) for r, e in zip(rows, epochs, strict=True) if e == u])
                          for u in unique]) for k in keys}  # fmt: skip
    return {"epoch": unique + 1, **means}


def plot_loss_curve(log_path: Path, png_path: Path) -> None:
    """Write a PNG with the per-epoch mean of the three losses (and the weighted total) and the lr."""
    import matplotlib

    matplotlib.use("Agg")  # headless: no display on the training machines
    import matplotlib.pyplot as plt

    means = epoch_means(log_path)
    fig, (ax_loss, ax_lr) = plt.subplots(1, 2, figsize=(10, 4))
    for key, label in (("mask", "Lmask"), ("score", "Lscore"), ("reg", "Lreg")):
        ax_loss.plot(means["epoch"], means[key], marker="o", label=label)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("mean loss (unweighted)")
    ax_loss.set_yscale("log")
    ax_loss.legend()
    ax_total = ax_loss.twinx()
    ax_total.plot(means["epoch"], means["total"], color="black", linestyle="--", label="L3B total")
    ax_total.set_ylabel("L3B = 32 Lmask + Lscore + Lreg")
    ax_total.legend(loc="lower left")
    ax_lr.plot(means["epoch"], means["lr"], marker=".")
    ax_lr.set_xlabel("epoch")
    ax_lr.set_ylabel("mean learning rate")
    fig.suptitle(f"SiamMask training: {Path(log_path).parent.name}")
    fig.tight_layout()
    fig.savefig(png_path, dpi=80)
    plt.close(fig)
