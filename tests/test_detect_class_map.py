"""Detector label -> dataset category id tables (COCO -> YouTube-VIS 2019/2021, identity)."""

from __future__ import annotations

import numpy as np
import pytest

from vis_pipeline.categories import COCO_CLASSES, YTVIS_2019_CATEGORIES, YTVIS_2021_CATEGORIES
from vis_pipeline.detect.base import DetectorConfigError
from vis_pipeline.detect.class_map import label_to_category_table, map_labels

COCO = list(COCO_CLASSES)


def _id(names: tuple[str, ...], name: str) -> int:
    return names.index(name) + 1


def test_coco_to_ytvis2019() -> None:
    table = label_to_category_table("coco_to_ytvis2019", COCO)
    assert table.shape == (80,)
    assert table[COCO.index("person")] == _id(YTVIS_2019_CATEGORIES, "person") == 1
    assert table[COCO.index("car")] == _id(YTVIS_2019_CATEGORIES, "sedan")
    assert (
        table[COCO.index("bicycle")]
        == table[COCO.index("motorcycle")]
        == _id(YTVIS_2019_CATEGORIES, "motorbike")
    )
    assert table[COCO.index("tennis racket")] == _id(YTVIS_2019_CATEGORIES, "tennis_racket") == 40
    for unmapped in ("bird", "mouse", "frisbee", "banana"):
        assert table[COCO.index(unmapped)] == -1
    assert (table > 0).sum() == 21 and len(set(table[table > 0].tolist())) == 19


def test_coco_to_ytvis2021() -> None:
    table = label_to_category_table("coco_to_ytvis2021", COCO)
    assert table[COCO.index("car")] == _id(YTVIS_2021_CATEGORIES, "car")
    assert table[COCO.index("bird")] == _id(YTVIS_2021_CATEGORIES, "bird")
    assert table[COCO.index("frisbee")] == _id(YTVIS_2021_CATEGORIES, "flying_disc")
    assert table[COCO.index("person")] == _id(YTVIS_2021_CATEGORIES, "person") == 26
    assert table[COCO.index("mouse")] == -1


def test_map_labels_drops_unmapped() -> None:
    table = label_to_category_table("coco_to_ytvis2019", COCO)
    labels = np.array([COCO.index("dog"), COCO.index("banana"), COCO.index("person")])
    categories, keep = map_labels(labels, table)
    assert categories.tolist() == [_id(YTVIS_2019_CATEGORIES, "dog"), 1]
    assert keep.tolist() == [0, 2]
    with pytest.raises(DetectorConfigError, match="outside"):
        map_labels(np.array([80]), table)


def test_identity_for_own_classes() -> None:
    table = label_to_category_table("identity", ["disc", "square", "star"])
    assert table.tolist() == [1, 2, 3]


def test_coco_map_tolerates_old_spellings_but_not_other_counts(caplog) -> None:
    old = list(COCO)
    old[COCO.index("tv")] = "tvmonitor"
    assert (
        label_to_category_table("coco_to_ytvis2019", old).tolist()
        == label_to_category_table("coco_to_ytvis2019", COCO).tolist()
    )
    assert "tvmonitor" in caplog.text
    with pytest.raises(DetectorConfigError, match="this one has 79"):
        label_to_category_table("coco_to_ytvis2021", COCO[:79])


def test_errors() -> None:
    with pytest.raises(DetectorConfigError, match="80 COCO classes"):
        label_to_category_table("coco_to_ytvis2019", ["disc", "square"])
    with pytest.raises(DetectorConfigError, match="class_map must be one of"):
        label_to_category_table("voc", COCO)
