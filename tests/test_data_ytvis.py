"""YouTube-VIS GT loading: the three segmentation encodings agree; contradictions are one-line errors."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from vis_pipeline.data import DataError, load_ytvis_annotations
from vis_pipeline.data.synth import uncompressed_rle
from vis_pipeline.masks import decode_rle, encode_mask

HEIGHT, WIDTH = 12, 16
POLYGON = [[2.0, 1.0, 13.0, 3.0, 9.0, 10.0, 3.0, 8.0]]


def _polygon_mask() -> np.ndarray:
    """The polygon rasterised the way COCO/YouTube-VIS readers do (pycocotools), (H, W) bool."""
    rle = mask_utils.merge(mask_utils.frPyObjects(POLYGON, HEIGHT, WIDTH))
    return mask_utils.decode(rle).astype(bool)


def _gt() -> dict[str, Any]:
    mask = _polygon_mask()
    shifted = np.roll(mask, 2, axis=1)
    compressed = [encode_mask(mask), None, encode_mask(shifted)]
    uncompressed = [uncompressed_rle(mask), None, uncompressed_rle(shifted)]
    shifted_polygon = [[x + 2 if i % 2 == 0 else x for i, x in enumerate(POLYGON[0])]]
    polygons = [POLYGON, None, shifted_polygon]
    video = {"id": 3, "width": WIDTH, "height": HEIGHT, "length": 3,
             "file_names": ["clip/0.jpg", "clip/1.jpg", "clip/2.jpg"]}  # fmt: skip
    tracks = [
        {"id": i + 1, "video_id": 3, "category_id": 1, "iscrowd": 0, "segmentations": segs,
         "areas": [None] * 3, "bboxes": [None] * 3}
        for i, segs in enumerate([compressed, uncompressed, polygons])
    ]  # fmt: skip
    return {
        "info": {},
        "licenses": [],
        "videos": [video],
        "annotations": tracks,
        "categories": [{"id": 1, "name": "blob", "supercategory": "shape"}],
    }


def _write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(data))
    return path


def test_three_encodings_decode_to_the_same_masks(tmp_path: Path) -> None:
    gt = load_ytvis_annotations(_write(tmp_path, _gt()))
    assert sorted(gt.videos) == [3] and gt.category_names == {1: "blob"}
    assert [t.track_id for t in gt.tracks_of(3)] == [1, 2, 3]
    decoded = []
    for track in gt.tracks:
        masks = gt.track_masks(track)
        assert masks[1] is None
        assert all(
            isinstance(m["counts"], str) and m["size"] == [HEIGHT, WIDTH] for m in (masks[0], masks[2])
        )
        decoded.append([decode_rle(masks[0]), decode_rle(masks[2])])
    expected = _polygon_mask()
    assert expected.sum() > 20 and not np.array_equal(decoded[0][0], decoded[0][1])
    for frames in decoded:
        np.testing.assert_array_equal(frames[0], expected)
        np.testing.assert_array_equal(frames[1], decoded[0][1])


def _break(data: dict[str, Any], case: str) -> dict[str, Any]:
    data = copy.deepcopy(data)
    track = data["annotations"][0]
    if case == "unknown video_id":
        track["video_id"] = 99
    elif case == "unknown category_id":
        track["category_id"] = 5
    elif case == "segmentations length":
        track["segmentations"] = track["segmentations"][:2]
    elif case == "areas length":
        track["areas"] = [None]
    elif case == "RLE size":
        track["segmentations"][0]["size"] = [WIDTH, HEIGHT]
    elif case == "video length":
        data["videos"][0]["length"] = 4
    elif case == "duplicate track id":
        data["annotations"][1]["id"] = track["id"]
    return data


@pytest.mark.parametrize(
    ("case", "needle"),
    [
        ("unknown video_id", "unknown video_id 99"),
        ("unknown category_id", "unknown category_id 5"),
        ("segmentations length", "2 segmentations but the video has 3 frames"),
        ("areas length", "1 areas but the video has 3 frames"),
        ("RLE size", "RLE size [16, 12] != video size [12, 16]"),
        ("video length", "length 4 != 3 file_names"),
        ("duplicate track id", "duplicate annotation id 1"),
    ],
)
def test_contradictory_gt_gives_one_line_error(tmp_path: Path, case: str, needle: str) -> None:
    path = _write(tmp_path, _break(_gt(), case))
    with pytest.raises(DataError) as exc:
        load_ytvis_annotations(path)
    message = str(exc.value)
    assert str(path) in message and needle in message and "\n" not in message


def test_malformed_json_and_garbage_segmentation(tmp_path: Path) -> None:
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(_gt())[:-5])
    with pytest.raises(DataError, match="malformed .* line 1 column"):
        load_ytvis_annotations(path)
    data = _gt()
    data["annotations"][1]["segmentations"][2] = {"size": [HEIGHT, WIDTH], "counts": [3, "x", None]}
    with pytest.raises(DataError) as exc:  # caught up front, without decoding every mask
        load_ytvis_annotations(_write(tmp_path, data))
    assert "(id 2) of video 3 frame 2: undecodable" in str(exc.value)
    assert str(tmp_path / "gt.json") in str(exc.value)
    # a per-video problem in non-strict mode: that video is recorded, the file still loads
    gt = load_ytvis_annotations(_write(tmp_path, data), strict=False)
    assert set(gt.problems) == {3} and "undecodable" in gt.problems[3] and gt.tracks_of(3) == []


def test_test_set_file_without_annotations_loads(tmp_path: Path) -> None:
    data = _gt()
    del data["annotations"], data["categories"]
    gt = load_ytvis_annotations(_write(tmp_path, data))
    assert gt.tracks == [] and gt.videos[3].name == "clip" and gt.videos[3].length == 3
