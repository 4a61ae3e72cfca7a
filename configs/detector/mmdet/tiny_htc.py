# Tiny HTC (mmdet 3.x HybridTaskCascade without the semantic branch) for the synthetic benchmark.
#
# Same architecture family as mmdet's htc_r50_fpn_1x_coco (3-stage interleaved cascade with mask
# information flow), shrunk so it trains from scratch on a 2-core CPU in about an hour:
# ResNet-18 layout with 16 base channels, 64-channel FPN/RPN/RoI features, 128-unit box FCs,
# 2-conv mask heads, 320x180 input, fewer proposals and sampled RoIs. No ImageNet init.
# Trained by `vis-train-detector detector=tiny_htc ...` (scripts/train_tiny_htc.sh has the exact
# commands); the data paths, batch size, lr, iterations and seed below are overwritten by it from the
# `train` block of configs/detector/tiny_htc.yaml (the values here are the same, for mmdet's own tools).
_base_ = "mmdet::htc/htc-without-semantic_r50_fpn_1x_coco.py"

# Category names of the synthetic benchmark (vis_pipeline/data/synth.py), in category-id order:
# detector label i is dataset category id i + 1.
classes = ("disc", "square", "triangle", "star", "ring", "cross")
num_classes = len(classes)
metainfo = dict(classes=classes)
image_scale = (320, 180)  # (w, h) of the training and default test scale
feat = 64  # FPN / RPN / RoI feature channels


def _bbox_head(stds):
    return dict(
        type="Shared2FCBBoxHead",
        in_channels=feat,
        fc_out_channels=128,
        roi_feat_size=7,
        num_classes=num_classes,
        bbox_coder=dict(type="DeltaXYWHBBoxCoder", target_means=[0.0, 0.0, 0.0, 0.0], target_stds=stds),
        reg_class_agnostic=True,
        loss_cls=dict(type="CrossEntropyLoss", use_sigmoid=False, loss_weight=1.0),
        loss_bbox=dict(type="SmoothL1Loss", beta=1.0, loss_weight=1.0),
    )


def _mask_head(with_conv_res):
    return dict(
        type="HTCMaskHead",
        with_conv_res=with_conv_res,
        num_convs=2,
        in_channels=feat,
        conv_out_channels=feat,
        num_classes=num_classes,
        loss_mask=dict(type="CrossEntropyLoss", use_mask=True, loss_weight=1.0),
    )


def _rcnn_stage(iou):
    return dict(
        assigner=dict(
            type="MaxIoUAssigner", pos_iou_thr=iou, neg_iou_thr=iou, min_pos_iou=iou, ignore_iof_thr=-1
        ),
        # 64 sampled RoIs per image instead of 512: the main speed knob on CPU
        sampler=dict(
            type="RandomSampler", num=64, pos_fraction=0.25, neg_pos_ub=-1, add_gt_as_proposals=True
        ),
        mask_size=28,
        pos_weight=-1,
        debug=False,
    )


model = dict(
    backbone=dict(
        depth=18,
        base_channels=16,
        frozen_stages=-1,
        norm_eval=False,
        init_cfg=None,
    ),
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=feat),
    rpn_head=dict(
        in_channels=feat,
        feat_channels=feat,
        # anchors of 16..256 px: the synthetic objects at 320x180 are ~14..200 px across
        anchor_generator=dict(scales=[4]),
    ),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=feat),
        mask_roi_extractor=dict(out_channels=feat),
        bbox_head=[
            _bbox_head([0.1, 0.1, 0.2, 0.2]),
            _bbox_head([0.05, 0.05, 0.1, 0.1]),
            _bbox_head([0.033, 0.033, 0.067, 0.067]),
        ],
        mask_head=[_mask_head(False), _mask_head(True), _mask_head(True)],
    ),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=600, max_per_img=300),
        rcnn=[_rcnn_stage(0.5), _rcnn_stage(0.6), _rcnn_stage(0.7)],
    ),
    test_cfg=dict(
        rpn=dict(nms_pre=300, max_per_img=100),
        rcnn=dict(score_thr=0.05, max_per_img=20),
    ),
)

train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadAnnotations", with_bbox=True, with_mask=True),
    dict(type="Resize", scale=image_scale, keep_ratio=True),
    dict(type="RandomFlip", prob=0.5),
    dict(type="PackDetInputs"),
]
test_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="Resize", scale=image_scale, keep_ratio=True),
    dict(type="LoadAnnotations", with_bbox=True, with_mask=True),
    dict(type="PackDetInputs", meta_keys=("img_id", "img_path", "ori_shape", "img_shape", "scale_factor")),
]
data_root = "outputs/tiny_htc/data/"  # overridden by vis-train-detector
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type="InfiniteSampler", shuffle=True),
    batch_sampler=None,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file="train_coco.json",
        data_prefix=dict(img="train/JPEGImages/"),
        filter_cfg=dict(filter_empty_gt=True, min_size=4),
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file="val_coco.json",
        data_prefix=dict(img="val/JPEGImages/"),
        pipeline=test_pipeline,
    ),
)
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + "val_coco.json", metric=["bbox", "segm"])
test_evaluator = val_evaluator

# Iteration-based schedule: warm-up, then two LR steps near the end.
max_iters = 3000
train_cfg = dict(_delete_=True, type="IterBasedTrainLoop", max_iters=max_iters, val_interval=10**9)
param_scheduler = [
    dict(type="LinearLR", start_factor=0.01, by_epoch=False, begin=0, end=150),
    dict(type="MultiStepLR", by_epoch=False, begin=0, end=max_iters, milestones=[2500, 2850], gamma=0.1),
]
optim_wrapper = dict(
    optimizer=dict(type="SGD", lr=0.02, momentum=0.9, weight_decay=0.0001),
    clip_grad=dict(max_norm=10.0, norm_type=2),
)
default_hooks = dict(
    logger=dict(type="LoggerHook", interval=20),
    checkpoint=dict(type="CheckpointHook", by_epoch=False, interval=100, max_keep_ckpts=2),
    visualization=dict(type="DetVisualizationHook", draw=False),
)
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
