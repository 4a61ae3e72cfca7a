"""DAVIS J / F / decay on hand-built masks, the DAVIS label PNG reader and a tiny siammask-eval run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import cli, make_synth
from PIL import Image

from vis_pipeline.data import DataError, load_ytvis_annotations
from vis_pipeline.data.davis import list_davis_sequences, read_label_map
from vis_pipeline.eval.jf import (
    boundary_map,
    contour_accuracy,
    decay,
    region_similarity,
    score_sequence,
    summarize,
    tolerance_pixels,
)
from vis_pipeline.masks import rle_area

WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "tiny_siammask.pth"


def square(shape: tuple[int, int], y: int, x: int, side: int) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    mask[y : y + side, x : x + side] = True
    return mask


def test_j_and_f_identical_disjoint_and_empty() -> None:
    a = square((100, 100), 10, 10, 20)
    b = square((100, 100), 60, 60, 20)
    empty = np.zeros((100, 100), dtype=bool)
    assert region_similarity(a, a) == 1.0 and contour_accuracy(a, a) == 1.0
    assert region_similarity(a, b) == 0.0 and contour_accuracy(a, b) == 0.0
    assert region_similarity(empty, empty) == 1.0 and contour_accuracy(empty, empty) == 1.0
    assert region_similarity(empty, a) == 0.0 and contour_accuracy(empty, a) == 0.0
    assert region_similarity(a, empty) == 0.0 and contour_accuracy(a, empty) == 0.0


def test_j_is_iou() -> None:
    gt = square((50, 50), 0, 0, 10)  # 100 px
    pred = square((50, 50), 0, 5, 10)  # overlap 10 x 5 = 50, union 150
    assert region_similarity(pred, gt) == pytest.approx(50 / 150)


def test_boundary_map_follows_seg2bmap() -> None:
    # a 3x3 square at rows/cols 2..4: each label transition marks the upper/left pixel of the pair
    mask = square((7, 7), 2, 2, 3)
    expected = {
        (1, 1),
        (1, 2),
        (1, 3),
        (1, 4),
        (2, 1),
        (3, 1),
        (4, 1),
        (2, 4),
        (3, 4),
        (4, 2),
        (4, 3),
        (4, 4),
    }
    assert set(map(tuple, np.argwhere(boundary_map(mask)).tolist())) == expected
    # a mask filling the image has no boundary (the border is not an edge)
    assert not boundary_map(np.ones((5, 6), dtype=bool)).any()


def test_tolerance_is_davis_fraction_of_the_diagonal() -> None:
    assert tolerance_pixels((480, 854)) == 8  # ceil(0.008 * 979.6)
    assert tolerance_pixels((100, 100)) == 2  # ceil(1.13)
    assert tolerance_pixels((100, 100), bound_th=3) == 3  # >= 1: pixels


def test_f_shift_within_and_beyond_tolerance() -> None:
    gt = square((100, 100), 40, 40, 20)  # tolerance 2 px at 100x100
    one = square((100, 100), 40, 41, 20)
    two = square((100, 100), 40, 42, 20)  # 2 px: on the tolerance disc's rim
    far = square((100, 100), 40, 46, 20)
    assert region_similarity(one, gt) < 1.0
    assert contour_accuracy(one, gt) == 1.0
    assert contour_accuracy(two, gt) == 1.0
    f_far = contour_accuracy(far, gt)
    assert 0.0 < f_far < 1.0
    three = square((100, 100), 40, 43, 20)
    assert contour_accuracy(three, gt) < 1.0  # 3 px > the 2 px tolerance: the vertical edges miss
    assert contour_accuracy(three, gt, bound_th=3) == 1.0  # ... and match with a 3 px tolerance
    assert f_far < contour_accuracy(three, gt)


def test_decay_first_minus_last_quarter() -> None:
    linear = [1 - t / 8 for t in range(9)]  # bins: frames 0-2, 2-4, 4-6, 6-8
    assert decay(linear) == pytest.approx((1 + 0.875 + 0.75) / 3 - (0.25 + 0.125 + 0) / 3)
    assert decay([0.7] * 13) == pytest.approx(0.0)
    assert decay([0.2, 0.4, 0.6, 0.8, 1.0]) < 0  # improving over time: negative decay
    assert np.isnan(decay([]))


def test_score_sequence_and_summary() -> None:
    gt = [square((40, 40), 5, 5, 10)] * 4
    preds = [gt[0], gt[0], np.zeros((40, 40), bool), np.zeros((40, 40), bool)]
    row = score_sequence("v/1", preds, gt)
    assert (row.J, row.F, row.frames) == (0.5, 0.5, 4)
    assert row.J_decay == pytest.approx(1.0)
    other = score_sequence("v/2", gt, gt)
    overall = summarize([row, other])
    assert overall["J"] == pytest.approx(0.75) and overall["JF"] == pytest.approx(0.75)
    assert overall["sequences"] == 2 and overall["frames"] == 8


def _palette_png(path: Path, labels: np.ndarray) -> None:
    image = Image.new("P", (labels.shape[1], labels.shape[0]))
    image.putdata(labels.astype(np.uint8).ravel().tolist())
    image.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0] + [255, 255, 255] * 253)
    image.save(path)


def test_read_label_map_palette_binary_and_rgb(tmp_path: Path) -> None:
    labels = np.zeros((6, 8), np.uint8)
    labels[1:3, 1:3] = 1
    labels[4:6, 5:8] = 2
    labels[0, 7] = 255
    _palette_png(tmp_path / "p.png", labels)
    read, void = read_label_map(tmp_path / "p.png")
    assert read[1, 1] == 1 and read[5, 6] == 2 and read[0, 7] == 0 and read[0, 0] == 0
    assert void.sum() == 1 and void[0, 7]

    Image.fromarray(np.where(labels == 1, 255, 0).astype(np.uint8)).save(tmp_path / "b.png")
    binary, void = read_label_map(tmp_path / "b.png")
    assert set(np.unique(binary).tolist()) == {0, 1} and binary.sum() == 4 and not void.any()

    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "rgb.png")
    with pytest.raises(DataError, match="rgb.png: label PNG of mode RGB"):
        read_label_map(tmp_path / "rgb.png")


def _davis_folder(root: Path, frames: int, labels: int) -> None:
    (root / "JPEGImages/480p/seq").mkdir(parents=True)
    (root / "Annotations/480p/seq").mkdir(parents=True)
    for t in range(frames):
        Image.fromarray(np.full((6, 8, 3), 90, np.uint8)).save(root / f"JPEGImages/480p/seq/{t:05d}.jpg")
    for t in range(labels):
        _palette_png(root / f"Annotations/480p/seq/{t:05d}.png", np.zeros((6, 8), np.uint8))


def test_list_davis_sequences(tmp_path: Path) -> None:
    _davis_folder(tmp_path / "ok", frames=3, labels=3)
    (sequence,) = list_davis_sequences(tmp_path / "ok")
    assert sequence.name == "seq" and [p.name for p in sequence.label_paths] == [
        "00000.png",
        "00001.png",
        "00002.png",
    ]
    _davis_folder(tmp_path / "first_only", frames=3, labels=1)
    with pytest.raises(DataError, match="1 label PNGs for 3 frames"):
        list_davis_sequences(tmp_path / "first_only")
    with pytest.raises(DataError, match="DAVIS folder not found"):
        list_davis_sequences(tmp_path / "missing")


def test_siammask_eval_cli_end_to_end(tmp_path: Path) -> None:
    data = make_synth(tmp_path / "set", videos=2, seed=3)
    out = tmp_path / "eval"
    args = [
        f"data.frames={data / 'JPEGImages'}",
        f"data.ann={data / 'annotations.json'}",
        "tracker=tiny",
        f"tracker.checkpoint={WEIGHTS}",
        f"out={out}",
        "progress=false",
    ]
    proc = cli("vis_pipeline.cli.siammask_eval", args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads((out / "jf.json").read_text())
    gt = load_ytvis_annotations(data / "annotations.json")
    expected = {}  # object -> scored frames: after its first visible frame, up to (without) the last
    for track in gt.tracks:
        masks = gt.track_masks(track)
        visible = [t for t, rle in enumerate(masks) if rle is not None and rle_area(rle) > 0]
        if visible and visible[0] < len(masks) - 2:
            expected[f"{gt.videos[track.video_id].name}/{track.track_id}"] = len(masks) - 2 - visible[0]
    assert expected and {r["name"]: r["frames"] for r in report["sequences"]} == expected
    for row in report["sequences"]:
        assert 0.0 <= row["J"] <= 1.0 and 0.0 <= row["F"] <= 1.0
    overall = report["overall"]
    assert overall["J"] == pytest.approx(np.mean([r["J"] for r in report["sequences"]]))
    assert overall["JF"] == pytest.approx((overall["J"] + overall["F"]) / 2)
    assert "| **overall** (" in proc.stdout
    causes = {"kept", "small_init", "after_absence", "after_occlusion", "drift"}
    assert {r["loss"] for r in report["sequences"]} <= causes
    for row in report["sequences"]:  # lost_at is a video frame after the init frame, or null when kept
        assert (row["lost_at"] is None) == (row["loss"] == "kept")
    losses = {r["cause"]: r for r in report["losses"]}
    assert set(losses) == causes and sum(r["objects"] for r in losses.values()) == len(expected)
    assert sum(r["shortfall"] for r in losses.values()) == pytest.approx(1 - overall["JF"])
    assert "| loss cause |" in proc.stdout
    assert (out / "jf.md").read_text().startswith("| sequence |")


def test_siammask_eval_cli_bad_settings(tmp_path: Path) -> None:
    proc = cli(
        "vis_pipeline.cli.siammask_eval", [f"out={tmp_path}", "data.davis=/nowhere", "data.ann=x.json"]
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "siammask-eval: give data.davis=DIR or data.frames=DIR data.ann=GT.json, not both"
    ]
    proc = cli(
        "vis_pipeline.cli.siammask_eval",
        [f"out={tmp_path}", "data.davis=/nowhere", "eval.failures.occluded_frac=2"],
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "siammask-eval: configs/siammask_eval.yaml: eval.failures: failures.occluded_frac=2.0 is out of range"
    ]
