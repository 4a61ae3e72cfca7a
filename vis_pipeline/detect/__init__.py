"""Detector layer: frames -> per-frame :class:`~vis_pipeline.types.Detections`.

- ``base``: the :class:`Detector` protocol (``detect(frames) -> list[Detections]``, ``cache_key()``)
  and the layer's error types.
- ``htc``: any mmdet 3.x instance-segmentation model (default HTC) with class mapping
  (``class_map``) and checkpoint checks (``checkpoints``).
- ``oracle``: detections from the ground truth with controllable noise.
- ``cache``: per-video detection files, reused across tracker settings (``detect_video``).
- ``coco_convert`` / ``download``: training-data conversion and checkpoint downloads.

Submodules are imported explicitly (``from vis_pipeline.detect.htc import HTCDetector``) so that
importing the package does not pull in torch or mmdet.
"""
