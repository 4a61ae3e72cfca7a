# HTC R-50 FPN (mmdet 3.x) for the 40 YouTube-VIS 2019 classes, trained with vis-train-detector
# (numbers of the run -- iterations, batch, lr, stride, held-out videos -- in the `train` block of
# configs/detector/htc_r50_ytvis2019.yaml).
#
# Initialisation: mmdet's COCO HTC (htc_r50_fpn_1x_coco). Everything class-independent is copied;
# in the class-specific rows of all three cascade stages (fc_cls, conv_logits; HTC's box regression
# is class-agnostic and copied whole) each YouTube-VIS class that the COCO -> YouTube-VIS map covers
# gets its COCO class's rows, the other classes start fresh (vis_pipeline/detect/remap.py).
#
# Semantic branch: DROPPED (mmdet's htc-without-semantic model). COCO's HTC has a semantic head
# trained on COCO-stuff maps, whose features are added to the box and mask RoI features. YouTube-VIS
# has no semantic maps, and mmdet's HTC computes the semantic loss from ground-truth maps whenever the
# head exists, so keeping it (even frozen) would need a RoI head of our own that skips that loss and
# the stuff maps in the data pipeline: a fork of mmdet code, and COCO-stuff features would stay frozen
# on a domain they never saw. Dropping it keeps the stock mmdet model; the copied box/mask heads lose
# the fused input and adapt during fine-tuning (the semantic-head tensors of the COCO file are left
# out and reported).
#
# Schedule: mmdet's 1x, inherited from the base config (SGD lr 0.02 for 16 images, momentum 0.9,
# weight decay 1e-4, linear warm-up from 0.001x over 500 iterations, lr x0.1 after epochs 8 and 11 of
# 12). One epoch = one pass over the kept training frames; vis-train-detector turns the epochs into
# iterations (train.epochs x frames with objects / total batch), stretches the steps onto them and
# scales the lr linearly from 16 images to the real total batch (mmengine's auto_scale_lr).
_base_ = "mmdet::htc/htc-without-semantic_r50_fpn_1x_coco.py"

# YouTube-VIS 2019 categories in category-id order (= vis_pipeline.categories.YTVIS_2019_CATEGORIES,
# checked by tests/test_detect_remap.py): detector label i is category id i + 1.
classes = (
    "person", "giant_panda", "lizard", "parrot", "skateboard", "sedan", "ape", "dog", "snake",
    "monkey", "hand", "rabbit", "duck", "cat", "cow", "fish", "train", "horse", "turtle", "bear",
    "motorbike", "giraffe", "leopard", "fox", "deer", "owl", "surfboard", "airplane", "truck",
    "zebra", "tiger", "elephant", "snowboard", "boat", "shark", "mouse", "frog", "eagle",
    "earless_seal", "tennis_racket",
)  # fmt: skip
metainfo = dict(classes=classes)
num_classes = 40  # YouTube-VIS 2019 and 2021 both have 40 classes


def _bbox_head(stds):
    return dict(
        type="Shared2FCBBoxHead",
        in_channels=256,
        fc_out_channels=1024,
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
        num_convs=4,
        in_channels=256,
        conv_out_channels=256,
        num_classes=num_classes,
        loss_mask=dict(type="CrossEntropyLoss", use_mask=True, loss_weight=1.0),
    )


# the base config's heads with 40 classes (a list in a child config replaces the base's list whole)
model = dict(
    roi_head=dict(
        bbox_head=[
            _bbox_head([0.1, 0.1, 0.2, 0.2]),
            _bbox_head([0.05, 0.05, 0.1, 0.1]),
            _bbox_head([0.033, 0.033, 0.067, 0.067]),
        ],
        mask_head=[_mask_head(False), _mask_head(True), _mask_head(True)],
    )
)

# data paths are filled in by vis-train-detector (frame-level COCO files of the YouTube-VIS set)
train_dataloader = dict(dataset=dict(metainfo=metainfo))
val_dataloader = dict(dataset=dict(metainfo=metainfo))
test_dataloader = val_dataloader
