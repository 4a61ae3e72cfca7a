"""Overlay videos: predicted masks coloured by track, with category and score labels, optionally
side by side with the ground truth, written as browser-playable H.264.

The writer is PyAV's libx264: H.264 High profile, yuv420p (the only chroma layout every browser
decodes), MP4 with ``+faststart`` (the index at the front, so a browser starts playing before the
whole file arrives). yuv420p needs even frame sizes: an odd width/height is padded with one black
column/row. Frame rate: a video file's own (divided by the frame step kept), ``fps`` otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import av
import cv2
import numpy as np

from vis_pipeline.data import DataError, YTVISAnnotations
from vis_pipeline.masks import RLE, decode_rle

# Distinct BGR colours (tab10-like), cycled by track index.
PALETTE = np.array(
    [
        [180, 119, 31], [14, 127, 255], [44, 160, 44], [40, 39, 214], [189, 103, 148],
        [75, 86, 140], [194, 119, 227], [127, 127, 127], [34, 189, 188], [207, 190, 23],
    ],
    dtype=np.float32,
)  # fmt: skip
# Largest denominator of the container frame rate: NTSC rates are n/1001.
_MAX_RATE_DENOMINATOR = 1001
X264_PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
)


class OverlaySettingsError(ValueError):
    """An overlay setting that cannot work (one line naming the key)."""


@dataclass(frozen=True)
class OverlaySettings:
    """How overlays look and are encoded (``configs/visualize.yaml``, ``configs/report.yaml``).

    fps: frame rate of frame-folder videos (video files keep theirs); alpha: mask opacity;
    crf: x264 constant quality (lower = better, bigger); preset: x264 speed/size trade-off.
    """

    fps: float
    alpha: float
    crf: int
    preset: str

    def __post_init__(self) -> None:
        problems = [
            (not self.fps > 0, f"fps={self.fps}: must be > 0"),
            (not 0 <= self.alpha <= 1, f"alpha={self.alpha}: must be in [0, 1]"),
            (not 0 <= self.crf <= 51, f"crf={self.crf}: must be in [0, 51] (x264)"),
            (
                self.preset not in X264_PRESETS,
                f"preset={self.preset}: must be one of {' | '.join(X264_PRESETS)}",
            ),
        ]
        for bad, message in problems:
            if bad:
                raise OverlaySettingsError(message)

    @classmethod
    def from_config(cls, cfg: Any) -> OverlaySettings:
        """From a config node with keys fps, alpha, crf, preset."""
        return cls(float(cfg.fps), float(cfg.alpha), int(cfg.crf), str(cfg.preset))


class H264Writer:
    """Frames (BGR uint8, all of one size) -> an H.264 yuv420p MP4 with ``+faststart``.

    Use as a context manager: ``with H264Writer(path, fps, crf, preset) as w: w.write(frame)``.
    The stream is opened on the first frame (its size fixes the video's).
    """

    def __init__(self, path: Path, fps: float, crf: int, preset: str) -> None:
        if not fps > 0:
            raise ValueError(f"{path}: frame rate must be > 0, got {fps}")
        self.path = Path(path)
        self.rate = Fraction(fps).limit_denominator(_MAX_RATE_DENOMINATOR)
        self.options = {"crf": str(crf), "preset": preset}
        self._container: Any = None
        self._stream: Any = None
        self.frames = 0

    def __enter__(self) -> H264Writer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close(flush=exc_type is None)
        if exc_type is not None:  # no half-written video left behind
            self.path.unlink(missing_ok=True)

    def write(self, frame_bgr: np.ndarray) -> None:
        height, width = frame_bgr.shape[:2]
        padded = np.pad(frame_bgr, ((0, height % 2), (0, width % 2), (0, 0)))
        if self._stream is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._container = av.open(str(self.path), "w", format="mp4", options={"movflags": "+faststart"})
            self._stream = self._container.add_stream("libx264", rate=self.rate, options=self.options)
            self._stream.width, self._stream.height = padded.shape[1], padded.shape[0]
            self._stream.pix_fmt = "yuv420p"
        elif padded.shape[:2] != (self._stream.height, self._stream.width):
            raise ValueError(f"{self.path}: frame {self.frames} is {width}x{height}, the video is not")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(padded), format="bgr24")
        self._container.mux(self._stream.encode(frame))
        self.frames += 1

    def close(self, flush: bool = True) -> None:
        if self._container is None:
            return
        if flush:
            self._container.mux(self._stream.encode(None))
        self._container.close()
        self._container = None


def overlay_frame(
    frame_bgr: np.ndarray,
    masks: Sequence[RLE | None],
    labels: Sequence[str],
    alpha: float,
) -> np.ndarray:
    """Draw each non-null mask (colour i of the palette) and its label at the mask's top-left."""
    out = frame_bgr.astype(np.float32)
    texts = []
    for i, (rle, label) in enumerate(zip(masks, labels, strict=True)):
        if rle is None:
            continue
        mask = decode_rle(rle)
        if not mask.any():
            continue
        colour = PALETTE[i % len(PALETTE)]
        out[mask] = (1 - alpha) * out[mask] + alpha * colour
        ys, xs = np.nonzero(mask)
        texts.append((label, (int(xs.min()), max(int(ys.min()) - 4, 10)), colour))
    img = np.clip(out, 0, 255).astype(np.uint8)
    for label, org, colour in texts:
        cv2.putText(img, label, org, cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(
            img, label, org, cv2.FONT_HERSHEY_SIMPLEX, 0.4, tuple(int(c) for c in colour), 1, cv2.LINE_AA
        )
    return img


def write_overlay_video(
    frames: Iterable[np.ndarray],
    tracks: Sequence[dict],
    out_path: Path,
    category_names: dict[int, str],
    settings: OverlaySettings,
    gt_tracks: Sequence[dict] | None = None,
    fps: float | None = None,
) -> Path:
    """Write an H.264 MP4 of ``frames`` with the predicted ``tracks`` (YouTube-VIS result entries
    of one video) drawn on them; with ``gt_tracks`` (``category_id`` + compressed-RLE
    ``segmentations``) the GT is drawn on a second panel to the right. ``fps`` overrides
    ``settings.fps`` (a video file's own rate)."""
    pred_labels = [
        f"#{i + 1} {category_names.get(t['category_id'], t['category_id'])} {t['score']:.2f}"
        for i, t in enumerate(tracks)
    ]
    gt_labels = [f"GT {category_names.get(t['category_id'], t['category_id'])}" for t in gt_tracks or []]
    with H264Writer(out_path, fps or settings.fps, settings.crf, settings.preset) as writer:
        for f, frame in enumerate(frames):
            panel = overlay_frame(frame, [t["segmentations"][f] for t in tracks], pred_labels, settings.alpha)
            if gt_tracks is not None:
                gt_masks = [t["segmentations"][f] for t in gt_tracks]
                panel = np.concatenate(
                    [panel, overlay_frame(frame, gt_masks, gt_labels, settings.alpha)], axis=1
                )
            writer.write(panel)
    return out_path


def gt_tracks_of(gt: YTVISAnnotations, video_id: int) -> list[dict]:
    """The GT tracks of one video as overlay input: category and compressed RLE per frame."""
    return [
        {"category_id": t.category_id, "segmentations": gt.track_masks(t)} for t in gt.tracks_of(video_id)
    ]


def render_video_overlay(
    video: Any,
    tracks: Sequence[dict],
    out_path: Path,
    category_names: dict[int, str],
    settings: OverlaySettings,
    gt: YTVISAnnotations | None = None,
) -> Path:
    """The overlay of one listed video (frame folder or video file) and its result entries
    (sorted by score, best first); with ``gt`` the GT panel on the right. A result or GT whose
    frame count is not the video's is a one-line DataError (another frame_stride/max_frames?)."""
    gt_tracks = gt_tracks_of(gt, video.video_id) if gt is not None and video.video_id in gt.videos else None
    for kind, entries in (("results", tracks), ("GT", gt_tracks or [])):
        lengths = sorted({len(t["segmentations"]) for t in entries} - {video.length})
        if lengths:
            raise DataError(
                f"video {video.video_id} ({video.name}): {kind} have {lengths[0]} frames but the video has "
                f"{video.length} (use the run's data.frame_stride/data.max_frames)"
            )
    ordered = sorted(tracks, key=lambda t: -t["score"])
    fps = video.playback_fps or settings.fps
    return write_overlay_video(
        video.iter_frames(), ordered, out_path, category_names, settings, gt_tracks, fps
    )
