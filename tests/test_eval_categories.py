"""Category tables: YouTube-VIS 2019/2021 lists, COCO order and COCO -> YouTube-VIS mappings."""

from __future__ import annotations

import pytest

from vis_pipeline.categories import (
    COCO_CLASSES,
    COCO_TO_YTVIS2019,
    COCO_TO_YTVIS2021,
    YTVIS_2019_CATEGORIES,
    YTVIS_2021_CATEGORIES,
    UnknownDatasetError,
    category_table,
    coco_label_to_category_id,
)


def test_lists_have_the_published_sizes_and_orders() -> None:
    assert len(YTVIS_2019_CATEGORIES) == len(set(YTVIS_2019_CATEGORIES)) == 40
    assert YTVIS_2019_CATEGORIES[:6] == ("person", "giant_panda", "lizard", "parrot", "skateboard", "sedan")
    assert YTVIS_2019_CATEGORIES[-1] == "tennis_racket"
    assert len(YTVIS_2021_CATEGORIES) == len(set(YTVIS_2021_CATEGORIES)) == 40
    assert list(YTVIS_2021_CATEGORIES) == sorted(YTVIS_2021_CATEGORIES)  # ids alphabetical
    # 2021 changes: sedan -> car, eagle/owl -> bird, ape -> monkey, hand removed, 3 added.
    removed = set(YTVIS_2019_CATEGORIES) - set(YTVIS_2021_CATEGORIES)
    added = set(YTVIS_2021_CATEGORIES) - set(YTVIS_2019_CATEGORIES)
    assert removed == {"sedan", "eagle", "owl", "ape", "hand"}
    assert added == {"car", "bird", "flying_disc", "squirrel", "whale"}
    assert len(COCO_CLASSES) == 80 and COCO_CLASSES[:3] == ("person", "bicycle", "car")
    assert COCO_CLASSES[-1] == "toothbrush" and "tennis racket" in COCO_CLASSES


def test_category_table_ids_are_one_based() -> None:
    table = category_table("ytvis2019")
    assert table[0] == {"id": 1, "name": "person"} and table[39] == {"id": 40, "name": "tennis_racket"}
    assert category_table("ytvis2021")[4] == {"id": 5, "name": "car"}
    with pytest.raises(UnknownDatasetError, match="ytvis2022"):
        category_table("ytvis2022")


@pytest.mark.parametrize(
    ("mapping", "names", "num_sources", "num_targets"),
    [(COCO_TO_YTVIS2019, YTVIS_2019_CATEGORIES, 21, 19), (COCO_TO_YTVIS2021, YTVIS_2021_CATEGORIES, 23, 21)],
)
def test_coco_mappings_use_valid_names(
    mapping: dict, names: tuple, num_sources: int, num_targets: int
) -> None:
    assert set(mapping) <= set(COCO_CLASSES) and set(mapping.values()) <= set(names)
    assert len(mapping) == num_sources and len(set(mapping.values())) == num_targets


def test_coco_label_to_category_id() -> None:
    table_2019 = coco_label_to_category_id("ytvis2019")
    assert table_2019[COCO_CLASSES.index("car")] == YTVIS_2019_CATEGORIES.index("sedan") + 1 == 6
    assert table_2019[COCO_CLASSES.index("motorcycle")] == table_2019[COCO_CLASSES.index("bicycle")] == 21
    assert COCO_CLASSES.index("bird") not in table_2019 and COCO_CLASSES.index("mouse") not in table_2019
    table_2021 = coco_label_to_category_id("ytvis2021")
    assert table_2021[COCO_CLASSES.index("car")] == 5 and table_2021[COCO_CLASSES.index("frisbee")] == 14
    assert table_2021[COCO_CLASSES.index("person")] == 26
