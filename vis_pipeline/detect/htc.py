"""mmdet 3.x instance-segmentation detectors (HTC and kin) behind the :class:`Detector` interface.

Builds any mmdet config + checkpoint with mmdet's public API (``init_detector``, the model's
``test_step``), runs frames in batches and returns per-frame :class:`Detections` at the
frame's original resolution with labels mapped to dataset category ids. Masks are encoded to
compressed RLE right after each batch; mmdet's own per-frame cap (``mmdet_max_per_img``)
bounds how many full-frame masks exist at once.
"""

from __future__ import annotations

import copy
import json
import warnings
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vis_pipeline.detect.base import (
    DetectorConfigError,
    VideoRef,
    check_frames,
    stable_hash,
)
from vis_pipeline.detect.checkpoints import (
    checkpoint_classes,
    file_sha256,
    load_checkpoint_file,
    load_weights_into,
    missing_checkpoint_error,
    resolve_checkpoint_path,
    resolve_config_path,
)
from vis_pipeline.detect.class_map import label_to_category_table, map_labels
from vis_pipeline.masks import encode_mask
from vis_pipeline.types import Detections


@dataclass(frozen=True)
class HTCSettings:
    """Everything that defines an mmdet detector run (``configs/detector/{htc_r50,tiny_htc}.yaml``).

    test_scale is (w, h): frames are resized to fit it, keeping the aspect ratio.
    """

    mmdet_config: str
    checkpoint: str | None
    class_map: str
    test_scale: tuple[int, int]
    score_thr: float
    topk: int
    mask_thr: float
    rpn_proposals: int
    mmdet_max_per_img: int
    batch_size: int = 1
    device: str = "auto"
    metafile_model: str | None = None
    trust_checkpoint: bool = False
    name: str = "mmdet"

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> HTCSettings:
        """Build from a detector YAML/hydra mapping; unknown keys (``type``, ``train``) are ignored."""
        fields = cls.__dataclass_fields__
        values = {k: cfg[k] for k in fields if k in cfg}
        missing = [k for k, f in fields.items() if k not in values and f.default is MISSING]
        if missing:
            raise DetectorConfigError(f"detector config: missing keys {missing}")
        scale = list(values["test_scale"])
        if len(scale) != 2 or min(scale) <= 0:
            raise DetectorConfigError(f"detector config: test_scale must be [w, h] > 0, got {scale}")
        values["test_scale"] = (int(scale[0]), int(scale[1]))
        if int(values["topk"]) < 1 or int(values["batch_size"]) < 1:
            raise DetectorConfigError("detector config: topk and batch_size must be >= 1")
        return cls(**values)


