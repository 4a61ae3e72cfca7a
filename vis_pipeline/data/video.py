"""Videos on disk: a folder of video folders, each a folder of frames, optionally a YouTube-VIS JSON.

``VideoSource(frames_root, ann_path).videos_and_failures()`` lists every video, validates each
one on its own and returns ``(good videos, failures)``: one bad video (missing frame, wrong
length, empty folder, unreadable first frame) becomes a :class:`VideoFailure` instead of an
exception, so a run over hundreds of videos still processes the others and can report the bad
ones. Problems with the source as a whole (missing folder, malformed JSON, duplicate ids) raise
:class:`DataError`. ``VideoSource.video(video_id)`` validates one video and raises instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from vis_pipeline.data.errors import DataError
from vis_pipeline.data.frames import is_image_file, natural_key, read_frame
from vis_pipeline.data.ytvis import VideoInfo, YTVISAnnotations, load_ytvis_annotations


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
    when that entry is broken) or a frame folder (both None)."""

    video_id: int
    name: str
    info: VideoInfo | None = None
    problem: str | None = None

    @property
    def from_json(self) -> bool:
        return self.info is not None or self.problem is not None


class VideoSource:
    """Videos under ``frames_root`` (a folder of video folders, each a folder of frames).

    With ``ann_path`` (a YouTube-VIS JSON): the JSON's ``videos`` are the videos; their
    ``file_names`` fix which frames exist and their order; ids, width and height come from the
    JSON. Validation (per video): ``length`` must equal ``len(file_names)`` and every listed file
    must exist. Frame folders not in the JSON are ignored.

    Without a JSON: every non-hidden sub-folder of ``frames_root`` is a video; its frames are the
    ``.jpg/.jpeg/.png`` files (any case) in natural order (``2.jpg`` before ``10.jpg``); other
    files are ignored. Video folders are sorted naturally by name and get ids ``1..N`` in that
    order -- deterministic, so reruns and shards agree. Width/height come from the first frame;
    a folder without frames is a failure.
    """

    def __init__(
        self, frames_root: str | Path, ann_path: str | Path | YTVISAnnotations | None = None
    ) -> None:
        """``ann_path``: a YouTube-VIS JSON, or one already read by ``load_ytvis_annotations``
        (a run reads its GT once); its per-video problems become those videos' failures."""
        self.frames_root = Path(frames_root)
        self.annotations = load_ytvis_annotations(ann_path, strict=False) if ann_path else None
        self.ann_path = Path(self.annotations.source) if self.annotations is not None else None
        if not self.frames_root.is_dir():
            raise DataError(
                f"{self.frames_root}: frames folder not found (expected a folder of video folders)"
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

    def _list_from_folders(self) -> list[_Entry]:
        try:
            folders = [p for p in self.frames_root.iterdir() if p.is_dir() and not p.name.startswith(".")]
        except OSError as exc:
            raise DataError(
                f"{self.frames_root}: cannot list video folders ({exc.strerror or exc})"
            ) from None
        folders.sort(key=lambda p: natural_key(p.name))
        return [_Entry(i + 1, p.name, None) for i, p in enumerate(folders)]

    def _build(self, entry: _Entry) -> Video:
        return self._from_json(entry) if entry.from_json else self._from_folder(entry)

    def _from_json(self, entry: _Entry) -> Video:
        if entry.problem is not None or entry.info is None:
            raise DataError(entry.problem or f"{self.ann_path}: video {entry.video_id} unusable")
        info = entry.info
        if not info.file_names:
            raise DataError(f"{self.ann_path}: video {entry.video_id} ({entry.name}) lists no 'file_names'")
        paths = [self.frames_root / f for f in info.file_names]
        for file_name, path in zip(info.file_names, paths, strict=True):
            if not path.is_file():
                raise DataError(f"{path}: frame '{file_name}' listed in {self.ann_path} does not exist")
        return Video(entry.video_id, entry.name, info.width, info.height, paths, list(info.file_names))

    def _from_folder(self, entry: _Entry) -> Video:
        folder = self.frames_root / entry.name
        frames = sorted((p for p in folder.iterdir() if is_image_file(p)), key=lambda p: natural_key(p.name))
        if not frames:
            raise DataError(f"{folder}: video folder has no frames (.jpg/.jpeg/.png)")
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
    ) -> tuple[list[Video], list[VideoFailure]]:
        """Validate the selected videos: (good videos, failures), both sorted by video id.

        ``video_ids`` keeps only those ids (unknown ids -> DataError); ``shard=(index, count)``
        then keeps ``[index::count]`` of the id-sorted selection -- failures included, so every
        video, good or bad, belongs to exactly one shard.
        """
        good: list[Video] = []
        failures: list[VideoFailure] = []
        for entry in self._select(video_ids, shard):
            try:
                good.append(self._build(entry))
            except DataError as exc:
                failures.append(VideoFailure(entry.video_id, entry.name, str(exc)))
            except OSError as exc:  # e.g. a folder that vanished or cannot be listed
                failures.append(VideoFailure(entry.video_id, entry.name, f"{entry.name}: {exc}"))
        return good, failures

    def video(self, video_id: int) -> Video:
        """The validated video with this id; DataError if unknown or invalid."""
        return self._build(self._select([video_id], None)[0])

    def __len__(self) -> int:
        return len(self._entries)
