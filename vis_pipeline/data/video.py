"""Videos on disk: frame folders and video files, optionally listed by a YouTube-VIS JSON.

``VideoSource(frames_root, ann_path).videos_and_failures()`` lists every video, validates each
one on its own and returns ``(good videos, failures)``: one bad video (missing frame, wrong
length, empty folder, unreadable first frame, a corrupt or truncated video file, a file without
a video stream) becomes a :class:`VideoFailure` instead of an exception, so a run over hundreds
of videos still processes the others and can report the bad ones. Problems with the source as a
whole (missing folder, malformed JSON, duplicate ids) raise :class:`DataError`.
``VideoSource.video(video_id)`` validates one video and raises instead.

A video is either a :class:`Video` (a folder of JPEG/PNG frames) or a
:class:`~vis_pipeline.data.video_files.VideoFile` (decoded with PyAV); both give ``video_id,
name, width, height, length, file_names, iter_frames(), source_files, to_ytvis()``.
:func:`write_videos_json` writes the YouTube-VIS ``videos`` list of a run (``videos.json``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from vis_pipeline.data.errors import DataError
from vis_pipeline.data.frames import is_image_file, natural_key, read_frame
from vis_pipeline.data.video_files import (
    VIDEO_SUFFIXES,
    VideoFile,
    is_video_file,
    open_video_file,
    open_video_file_as_listed,
)
from vis_pipeline.data.ytvis import VideoInfo, YTVISAnnotations, load_ytvis_annotations
from vis_pipeline.fileio import atomic_write_text


@dataclass
class Video:
    """One video: ids and size as in YouTube-VIS, frame files in playback order.

    file_names: as in the YouTube-VIS JSON, ``"<video_dir>/<frame>.jpg"`` relative to the root;
    frame_paths: the same files as absolute-or-root-relative paths that can be opened.
    """

    video_id: int
    name: str
    width: int
    height: int
    frame_paths: list[Path]
    file_names: list[str]

    @property
    def length(self) -> int:
        return len(self.frame_paths)

    def read_frame(self, index: int) -> np.ndarray:
        """Frame ``index`` as BGR uint8 (height, width, 3); DataError if unreadable or wrongly sized."""
        path = self.frame_paths[index]
        frame = read_frame(path)
        if frame.shape[:2] != (self.height, self.width):
            raise DataError(
                f"{path}: frame is {frame.shape[1]}x{frame.shape[0]} but video {self.name} "
                f"(id {self.video_id}) is {self.width}x{self.height}"
            )
        return frame

    def iter_frames(self) -> Iterator[np.ndarray]:
        """Yield the frames in order, one at a time (BGR uint8 (height, width, 3)); a generator,
        so only the current frame is in memory. Raises DataError at the first bad frame."""
        for index in range(self.length):
            yield self.read_frame(index)

    @property
    def source_files(self) -> list[Path]:
        """The files this video's frames come from (for content fingerprints): the frame files."""
        return list(self.frame_paths)

    @property
    def fps(self) -> None:
        """Frame folders carry no frame rate (``vis-visualize`` takes ``fps=`` for them)."""
        return None

    playback_fps = fps

    def to_ytvis(self) -> dict[str, Any]:
        """The YouTube-VIS ``videos`` entry, plus ``source`` (the frame folder) and ``fps`` (null)."""
        return {
            "id": self.video_id,
            "width": self.width,
            "height": self.height,
            "length": self.length,
            "file_names": list(self.file_names),
            "source": str(self.frame_paths[0].parent.resolve()),
            "fps": None,
        }


AnyVideo = Video | VideoFile


def write_videos_json(videos: Sequence[AnyVideo], path: Path) -> None:
    """``videos.json``: ``{"videos": [...]}`` in id order, a YouTube-VIS file without annotations
    (``source`` and ``fps`` added per video), so results can be tied back to their inputs and a GT
    can be written against the same ids and ``file_names``."""
    entries = [v.to_ytvis() for v in sorted(videos, key=lambda v: v.video_id)]
    atomic_write_text(Path(path), json.dumps({"videos": entries}, indent=1))


class VideoFailure(NamedTuple):
    """A video that failed validation: its id, folder name and a one-line error."""

    video_id: int
    name: str
    error: str


def select_shard(items: list[Any], index: int, count: int) -> list[Any]:
    """Deterministic shard ``items[index::count]`` of a list already sorted by video id."""
    if count < 1 or not 0 <= index < count:
        raise DataError(f"shard index must be in [0, count) with count >= 1, got index={index} count={count}")
    return items[index::count]


@dataclass(frozen=True)
class _Entry:
    """A listed but not yet validated video: from the GT's ``videos`` (``info``, or ``problem``
    when that entry is broken), or without a JSON a frame folder or a video file (``path``)."""

    video_id: int
    name: str
    info: VideoInfo | None = None
    problem: str | None = None
    path: Path | None = None

    @property
    def from_json(self) -> bool:
        return self.info is not None or self.problem is not None


