"""Training loop on the tiny model: refine gather == refine_at, loss goes down, checkpoint + resume."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils

from siammask.checkpoint import load_checkpoint
from siammask.model import build_siammask
from siammask.train.checkpointing import export_weights, load_training_checkpoint
from siammask.train.losses import LossWeights
from siammask.train.schedule import make_optimizer
from siammask.train.targets import AnchorConfig, TargetConfig, generate_anchors
from siammask.train.trainer import TrainConfigError, compute_losses, gather_refine_inputs, train

torch.set_num_threads(1)


def _synthetic_batch(batch_size: int) -> dict[str, torch.Tensor]:
    """Grey squares on noise, already cropped: object centred in both crops, ~64 px in the search."""
    generator = torch.Generator().manual_seed(0)
    template = torch.rand(batch_size, 3, 127, 127, generator=generator) * 60
    search = torch.rand(batch_size, 3, 255, 255, generator=generator) * 60
    template[:, :, 32:95, 32:95] = 200.0
    search[:, :, 100:160, 95:159] = 200.0
    mask = torch.zeros(batch_size, 255, 255)
    mask[:, 100:160, 95:159] = 1.0
    box = torch.tensor([[95.0, 100.0, 159.0, 160.0]]).repeat(batch_size, 1)
    return {"template": template, "search": search, "search_mask": mask, "search_box": box}


def test_gather_refine_inputs_matches_refine_at() -> None:
    torch.manual_seed(0)
    model = build_siammask("tiny")
    z, x = torch.rand(2, 3, 127, 127) * 255, torch.rand(2, 3, 255, 255) * 255
    with torch.no_grad():
        out = model.search(x, model.template_kernels(z))
        rows = [(0, 12, 12), (1, 0, 24), (0, 3, 21), (1, 24, 0)]
        gathered = model.refine_model(*gather_refine_inputs(out, rows))
        for k, (b, y, x_) in enumerate(rows):
            single = type(out)(
                **{f: getattr(out, f)[b : b + 1] for f in ("cls", "loc", "mask_corr", "p0", "p1", "p2")}
            )
            torch.testing.assert_close(
                gathered[k : k + 1], model.refine_at(single, [(y, x_)]), atol=1e-5, rtol=1e-5
            )


def test_a_few_sgd_steps_reduce_the_loss() -> None:
    torch.manual_seed(0)
    model = build_siammask("tiny").train()
    batch = _synthetic_batch(2)
    anchor_cfg = AnchorConfig()
    anchors = generate_anchors(anchor_cfg)
    optimizer = make_optimizer(list(model.parameters()), lr=5e-3)

    def step_loss(update: bool) -> float:
        terms = compute_losses(model, batch, anchors, anchor_cfg, TargetConfig(), LossWeights(), 4,
                               np.random.default_rng(0))  # fmt: skip
        if update:
            optimizer.zero_grad()
            terms.total.backward()
            optimizer.step()
        return float(terms.total.detach())

    first = step_loss(update=True)
    for _ in range(4):
        step_loss(update=True)
    assert step_loss(update=False) < first * 0.9


def _tiny_video_dataset(root: Path) -> Path:
    (root / "JPEGImages" / "v").mkdir(parents=True)
    names, segmentations = [], []
    for t in range(3):
        mask = np.zeros((96, 128), np.uint8)
        mask[30:60, 20 + 10 * t : 50 + 10 * t] = 1
        name = f"v/{t}.png"
        cv2.imwrite(str(root / "JPEGImages" / name), np.repeat(mask[:, :, None] * 220, 3, axis=2))
        rle = mask_utils.encode(np.asfortranarray(mask))
        names.append(name)
        segmentations.append({"size": rle["size"], "counts": rle["counts"].decode()})
    data = {"videos": [{"id": 1, "width": 128, "height": 96, "file_names": names}],
            "annotations": [{"id": 1, "video_id": 1, "segmentations": segmentations}]}  # fmt: skip
    (root / "annotations.json").write_text(json.dumps(data))
    return root


def _config(data_root: Path, run_dir: Path, epochs: int) -> dict:
    return {
        "run_dir": str(run_dir),
        "resume": None,
        "model": {"name": "tiny", "overrides": {}, "init_checkpoint": None},
        "data": {"ann": str(data_root / "annotations.json"), "frames": str(data_root / "JPEGImages")},
        "pairs": {"frame_gap": 2},
        "schedule": {"warmup_epochs": 1, "epochs": epochs},
        "optim": {"grad_clip": 10.0},
        "train": {
            "batch_size": 2,
            "pairs_per_epoch": 2,
            "seed": 0,
            "num_threads": 1,
            "max_mask_rows_per_pair": 2,
        },
    }


def _logged_epochs(run_dir: Path) -> list[int]:
    with (run_dir / "losses.csv").open(newline="") as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


def test_checkpoint_round_trip_and_resume(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data_root = _tiny_video_dataset(tmp_path / "data")
    run_dir = tmp_path / "run"
    last = train(_config(data_root, run_dir, epochs=1))
    assert _logged_epochs(run_dir) == [0] and (run_dir / "curve.png").stat().st_size > 0

    # released layout: load_checkpoint reads it into a fresh model, bit for bit
    fresh = build_siammask("tiny")
    load_checkpoint(fresh, last)
    trained = build_siammask("tiny")
    assert load_training_checkpoint(trained, None, last) == 1
    for key, value in fresh.state_dict().items():
        torch.testing.assert_close(value, trained.state_dict()[key], rtol=0, atol=0)

    # auto-resume: a longer schedule continues at epoch 1 and does not redo epoch 0
    capsys.readouterr()
    train(_config(data_root, run_dir, epochs=2))
    assert "resumed from" in capsys.readouterr().out
    assert _logged_epochs(run_dir) == [0, 1]
    assert load_training_checkpoint(build_siammask("tiny"), None, last) == 2

    # fp16 release file loads back into a float32 model, within half precision
    export_weights(last, tmp_path / "release.pth", fp16=True)
    released = build_siammask("tiny")
    load_checkpoint(released, tmp_path / "release.pth")
    assert (tmp_path / "release.pth").stat().st_size < 0.6 * last.stat().st_size
    reference = build_siammask("tiny")
    load_checkpoint(reference, last)
    weight = "features.features.conv1.weight"
    assert released.state_dict()[weight].dtype == torch.float32
    torch.testing.assert_close(
        released.state_dict()[weight], reference.state_dict()[weight], rtol=1e-3, atol=1e-4
    )


def test_data_loader_workers_train_on_the_same_pairs(tmp_path: Path) -> None:
    data_root = _tiny_video_dataset(tmp_path / "data")
    losses = []
    for workers in (0, 2):
        cfg = _config(data_root, tmp_path / f"run{workers}", epochs=1)
        cfg["train"]["num_workers"] = workers
        cfg["train"]["pairs_per_epoch"] = 4  # two steps: each worker crops one batch
        train(cfg)
        with (tmp_path / f"run{workers}" / "losses.csv").open(newline="") as handle:
            losses.append([row["total"] for row in csv.DictReader(handle)])
    assert losses[0] == losses[1] and len(losses[0]) == 2


def test_a_bad_worker_count_is_one_line(tmp_path: Path) -> None:
    cfg = _config(_tiny_video_dataset(tmp_path / "data"), tmp_path / "run", epochs=1)
    cfg["train"]["num_workers"] = -1
    with pytest.raises(TrainConfigError, match=r"train.num_workers=-1 must be an integer >= 0"):
        train(cfg)


def test_hard_negatives_train_the_score_down_on_a_distractor() -> None:
    """A second, identical square far from the target: the hard negatives (each pair's highest-scoring
    far anchors) put it in the score loss, so after a few steps the target outscores it by more."""
    batch = _synthetic_batch(2)
    batch["search"][:, :, 8:68, 180:244] = 200.0  # the distractor, up and right of the target
    anchor_cfg = AnchorConfig()
    anchors = generate_anchors(anchor_cfg)
    target, distractor = 2 * 625 + 12 * 25 + 12, 2 * 625 + 1 * 25 + 23  # 1:1 anchors at (12, 12), (1, 23)

    def target_lead(hard_negatives: int) -> float:
        torch.manual_seed(0)
        model = build_siammask("tiny").train()
        optimizer = make_optimizer(list(model.parameters()), lr=5e-3)
        cfg = TargetConfig(hard_negatives=hard_negatives)
        for step in range(8):
            terms = compute_losses(model, batch, anchors, anchor_cfg, cfg, LossWeights(), 4,
                                   np.random.default_rng(step))  # fmt: skip
            optimizer.zero_grad()
            terms.total.backward()
            optimizer.step()
        with torch.no_grad():  # batch statistics: 8 steps leave the running ones meaningless
            out = model.search(batch["search"], model.template_kernels(batch["template"]))
        logits = out.cls.reshape(2, 2, -1)
        margin = logits[:, 1] - logits[:, 0]  # foreground minus background logit
        return float((margin[:, target] - margin[:, distractor]).mean())

    # measured: lead 0.95 with hard negatives, -0.09 without
    assert target_lead(16) > target_lead(0) + 0.5
