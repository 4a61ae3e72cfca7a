"""Video files (``.mp4 .mov .avi .mkv .webm``) as input, decoded with PyAV, one frame at a time.

A video file becomes a :class:`VideoFile` that looks like a frame folder to the rest of the
pipeline: ``iter_frames()`` yields BGR uint8 (H, W, 3) arrays (through the same ``to_bgr_uint8``
as image frames) and ``file_names`` are synthetic YouTube-VIS names ``"<name>/<index>.jpg"``,
where ``<index>`` (5 digits, zero-padded) is the frame's position in the decoded stream. The
names therefore say which source frames were kept: ``frame_stride=5`` gives ``clip/00000.jpg,
clip/00005.jpg, ...`` exactly as YouTube-VIS annotates every 5th frame, and a GT JSON written
against them selects the same frames again (:func:`indices_from_file_names`).

Listing a file (:func:`probe_video_file`) opens it, finds its video stream, counts the stream's
packets without decoding them (one packet per frame: the length is known before the run starts,
cheaply) and decodes the first frame for the frame size. Decoding checks the rest as it goes:
a frame of another size, a decoder error, or fewer frames than packets (a truncated file) raise
:class:`DataError` naming the file, so that video fails alone.

Phone videos are often stored sideways with a display rotation in the container; frames are
turned upright as players show them (``np.rot90`` by the frame's counter-clockwise
``rotation``, the convention of FFmpeg and browsers), and width/height are the upright ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np

from vis_pipeline.data.errors import DataError
from vis_pipeline.data.frames import to_bgr_uint8

VIDEO_SUFFIXES: frozenset[str] = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm"})
# Errors PyAV raises for unreadable input (FFmpegError subclasses OSError or ValueError).
_AV_ERRORS = (av.FFmpegError, OSError, ValueError)
_INDEX_NAME = re.compile(r"^(\d+)\.[A-Za-z0-9]+$")


def is_video_file(path: Path) -> bool:
    """A regular, non-hidden file with a .mp4/.mov/.avi/.mkv/.webm suffix (any case)."""
    return path.suffix.lower() in VIDEO_SUFFIXES and not path.name.startswith(".") and path.is_file()


def frame_file_name(video_name: str, index: int) -> str:
    """Synthetic YouTube-VIS file name of decoded frame ``index``: ``clip/00005.jpg``."""
    return f"{video_name}/{index:05d}.jpg"


def indices_from_file_names(file_names: Sequence[str], where: str) -> list[int]:
    """Decoded-frame indices named by ``"<name>/<digits>.<ext>"`` file names (strictly increasing)."""
    indices = []
    for file_name in file_names:
        match = _INDEX_NAME.match(file_name.rsplit("/", 1)[-1])
        if match is None:
            raise DataError(
                f"{where}: file name {file_name!r} does not name a frame index like clip/00005.jpg"
            )
        indices.append(int(match.group(1)))
    if any(b <= a for a, b in zip(indices, indices[1:], strict=False)):
        raise DataError(f"{where}: frame indices of file_names are not strictly increasing")
    return indices


def kept_indices(frame_count: int, frame_stride: int, max_frames: int | None) -> list[int]:
    """Every ``frame_stride``-th frame index from 0, at most ``max_frames`` of them."""
    kept = list(range(0, frame_count, frame_stride))
    return kept if max_frames is None else kept[:max_frames]


def _quarter_turns(frame: av.VideoFrame, path: Path) -> int:
    """Counter-clockwise quarter turns that make ``frame`` upright (its display rotation)."""
    degrees = int(round(frame.rotation or 0))
    if degrees % 90:
        raise DataError(
            f"{path}: display rotation of {degrees} degrees is not supported (multiples of 90 only)"
        )
    return (degrees // 90) % 4


def _upright_size(frame: av.VideoFrame, turns: int) -> tuple[int, int]:
    """(width, height) of ``frame`` once turned upright."""
    return (frame.height, frame.width) if turns % 2 else (frame.width, frame.height)


def _reason(exc: BaseException) -> str:
    """FFmpeg's message without the errno and file-name decorations PyAV adds."""
    text = getattr(exc, "strerror", None) or str(exc) or exc.__class__.__name__
    return " ".join(str(text).split())


@dataclass(frozen=True)
class StreamInfo:
    """What listing learns about a file's first video stream."""

    width: int
    height: int
    fps: float | None  # the stream's average frame rate; None when the container does not say
    frame_count: int  # packets in the stream = frames the decoder will give