def pick_device(device: str) -> str:
    """'auto' -> 'cuda' when available, else 'cpu'."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def detections_from_instances(
    pred_instances: Any,
    category_of_label: np.ndarray,
    score_thr: float,
    topk: int,
) -> Detections:
    """mmdet ``DetDataSample.pred_instances`` -> :class:`Detections`.

    pred_instances: bboxes (N, 4) xyxy at original resolution, scores (N,), labels (N,) 0-based
        detector classes, masks (N, H, W) bool at original resolution (tensors or arrays).
    category_of_label: (num_classes,) int64, dataset category id per detector label, -1 = drop.
    Keeps mapped labels with score >= score_thr, at most ``topk``, highest score first.
    """

    def to_numpy(value: Any) -> np.ndarray:
        return value.detach().cpu().numpy() if torch.is_tensor(value) else np.asarray(value)

    scores = to_numpy(pred_instances.scores).astype(np.float32).reshape(-1)
    labels = to_numpy(pred_instances.labels).astype(np.int64).reshape(-1)
    boxes = to_numpy(pred_instances.bboxes).astype(np.float32).reshape(-1, 4)
    categories, mapped = map_labels(labels, category_of_label)
    passing = scores[mapped] >= score_thr
    keep, categories = mapped[passing], categories[passing]
    order = np.argsort(-scores[keep], kind="stable")[:topk]
    keep, categories = keep[order], categories[order]
    masks = pred_instances.masks
    rles = [encode_mask(to_numpy(masks[int(i)]).astype(bool)) for i in keep]
    return Detections(boxes[keep], scores[keep], categories, rles)


class HTCDetector:
    """An mmdet instance-segmentation model (default: HTC) as a :class:`Detector`."""

    def __init__(self, settings: HTCSettings, allow_random_init: bool = False) -> None:
        """Build the model and load its checkpoint.

        allow_random_init: with ``settings.checkpoint`` None, build a randomly initialised model
            (seeded, for benchmarks and tests); otherwise a missing checkpoint is an error.
        """
        from mmdet.apis import init_detector
        from mmengine.config import Config

        self.settings = settings
        self.device = pick_device(settings.device)
        config_path = resolve_config_path(settings.mmdet_config)
        cfg = Config.fromfile(str(config_path))
        self._apply_test_settings(cfg)
        self.mmdet_cfg = cfg
        num_classes = _num_classes(cfg)
        declared_classes = config_classes(cfg)

        ckpt: dict[str, Any] | None = None
        self.checkpoint_path: Path | None = None
        if settings.checkpoint is not None:
            path = resolve_checkpoint_path(settings.checkpoint)
            if not path.is_file():
                raise missing_checkpoint_error(path, settings.metafile_model)
            ckpt = load_checkpoint_file(path, trusted=settings.trust_checkpoint)
            self.checkpoint_path = path
        elif not allow_random_init:
            raise DetectorConfigError(f"{settings.name}: no checkpoint given (set checkpoint=<path>)")

        with warnings.catch_warnings(record=True):  # 'checkpoint is None, use COCO classes': not so here
            torch.manual_seed(0)  # random-init models are reproducible
            model = init_detector(cfg, checkpoint=None, device="cpu")
        if ckpt is not None:
            expected = declared_classes if settings.class_map == "identity" else None
            load_weights_into(model, ckpt, self.checkpoint_path, num_classes, expected)
            classes = checkpoint_classes(ckpt) or declared_classes
        else:
            classes = declared_classes
        if classes is None:
            raise DetectorConfigError(
                f"{config_path}: no class names in the config or the checkpoint (needed for the class map)"
            )
        model.dataset_meta = {"classes": tuple(classes)}
        self.classes = list(classes)
        self.model = model.to(self.device).eval()
        self.category_of_label = label_to_category_table(settings.class_map, self.classes)
        self._checkpoint_id = "random-init-seed0" if ckpt is None else file_sha256(self.checkpoint_path)
        self._pipeline = self._build_pipeline()

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], allow_random_init: bool = False) -> HTCDetector:
        return cls(HTCSettings.from_config(cfg), allow_random_init=allow_random_init)

    def _apply_test_settings(self, cfg: Any) -> None:
        """Write test scale, thresholds and proposal counts into the mmdet config."""
        s = self.settings
        cfg.model.backbone.init_cfg = None  # never fetch ImageNet weights
        test_cfg = cfg.model.test_cfg
        test_cfg.rpn.nms_pre = s.rpn_proposals
        test_cfg.rpn.max_per_img = s.rpn_proposals
        test_cfg.rcnn.score_thr = s.score_thr
        test_cfg.rcnn.max_per_img = max(s.mmdet_max_per_img, s.topk)
        test_cfg.rcnn.mask_thr_binary = s.mask_thr
        pipeline = [copy.deepcopy(t) for t in cfg.test_dataloader.dataset.pipeline]
        pipeline = [t for t in pipeline if t["type"] not in ("LoadAnnotations", "mmdet.LoadAnnotations")]
        for step in pipeline:
            if step["type"] in ("LoadImageFromFile", "mmdet.LoadImageFromFile"):
                step["type"] = "mmdet.LoadImageFromNDArray"
            if step["type"] in ("Resize", "mmdet.Resize"):
                step["scale"] = s.test_scale
                step["keep_ratio"] = True
        cfg.test_dataloader.dataset.pipeline = pipeline

    def _build_pipeline(self) -> Any:
        from mmcv.transforms import Compose

        return Compose(self.mmdet_cfg.test_dataloader.dataset.pipeline)

    def cache_key(self) -> str:
        """Hash of the effective mmdet config, the settings and the checkpoint's content hash."""
        cfg_json = json.dumps(self.mmdet_cfg.to_dict(), sort_keys=True, default=str)
        settings = asdict(self.settings)
        settings.pop("device")  # CPU and GPU results are treated as the same detections
        settings.pop("batch_size")
        return stable_hash({"cfg": cfg_json, "settings": settings, "checkpoint": self._checkpoint_id})

    def detect(
        self,
        frames: list[np.ndarray],
        video: VideoRef | None = None,
        frame_indices: list[int] | None = None,
    ) -> list[Detections]:
        """Detect in BGR uint8 frames (each (H, W, 3)), ``batch_size`` frames per forward pass."""
        check_frames(frames, f"{self.settings.name}.detect")
        out: list[Detections] = []
        for start in range(0, len(frames), self.settings.batch_size):
            batch = frames[start : start + self.settings.batch_size]
            samples = [self._pipeline({"img": frame, "img_id": start + i}) for i, frame in enumerate(batch)]
            data = {
                "inputs": [s["inputs"] for s in samples],
                "data_samples": [s["data_samples"] for s in samples],
            }
            with torch.no_grad():
                results = self.model.test_step(data)
            for result in results:
                out.append(
                    detections_from_instances(
                        result.pred_instances,
                        self.category_of_label,
                        self.settings.score_thr,
                        self.settings.topk,
                    )
                )
            del results  # full-frame masks of the batch go here
        return out


def _num_classes(cfg: Any) -> int:
    heads = cfg.model.roi_head.bbox_head
    head = heads[0] if isinstance(heads, list | tuple) else heads
    return int(head.num_classes)


def config_classes(cfg: Any) -> list[str] | None:
    """Class names the config declares (top-level ``classes`` or the test dataset's metainfo)."""
    if "classes" in cfg:
        return list(cfg.classes)
    metainfo = cfg.get("test_dataloader", {}).get("dataset", {}).get("metainfo") or {}
    if "classes" in metainfo:
        return list(metainfo["classes"])
    if cfg.get("test_dataloader", {}).get("dataset", {}).get("type") == "CocoDataset":
        from mmdet.datasets import CocoDataset

        return list(CocoDataset.METAINFO["classes"])
    return None