class VideoSource:
    """Videos under ``frames_root``: a folder of video folders (each a folder of frames) and/or
    video files (``.mp4 .mov .avi .mkv .webm``), or one video file.

    With ``ann_path`` (a YouTube-VIS JSON): the JSON's ``videos`` are the videos; their
    ``file_names`` fix which frames exist and their order; ids, width and height come from the
    JSON. Validation (per video): ``length`` must equal ``len(file_names)`` and every listed file
    must exist -- or, when the folder ``<name>/`` does not exist, a video file ``<name>.<ext>``
    (or ``<name>`` itself, a file name with its suffix) whose frames the synthetic ``file_names``
    (``<name>/00005.jpg`` = decoded frame 5) select. Videos not in the JSON are ignored.

    Without a JSON: every non-hidden sub-folder of ``frames_root`` is a video; its frames are the
    ``.jpg/.jpeg/.png`` files (any case) in natural order (``2.jpg`` before ``10.jpg``); other
    files are ignored. Every video file is a video too, named by its stem (by its whole file name
    when the stem is taken by a folder or another file). Videos are sorted naturally by folder /
    file name and get ids ``1..N`` in that order -- deterministic, so reruns and shards agree.
    Width/height come from the first frame; a folder without frames is a failure.
    ``frame_stride=k`` keeps every k-th frame from the first, ``max_frames`` caps each video
    (both only without a JSON: a JSON's ``file_names`` fix the frames).
    """

    def __init__(
        self,
        frames_root: str | Path,
        ann_path: str | Path | YTVISAnnotations | None = None,
        frame_stride: int = 1,
        max_frames: int | None = None,
    ) -> None:
        """``ann_path``: a YouTube-VIS JSON, or one already read by ``load_ytvis_annotations``
        (a run reads its GT once); its per-video problems become those videos' failures."""
        self.frames_root = Path(frames_root)
        self._files_by_name: dict[str, Path] | None = None
        self.frame_stride, self.max_frames = _checked_sampling(frame_stride, max_frames)
        self.annotations = load_ytvis_annotations(ann_path, strict=False) if ann_path else None
        self.ann_path = Path(self.annotations.source) if self.annotations is not None else None
        if self.annotations is not None and (self.frame_stride != 1 or self.max_frames is not None):
            raise DataError(
                f"{self.ann_path}: data.frame_stride/data.max_frames cannot be used with data.ann "
                "(the JSON's file_names fix the frames)"
            )
        if is_video_file(self.frames_root):
            if self.annotations is not None:
                raise DataError(
                    f"{self.frames_root}: with data.ann, data.frames must be the folder of the videos"
                )
            self._entries = [_Entry(1, self.frames_root.stem, path=self.frames_root)]
            return
        if not self.frames_root.is_dir():
            raise DataError(
                f"{self.frames_root}: frames folder not found (expected a folder of video folders "
                f"or video files {' '.join(sorted(VIDEO_SUFFIXES))}, or one video file)"
            )
        self._entries = self._list_from_json() if self.annotations is not None else self._list_from_folders()

    @property
    def video_ids(self) -> list[int]:
        """All listed video ids, ascending."""
        return [e.video_id for e in self._entries]

    def _list_from_json(self) -> list[_Entry]:
        assert self.annotations is not None
        gt = self.annotations
        return [
            _Entry(vid, gt.names.get(vid, f"video{vid}"), gt.videos.get(vid), gt.problems.get(vid))
            for vid in gt.listed_ids
        ]

    def _children(self) -> tuple[list[Path], list[Path]]:
        """(non-hidden sub-folders, video files) of ``frames_root``."""
        try:
            children = [p for p in self.frames_root.iterdir() if not p.name.startswith(".")]
        except OSError as exc:
            raise DataError(
                f"{self.frames_root}: cannot list video folders ({exc.strerror or exc})"
            ) from None
        return [p for p in children if p.is_dir()], [p for p in children if is_video_file(p)]

    def _list_from_folders(self) -> list[_Entry]:
        folders, files = self._children()
        stems = [p.stem for p in files]
        taken = {p.name for p in folders}
        items = sorted(folders + files, key=lambda p: natural_key(p.name))
        entries = []
        for i, path in enumerate(items):
            if path.is_dir():
                entries.append(_Entry(i + 1, path.name))
            else:
                unique = stems.count(path.stem) == 1 and path.stem not in taken
                entries.append(_Entry(i + 1, path.stem if unique else path.name, path=path))
        return entries

    def _build(self, entry: _Entry) -> AnyVideo:
        if entry.from_json:
            return self._from_json(entry)
        if entry.path is not None:
            return open_video_file(entry.video_id, entry.name, entry.path, self.frame_stride, self.max_frames)
        return self._from_folder(entry)

    def _video_file_named(self, name: str) -> Path | None:
        """The video file a JSON video ``name`` stands for: ``<name>.<ext>``, or ``<name>`` itself."""
        if self._files_by_name is None:  # listed once, on the first JSON video without a folder
            self._files_by_name = {p.name.lower(): p for p in self._children()[1]}
        candidates = [name] + [f"{name}{suffix}" for suffix in sorted(VIDEO_SUFFIXES)]
        return next(
            (self._files_by_name[c.lower()] for c in candidates if c.lower() in self._files_by_name), None
        )

    def _from_json(self, entry: _Entry) -> AnyVideo:
        if entry.problem is not None or entry.info is None:
            raise DataError(
                entry.problem or f"{self.ann_path}: video {entry.video_id} ({entry.name}) unusable"
            )
        info = entry.info
        if not info.file_names:
            raise DataError(f"{self.ann_path}: video {entry.video_id} ({entry.name}) lists no 'file_names'")
        video_file = None if (self.frames_root / entry.name).is_dir() else self._video_file_named(entry.name)
        if video_file is not None:
            where = f"{self.ann_path}: video {entry.video_id} ({entry.name})"
            size = (info.width, info.height)
            return open_video_file_as_listed(
                entry.video_id, entry.name, video_file, info.file_names, size, where
            )
        paths = [self.frames_root / f for f in info.file_names]
        for file_name, path in zip(info.file_names, paths, strict=True):
            if not path.is_file():
                raise DataError(f"{path}: frame '{file_name}' listed in {self.ann_path} does not exist")
        return Video(entry.video_id, entry.name, info.width, info.height, paths, list(info.file_names))

    def _from_folder(self, entry: _Entry) -> Video:
        folder = self.frames_root / entry.name
        listed = list(folder.iterdir())
        dangling = sorted(p for p in listed if p.is_symlink() and not p.exists())
        if dangling:  # a frame whose target is gone: never a silently shorter video
            raise DataError(
                f"{dangling[0]}: frame is a symlink to a missing file ({os.readlink(dangling[0])})"
            )
        frames = sorted((p for p in listed if is_image_file(p)), key=lambda p: natural_key(p.name))
        if not frames:
            raise DataError(f"{folder}: video folder has no frames (.jpg/.jpeg/.png)")
        frames = frames[:: self.frame_stride][: self.max_frames]
        height, width = read_frame(frames[0]).shape[:2]
        names = [f"{entry.name}/{p.name}" for p in frames]
        return Video(entry.video_id, entry.name, int(width), int(height), frames, names)

    def _select(self, video_ids: Iterable[int] | None, shard: tuple[int, int] | None) -> list[_Entry]:
        entries = self._entries
        if video_ids is not None:
            wanted = set(int(v) for v in video_ids)
            unknown = sorted(wanted - set(self.video_ids))
            if unknown:
                source = self.ann_path or self.frames_root
                raise DataError(f"{source}: unknown video id(s) {unknown[:10]} (ids are {self._id_range()})")
            entries = [e for e in entries if e.video_id in wanted]
        if shard is not None:
            entries = select_shard(entries, int(shard[0]), int(shard[1]))
        return entries

    def _id_range(self) -> str:
        ids = self.video_ids
        return f"{ids[0]}..{ids[-1]}" if ids else "none"

    def videos_and_failures(
        self, video_ids: Iterable[int] | None = None, shard: tuple[int, int] | None = None
    ) -> tuple[list[AnyVideo], list[VideoFailure]]:
        """Validate the selected videos: (good videos, failures), both sorted by video id.

        ``video_ids`` keeps only those ids (unknown ids -> DataError); ``shard=(index, count)``
        then keeps ``[index::count]`` of the id-sorted selection -- failures included, so every
        video, good or bad, belongs to exactly one shard.
        """
        good: list[AnyVideo] = []
        failures: list[VideoFailure] = []
        for entry in self._select(video_ids, shard):
            try:
                good.append(self._build(entry))
            except DataError as exc:
                failures.append(VideoFailure(entry.video_id, entry.name, str(exc)))
            except OSError as exc:  # e.g. a folder that vanished or cannot be listed
                failures.append(VideoFailure(entry.video_id, entry.name, f"{entry.name}: {exc}"))
        return good, failures

    def video(self, video_id: int) -> AnyVideo:
        """The validated video with this id; DataError if unknown or invalid."""
        return self._build(self._select([video_id], None)[0])

    def __len__(self) -> int:
        return len(self._entries)


def _checked_sampling(frame_stride: Any, max_frames: Any) -> tuple[int, int | None]:
    """``data.frame_stride`` (an int >= 1) and ``data.max_frames`` (null or an int >= 1)."""
    if isinstance(frame_stride, bool) or not isinstance(frame_stride, int) or frame_stride < 1:
        raise DataError(f"data.frame_stride must be an integer >= 1, got {frame_stride!r}")
    if max_frames is not None and (
        isinstance(max_frames, bool) or not isinstance(max_frames, int) or max_frames < 1
    ):
        raise DataError(f"data.max_frames must be null or an integer >= 1, got {max_frames!r}")
    return frame_stride, max_frames
