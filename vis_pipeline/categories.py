"""Category tables: YouTube-VIS 2019 / 2021, COCO (mmdet order) and COCO -> YouTube-VIS mappings.

Category ids are 1-based and equal to the position in the list plus one. Sources: the 2019 list
as in the official annotation files; the 2021 list as in the public 2021 annotation files and
mmdet 3.x ``YouTubeVISDataset`` (alphabetical; ``sedan`` is renamed ``car``, eagle/owl merged
into ``bird``, ape into ``monkey``, hand removed, flying_disc/squirrel/whale added).
"""

from __future__ import annotations

YTVIS_2019_CATEGORIES: tuple[str, ...] = (
    "person", "giant_panda", "lizard", "parrot", "skateboard", "sedan", "ape", "dog", "snake",
    "monkey", "hand", "rabbit", "duck", "cat", "cow", "fish", "train", "horse", "turtle", "bear",
    "motorbike", "giraffe", "leopard", "fox", "deer", "owl", "surfboard", "airplane", "truck",
    "zebra", "tiger", "elephant", "snowboard", "boat", "shark", "mouse", "frog", "eagle",
    "earless_seal", "tennis_racket",
)  # fmt: skip

YTVIS_2021_CATEGORIES: tuple[str, ...] = (
    "airplane", "bear", "bird", "boat", "car", "cat", "cow", "deer", "dog", "duck",
    "earless_seal", "elephant", "fish", "flying_disc", "fox", "frog", "giant_panda", "giraffe",
    "horse", "leopard", "lizard", "monkey", "motorbike", "mouse", "parrot", "person", "rabbit",
    "shark", "skateboard", "snake", "snowboard", "squirrel", "surfboard", "tennis_racket", "tiger",
    "train", "truck", "turtle", "whale", "zebra",
)  # fmt: skip

# The 80 COCO classes in mmdet's CocoDataset order (= 0-based detector labels of a COCO model).
COCO_CLASSES: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip

# COCO class name -> YouTube-VIS 2019 name (21 COCO classes onto 19 YTVIS classes). COCO "mouse"
# is the computer mouse and "bird" is ambiguous in 2019 (duck/eagle/owl/parrot), so neither maps.
COCO_TO_YTVIS2019: dict[str, str] = {
    "person": "person",
    "bicycle": "motorbike",
    "motorcycle": "motorbike",
    "car": "sedan",
    "airplane": "airplane",
    "train": "train",
    "truck": "truck",
    "boat": "boat",
    "cat": "cat",
    "dog": "dog",
    "horse": "horse",
    "cow": "cow",
    "elephant": "elephant",
    "bear": "bear",
    "zebra": "zebra",
    "giraffe": "giraffe",
    "skis": "snowboard",
    "snowboard": "snowboard",
    "skateboard": "skateboard",
    "surfboard": "surfboard",
    "tennis racket": "tennis_racket",
}

# 2021: sedan is called car; the merged "bird" class and the new "flying_disc" have exact COCO
# counterparts (bird, frisbee), so they are added (23 COCO classes onto 21 YTVIS classes).
COCO_TO_YTVIS2021: dict[str, str] = {
    **{coco: ("car" if ytvis == "sedan" else ytvis) for coco, ytvis in COCO_TO_YTVIS2019.items()},
    "bird": "bird",
    "frisbee": "flying_disc",
}

DATASET_CATEGORIES: dict[str, tuple[str, ...]] = {
    "ytvis2019": YTVIS_2019_CATEGORIES,
    "ytvis2021": YTVIS_2021_CATEGORIES,
}
COCO_TO_DATASET: dict[str, dict[str, str]] = {
    "ytvis2019": COCO_TO_YTVIS2019,
    "ytvis2021": COCO_TO_YTVIS2021,
}


class UnknownDatasetError(ValueError):
    """A dataset name other than ``ytvis2019`` / ``ytvis2021``."""


def _names(name: str) -> tuple[str, ...]:
    if name not in DATASET_CATEGORIES:
        raise UnknownDatasetError(f"unknown dataset {name!r}; expected one of {sorted(DATASET_CATEGORIES)}")
    return DATASET_CATEGORIES[name]


def category_table(name: str) -> list[dict]:
    """``[{"id": 1, "name": ...}, ...]`` for ``"ytvis2019"`` or ``"ytvis2021"`` (ids 1..40)."""
    return [{"id": i + 1, "name": n} for i, n in enumerate(_names(name))]


def coco_label_to_category_id(name: str) -> dict[int, int]:
    """{0-based COCO detector label: 1-based category id of ``name``} for the mapped COCO classes."""
    ids = {n: i + 1 for i, n in enumerate(_names(name))}
    mapping = COCO_TO_DATASET[name]
    return {label: ids[mapping[coco]] for label, coco in enumerate(COCO_CLASSES) if coco in mapping}
