# HTC R-50 FPN for the 40 YouTube-VIS 2021 classes: the 2019 config (model, semantic branch dropped,
# 1x schedule; see htc_r50_ytvis2019.py) with the 2021 class list. Both sets have 40 classes, so the
# network is the same; only the names (and so the remapped COCO rows) differ.
_base_ = "./htc_r50_ytvis2019.py"

# YouTube-VIS 2021 categories in category-id order (= vis_pipeline.categories.YTVIS_2021_CATEGORIES,
# checked by tests/test_detect_remap.py): detector label i is category id i + 1.
classes = (
    "airplane", "bear", "bird", "boat", "car", "cat", "cow", "deer", "dog", "duck",
    "earless_seal", "elephant", "fish", "flying_disc", "fox", "frog", "giant_panda", "giraffe",
    "horse", "leopard", "lizard", "monkey", "motorbike", "mouse", "parrot", "person", "rabbit",
    "shark", "skateboard", "snake", "snowboard", "squirrel", "surfboard", "tennis_racket", "tiger",
    "train", "truck", "turtle", "whale", "zebra",
)  # fmt: skip
metainfo = dict(classes=classes)
train_dataloader = dict(dataset=dict(metainfo=metainfo))
val_dataloader = dict(dataset=dict(metainfo=metainfo))
test_dataloader = val_dataloader
