"""Data layer: frames, videos and YouTube-VIS ground truth on disk, and the synthetic benchmark.

- :func:`read_frame` -- one JPEG/PNG as BGR uint8 (H, W, 3);
- :class:`VideoSource` / :class:`Video` / :class:`VideoFile` -- frame folders and video files
  (PyAV), optionally ordered by a YouTube-VIS JSON; ``videos_and_failures()`` validates each video
  on its own; :func:`write_videos_json` writes a run's ``videos.json``;
- :func:`load_ytvis_annotations` -- GT videos, categories, tracks; masks as compressed RLE;
- ``vis_pipeline.data.synth.generate_dataset`` -- the synthetic benchmark (``vis-synth``).

Every bad input raises :class:`DataError` (a ``ValueError``) with one line naming the file.
"""

from vis_pipeline.data.errors import DataError
from vis_pipeline.data.frames import IMAGE_SUFFIXES, load_json, natural_key, read_frame, to_bgr_uint8
from vis_pipeline.data.video import (
    AnyVideo,
    Video,
    VideoFailure,
    VideoSource,
    select_shard,
    write_videos_json,
)
from vis_pipeline.data.video_files import VIDEO_SUFFIXES, VideoFile
from vis_pipeline.data.ytvis import Category, Track, VideoInfo, YTVISAnnotations, load_ytvis_annotations

__all__ = [
    "IMAGE_SUFFIXES",
    "VIDEO_SUFFIXES",
    "AnyVideo",
    "VideoFile",
    "write_videos_json",
    "Category",
    "DataError",
    "Track",
    "Video",
    "VideoFailure",
    "VideoInfo",
    "VideoSource",
    "YTVISAnnotations",
    "load_json",
    "load_ytvis_annotations",
    "natural_key",
    "read_frame",
    "select_shard",
    "to_bgr_uint8",
]
