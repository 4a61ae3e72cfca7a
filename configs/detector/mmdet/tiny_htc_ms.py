# Tiny HTC, multi-scale: the tiny_htc.py network fine-tuned on frames resized to 320x180, 480x270 or
# 640x360 (drawn per image), and tested at 640x360 - the default video size, where small objects are
# twice as many pixels across as at the 320x180 of tiny_htc.py. Only the pipelines differ from it.
_base_ = "tiny_htc.py"

train_scales = [(320, 180), (480, 270), (640, 360)]  # (w, h) choices of the training resize
test_scale = (640, 360)  # (w, h); vis-run sets the test resize from configs/detector/tiny_htc_ms.yaml

train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadAnnotations", with_bbox=True, with_mask=True),
    dict(type="RandomChoiceResize", scales=train_scales, keep_ratio=True),
    dict(type="RandomFlip", prob=0.5),
    dict(type="PackDetInputs"),
]
test_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="Resize", scale=test_scale, keep_ratio=True),
    dict(type="LoadAnnotations", with_bbox=True, with_mask=True),
    dict(type="PackDetInputs", meta_keys=("img_id", "img_path", "ori_shape", "img_shape", "scale_factor")),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