def probe_video_file(path: Path) -> StreamInfo:
    """Open ``path``, count its video packets and decode the first frame; DataError if unusable."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DataError(f"{path}: no video stream in this file")
            stream = container.streams.video[0]
            # empty packets are the demuxer's flush markers, discarded ones edit-list cuts
            count = sum(1 for p in container.demux(stream) if p.size and not p.is_discard)
            declared = int(stream.frames or 0)
            rate = stream.average_rate or stream.guessed_rate
    except DataError:
        raise
    except _AV_ERRORS as exc:
        raise DataError(f"{path}: not a readable video file ({_reason(exc)})") from None
    if count == 0:
        raise DataError(f"{path}: the video stream has 0 frames")
    if declared and count < declared:
        raise DataError(f"{path}: truncated video (header says {declared} frames, the file holds {count})")
    frames = _decoded_frames(path)
    try:
        first = next(frames, None)
    finally:
        frames.close()
    if first is None:
        raise DataError(f"{path}: 0 decodable frames")
    width, height = _upright_size(first, _quarter_turns(first, path))
    fps = float(rate) if rate else None
    return StreamInfo(int(width), int(height), fps, count)


def _decoded_frames(path: Path) -> Iterator[av.VideoFrame]:
    """The frames of the first video stream in display order; DataError on a decoder error."""
    index = 0
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                yield frame
                index += 1
    except _AV_ERRORS as exc:
        raise DataError(
            f"{path}: cannot decode frame {index} ({_reason(exc)}): corrupt or truncated"
        ) from None


@dataclass
class VideoFile:
    """One video file as a YouTube-VIS video (same interface as a frame-folder ``Video``).

    frame_indices: the decoded-frame indices kept, ascending (``frame_stride``/``max_frames``
    or a GT's ``file_names`` chose them); file_names: their synthetic names.
    """

    video_id: int
    name: str
    width: int
    height: int
    path: Path
    fps: float | None
    frame_indices: list[int]
    file_names: list[str]

    @property
    def length(self) -> int:
        return len(self.frame_indices)

    @property
    def source_files(self) -> list[Path]:
        """The files this video's frames come from (for content fingerprints): the video file."""
        return [self.path]

    @property
    def playback_fps(self) -> float | None:
        """Frame rate of the kept frames: the source rate divided by the step between them."""
        if self.fps is None:
            return None
        step = self.frame_indices[1] - self.frame_indices[0] if self.length > 1 else 1
        return self.fps / step

    def iter_frames(self) -> Iterator[np.ndarray]:
        """Yield the kept frames in order as BGR uint8 (height, width, 3), decoding the file as a
        stream (memory flat in video length). DataError at a frame of another size, a decoder
        error, or when the file ends before the last kept frame."""
        wanted = iter(self.frame_indices)
        target = next(wanted, None)
        for index, frame in enumerate(_decoded_frames(self.path)):
            if target is None:
                return
            turns = _quarter_turns(frame, self.path)
            width, height = _upright_size(frame, turns)
            if (width, height) != (self.width, self.height):
                raise DataError(
                    f"{self.path}: frame {index} is {width}x{height} but the video starts at "
                    f"{self.width}x{self.height} (variable frame size is not supported)"
                )
            if index == target:
                picture = frame.to_ndarray(format="bgr24")
                yield to_bgr_uint8(np.rot90(picture, k=turns) if turns else picture, self.path)
                target = next(wanted, None)
        if target is not None:
            raise DataError(
                f"{self.path}: the file ends before frame {target} ({self.length} frames expected): truncated"
            )

    def to_ytvis(self) -> dict[str, Any]:
        """The YouTube-VIS ``videos`` entry, plus ``source`` (the file) and ``fps`` (the file's rate)."""
        return {
            "id": self.video_id,
            "width": self.width,
            "height": self.height,
            "length": self.length,
            "file_names": list(self.file_names),
            "source": str(self.path.resolve()),
            "fps": self.fps,
        }


def open_video_file(
    video_id: int, name: str, path: Path, frame_stride: int = 1, max_frames: int | None = None
) -> VideoFile:
    """A listed video file with every ``frame_stride``-th frame, at most ``max_frames``."""
    info = probe_video_file(path)
    indices = kept_indices(info.frame_count, frame_stride, max_frames)
    names = [frame_file_name(name, i) for i in indices]
    return VideoFile(video_id, name, info.width, info.height, path, info.fps, indices, names)


def open_video_file_as_listed(
    video_id: int, name: str, path: Path, file_names: Sequence[str], size: tuple[int, int], where: str
) -> VideoFile:
    """A video file whose frames a GT JSON lists (synthetic names); ``size`` = the JSON's (width, height)."""
    indices = indices_from_file_names(file_names, where)
    info = probe_video_file(path)
    if (info.width, info.height) != size:
        raise DataError(f"{path}: frames are {info.width}x{info.height} but {where} says {size[0]}x{size[1]}")
    if indices[-1] >= info.frame_count:
        raise DataError(
            f"{path}: {where} lists frame {indices[-1]} but the file has {info.frame_count} frames"
        )
    return VideoFile(video_id, name, info.width, info.height, path, info.fps, indices, list(file_names))
