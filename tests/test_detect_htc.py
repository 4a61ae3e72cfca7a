"""mmdet adapter: result conversion, real tiny HTC forward, checkpoint errors, cache keys."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from vis_pipeline.detect.base import (
    CheckpointMismatchError,
    CheckpointNotFoundError,
    DetectorConfigError,
    UntrustedCheckpointError,
)
from vis_pipeline.detect.htc import HTCDetector, detections_from_instances
from vis_pipeline.masks import decode_rle, rle_area, rle_iou_matrix

REPO = Path(__file__).resolve().parents[1]
TINY_CFG = yaml.safe_load((REPO / "configs/detector/tiny_htc.yaml").read_text())
R50_CFG = yaml.safe_load((REPO / "configs/detector/htc_r50.yaml").read_text())


def tiny_settings(**overrides) -> dict:
    return {**TINY_CFG, "checkpoint": None, "device": "cpu", **overrides}


@pytest.fixture(scope="module")
def random_tiny() -> HTCDetector:
    torch.set_num_threads(1)
    return HTCDetector.from_config(tiny_settings(score_thr=0.0), allow_random_init=True)


def test_detections_from_mmdet_instances() -> None:
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData

    h, w = 20, 30
    masks = torch.zeros(4, h, w, dtype=torch.bool)
    masks[0, 1:5, 1:5] = True
    masks[1, 10:15, 3:9] = True
    masks[2, 2:4, 20:25] = True
    masks[3, 0:2, 0:2] = True
    sample = DetDataSample()
    sample.pred_instances = InstanceData(
        bboxes=torch.tensor(
            [[1, 1, 5, 5], [3, 10, 9, 15], [20, 2, 25, 4], [0, 0, 2, 2]], dtype=torch.float32
        ),
        scores=torch.tensor([0.5, 0.9, 0.7, 0.02]),
        labels=torch.tensor([0, 2, 1, 2]),
        masks=masks,
    )
    table = np.array([5, -1, 7], dtype=np.int64)  # label 1 has no dataset category
    dets = detections_from_instances(sample.pred_instances, table, score_thr=0.05, topk=10)
    assert dets.labels.tolist() == [7, 5]  # sorted by score; unmapped and low-score dropped
    np.testing.assert_allclose(dets.scores, [0.9, 0.5])
    np.testing.assert_array_equal(dets.boxes[0], [3, 10, 9, 15])
    np.testing.assert_array_equal(decode_rle(dets.masks[0]), masks[1].numpy())
    assert dets.masks[0]["size"] == [h, w] and isinstance(dets.masks[0]["counts"], str)
    top1 = detections_from_instances(sample.pred_instances, table, score_thr=0.0, topk=1)
    assert top1.labels.tolist() == [7]
    with pytest.raises(DetectorConfigError, match="outside a class map"):
        detections_from_instances(sample.pred_instances, np.array([1, 2]), 0.0, 10)


def test_random_tiny_htc_runs_on_small_frames(random_tiny: HTCDetector) -> None:
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (120, 160, 3), dtype=np.uint8) for _ in range(2)]
    tic = time.perf_counter()
    dets = random_tiny.detect(frames)
    assert time.perf_counter() - tic < 30
    assert len(dets) == 2
    for d in dets:
        assert 0 < len(d) <= TINY_CFG["topk"]
        assert all(m["size"] == [120, 160] for m in d.masks)
        assert set(d.labels.tolist()) <= set(range(1, len(random_tiny.classes) + 1))
        assert (d.boxes[:, 2] <= 160.5).all() and (d.boxes[:, 3] <= 120.5).all()
    with pytest.raises(ValueError, match="uint8"):
        random_tiny.detect([np.zeros((120, 160, 3), np.float32)])


def _save_tiny_checkpoint(model: torch.nn.Module, path: Path, classes, **extra) -> Path:
    sd = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    torch.save({"meta": {"dataset_meta": {"classes": list(classes)}}, "state_dict": sd, **extra}, path)
    return path


def test_checkpoint_load_and_cache_key(random_tiny: HTCDetector, tmp_path: Path) -> None:
    ckpt = _save_tiny_checkpoint(random_tiny.model, tmp_path / "a.pth", random_tiny.classes)
    loaded = HTCDetector.from_config(tiny_settings(checkpoint=str(ckpt)))
    w_loaded = loaded.model.state_dict()["roi_head.bbox_head.0.fc_cls.weight"]
    w_orig = random_tiny.model.state_dict()["roi_head.bbox_head.0.fc_cls.weight"].half().float()
    torch.testing.assert_close(w_loaded, w_orig)
    key = loaded.cache_key()
    assert key == HTCDetector.from_config(tiny_settings(checkpoint=str(ckpt), batch_size=1)).cache_key()
    assert (
        key != HTCDetector.from_config(tiny_settings(checkpoint=str(ckpt), test_scale=[160, 90])).cache_key()
    )
    assert key != HTCDetector.from_config(tiny_settings(checkpoint=str(ckpt), score_thr=0.5)).cache_key()
    other = _save_tiny_checkpoint(random_tiny.model, tmp_path / "b.pth", random_tiny.classes, note="other")
    assert key != HTCDetector.from_config(tiny_settings(checkpoint=str(other))).cache_key()


def test_missing_checkpoint_names_path_and_url(tmp_path: Path) -> None:
    path = tmp_path / "htc_r50.pth"
    with pytest.raises(CheckpointNotFoundError) as err:
        HTCDetector.from_config({**R50_CFG, "checkpoint": str(path), "device": "cpu"})
    message = str(err.value)
    assert str(path) in message and "\n" not in message
    assert "https://download.openmmlab.com/mmdetection/v2.0/htc/htc_r50_fpn_1x_coco/" in message


def test_no_checkpoint_without_random_init_is_an_error() -> None:
    with pytest.raises(DetectorConfigError, match="no checkpoint"):
        HTCDetector.from_config(tiny_settings())


def test_class_mismatch_errors(random_tiny: HTCDetector, tmp_path: Path) -> None:
    wrong_count = _save_tiny_checkpoint(random_tiny.model, tmp_path / "c.pth", ["a", "b", "c"])
    with pytest.raises(CheckpointMismatchError, match="3 classes"):
        HTCDetector.from_config(tiny_settings(checkpoint=str(wrong_count)))
    renamed = list(random_tiny.classes)
    renamed[1] = "banana"
    wrong_names = _save_tiny_checkpoint(random_tiny.model, tmp_path / "d.pth", renamed)
    with pytest.raises(CheckpointMismatchError, match="banana"):
        HTCDetector.from_config(tiny_settings(checkpoint=str(wrong_names)))
    # a head trained for another class count, without class names in the file
    sd = dict(random_tiny.model.state_dict())
    sd["roi_head.bbox_head.0.fc_cls.weight"] = sd["roi_head.bbox_head.0.fc_cls.weight"][:3]
    torch.save({"state_dict": sd}, tmp_path / "e.pth")
    with pytest.raises(CheckpointMismatchError, match="fc_cls.*class count"):
        HTCDetector.from_config(tiny_settings(checkpoint=str(tmp_path / "e.pth")))
    torch.save({"state_dict": {"backbone.foo": torch.zeros(1)}}, tmp_path / "f.pth")
    with pytest.raises(CheckpointMismatchError, match="missing"):
        HTCDetector.from_config(tiny_settings(checkpoint=str(tmp_path / "f.pth")))


def test_pickled_objects_need_trust(random_tiny: HTCDetector, tmp_path: Path) -> None:
    # like an mmengine training checkpoint: numpy objects in the meta need full unpickling
    path = _save_tiny_checkpoint(
        random_tiny.model, tmp_path / "g.pth", random_tiny.classes, extra=np.arange(3)
    )
    with pytest.raises(UntrustedCheckpointError, match="trust_checkpoint"):
        HTCDetector.from_config(tiny_settings(checkpoint=str(path)))
    trusted = HTCDetector.from_config(tiny_settings(checkpoint=str(path), trust_checkpoint=True))
    assert trusted.classes == random_tiny.classes


def test_bad_settings() -> None:
    with pytest.raises(DetectorConfigError, match="test_scale"):
        HTCDetector.from_config(tiny_settings(test_scale=[320]), allow_random_init=True)
    with pytest.raises(DetectorConfigError, match="not found"):
        HTCDetector.from_config(tiny_settings(mmdet_config="mmdet::htc/nope.py"), allow_random_init=True)
    with pytest.raises(DetectorConfigError, match="class_map"):
        HTCDetector.from_config(tiny_settings(class_map="coco_to_voc"), allow_random_init=True)


def test_batched_detect_matches_mmdet_inference_detector(random_tiny: HTCDetector) -> None:
    from mmdet.apis import inference_detector

    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 255, (90, 120, 3), dtype=np.uint8) for _ in range(3)]
    batched = HTCDetector.from_config(tiny_settings(score_thr=0.0, batch_size=3), allow_random_init=True)
    ours = batched.detect(frames)
    reference = inference_detector(batched.model, frames, test_pipeline=batched._pipeline)
    for mine, ref in zip(ours, reference, strict=True):
        expected = detections_from_instances(
            ref.pred_instances, batched.category_of_label, 0.0, TINY_CFG["topk"]
        )
        assert len(mine) == len(expected) > 0
        # batched convolutions differ in the last float bits: near-tied scores may swap order and a
        # few pixels at the 0.5 mask threshold may flip, so compare as matched sets
        np.testing.assert_allclose(mine.scores, expected.scores, atol=1e-5)
        iou = rle_iou_matrix(mine.masks, expected.masks)
        empty_mine = np.array([rle_area(m) == 0 for m in mine.masks])
        empty_ref = np.array([rle_area(m) == 0 for m in expected.masks])
        iou[np.ix_(empty_mine, empty_ref)] = 1.0  # random weights: some masks are empty on both sides
        assert iou.max(axis=0).min() > 0.98 and iou.max(axis=1).min() > 0.98
        best = iou.argmax(axis=1)
        np.testing.assert_allclose(mine.boxes, expected.boxes[best], atol=1e-2)
