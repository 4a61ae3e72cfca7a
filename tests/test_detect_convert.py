"""YouTube-VIS -> COCO frame annotations for detector training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vis_pipeline.detect.coco_convert import ConversionError, convert_file, ytvis_to_coco
from vis_pipeline.masks import decode_rle, encode_mask


def _ytvis() -> dict:
    h, w = 10, 12
    m = np.zeros((h, w), bool)
    m[2:6, 3:8] = True
    seg = encode_mask(m)
    uncompressed = {"size": [h, w], "counts": [32, 4, 6, 4, 6, 4, 6, 4, 6, 4, 44]}  # same mask
    return {
        "videos": [
            {"id": 7, "width": w, "height": h, "length": 4, "file_names": [f"v/{i}.jpg" for i in range(4)]}
        ],
        "annotations": [
            {"id": 1, "video_id": 7, "category_id": 2, "iscrowd": 0, "segmentations": [seg, None, seg, seg]},
            {
                "id": 2,
                "video_id": 7,
                "category_id": 1,
                "iscrowd": 0,
                "segmentations": [None, None, uncompressed, None],
            },
        ],
        "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}],
    }


def test_frames_and_instances() -> None:
    coco = ytvis_to_coco(_ytvis())
    assert [im["file_name"] for im in coco["images"]] == ["v/0.jpg", "v/1.jpg", "v/2.jpg", "v/3.jpg"]
    per_image = [
        [a["category_id"] for a in coco["annotations"] if a["image_id"] == im["id"]] for im in coco["images"]
    ]
    assert per_image == [[2], [], [2, 1], [2]]
    first = coco["annotations"][0]
    assert first["bbox"] == [3.0, 2.0, 5.0, 4.0] and first["area"] == 20.0 and first["iscrowd"] == 0
    assert decode_rle(first["segmentation"]).sum() == 20
    assert all(isinstance(a["segmentation"]["counts"], str) for a in coco["annotations"])
    from_uncompressed = coco["annotations"][2]
    assert from_uncompressed["category_id"] == 1
    assert from_uncompressed["segmentation"] == first["segmentation"]


def test_stride_keeps_every_nth_frame() -> None:
    coco = ytvis_to_coco(_ytvis(), frame_stride=2)
    assert [im["frame_index"] for im in coco["images"]] == [0, 2]
    assert len(coco["annotations"]) == 3


def test_errors(tmp_path: Path) -> None:
    bad = _ytvis()
    bad["annotations"][0]["segmentations"] = bad["annotations"][0]["segmentations"][:3]
    with pytest.raises(ConversionError, match="3 segmentations"):
        ytvis_to_coco(bad, source="x.json")
    with pytest.raises(ConversionError, match="missing"):
        ytvis_to_coco({"videos": []}, source="x.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(ConversionError, match="broken.json"):
        convert_file(broken, tmp_path / "out.json")
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_ytvis()))
    assert convert_file(good, tmp_path / "out.json") == {"images": 4, "annotations": 4}
