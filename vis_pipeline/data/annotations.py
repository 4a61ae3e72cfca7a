"""Reading YouTube-VIS ground truth: videos, categories and object tracks.

``load_ytvis_annotations(path)`` parses and checks the whole file up front, so contradictions
surface as one-line :class:`DataError` messages naming the file (unknown video or category of a
track, segmentations/areas/bboxes not one per frame, an RLE whose size is not the video's
``[height, width]``). ``YTVISAnnotations.track_masks(track)`` then gives the per-frame masks as
compressed RLE (``vis_pipeline.masks``) or None: uncompressed RLE, compressed RLE and polygons
all decode to the same masks. Nothing is decoded at load time (cheap on large files).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vis_pipeline.data.errors import DataError
from vis_pipeline.data.frames import load_json
from vis_pipeline.masks import RLE, to_compressed_rle


@dataclass(frozen=True)
class VideoInfo:
    """A ``videos[]`` entry: id, frame size in pixels and frame file names (``length`` of them)."""

    video_id: int
    width: int
    height: int
    file_names: tuple[str, ...]

    @property
    def length(self) -> int:
        return len(self.file_names)

    @property
    def name(self) -> str:
        """Video folder name: the directory part of the first file name."""
        return self.file_names[0].split("/")[0]


@dataclass(frozen=True)
class Category:
    id: int
    name: str
    supercategory: str = ""


@dataclass
class Track:
    """An ``annotations[]`` entry: one object over a video; per-frame lists have ``length`` entries
    (``None`` where the object is absent); segmentations are raw (any encoding)."""

    track_id: int
    video_id: int
    category_id: int
    iscrowd: int
    segmentations: list[Any]
    areas: list[float | None] | None = None
    bboxes: list[list[float] | None] | None = None


@dataclass
class YTVISAnnotations:
    """A parsed YouTube-VIS file: videos and categories by id, tracks in file order."""

    path: Path
    videos: dict[int, VideoInfo]
    categories: dict[int, Category]
    tracks: list[Track]
    info: dict[str, Any] = field(default_factory=dict)

    def tracks_of(self, video_id: int) -> list[Track]:
        """Tracks of one video, in file order."""
        return [t for t in self.tracks if t.video_id == video_id]

    def track_masks(self, track: Track) -> list[RLE | None]:
        """Per-frame compressed RLE (size [H, W], str counts) or None, whatever the file's encoding."""
        video = self.videos[track.video_id]
        where = f"{self.path}: annotation {track.track_id}"
        masks: list[RLE | None] = []
        for frame, segmentation in enumerate(track.segmentations):
            if not segmentation:  # null, [] and {} all mean "absent", as in the official API
                masks.append(None)
                continue
            try:
                masks.append(to_compressed_rle(segmentation, video.height, video.width))
            except Exception as exc:  # pycocotools raises bare TypeError/ValueError on garbage
                raise DataError(f"{where} frame {frame}: undecodable segmentation ({exc})") from None
        return masks

    @property
    def annotations(self) -> list[Track]:
        """The file's ``annotations`` (one per object track); same list as ``tracks``."""
        return self.tracks

    @property
    def category_names(self) -> dict[int, str]:
        return {c.id: c.name for c in self.categories.values()}


def _int_field(entry: dict[str, Any], key: str, where: str) -> int:
    value = entry.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise DataError(f"{where}: missing or non-integer '{key}' ({value!r})")
    return value


def _parse_video(entry: Any, where: str) -> VideoInfo:
    if not isinstance(entry, dict):
        raise DataError(f"{where}: not an object")
    video_id = _int_field(entry, "id", where)
    where = f"{where} (id {video_id})"
    width, height = _int_field(entry, "width", where), _int_field(entry, "height", where)
    file_names = entry.get("file_names")
    if not isinstance(file_names, list) or not all(isinstance(f, str) for f in file_names) or not file_names:
        raise DataError(f"{where}: 'file_names' must be a non-empty list of strings")
    length = entry.get("length", len(file_names))
    if length != len(file_names):
        raise DataError(f"{where}: length {length} != {len(file_names)} file_names")
    return VideoInfo(video_id, width, height, tuple(file_names))


def _check_segmentation(segmentation: Any, video: VideoInfo, where: str) -> None:
    if not segmentation:
        return
    if isinstance(segmentation, dict):
        size = segmentation.get("size")
        if not isinstance(size, list) or [*size] != [video.height, video.width]:
            raise DataError(
                f"{where}: RLE size {size} != [height, width] = [{video.height}, {video.width}] "
                f"of video {video.video_id}"
            )
        if not isinstance(segmentation.get("counts"), (str, list)):
            raise DataError(f"{where}: RLE 'counts' must be a string or a list of ints")
    elif not isinstance(segmentation, list) or not all(isinstance(p, list) for p in segmentation):
        raise DataError(f"{where}: segmentation must be an RLE dict, a list of polygons or null")


def _parse_track(
    entry: Any, where: str, videos: dict[int, VideoInfo], categories: dict[int, Category]
) -> Track:
    if not isinstance(entry, dict):
        raise DataError(f"{where}: not an object")
    track_id = _int_field(entry, "id", where)
    where = f"{where} (id {track_id})"
    video_id, category_id = _int_field(entry, "video_id", where), _int_field(entry, "category_id", where)
    if video_id not in videos:
        raise DataError(f"{where}: unknown video_id {video_id}")
    if categories and category_id not in categories:
        raise DataError(f"{where}: unknown category_id {category_id} (categories: {sorted(categories)})")
    video = videos[video_id]
    segmentations = entry.get("segmentations")
    if not isinstance(segmentations, list):
        raise DataError(f"{where}: missing 'segmentations' list")
    lists: dict[str, list[Any] | None] = {"segmentations": segmentations}
    for key in ("areas", "bboxes"):
        value = entry.get(key)
        if value is not None and not isinstance(value, list):
            raise DataError(f"{where}: '{key}' must be a list")
        lists[key] = value
    for key, value in lists.items():
        if value is not None and len(value) != video.length:
            raise DataError(f"{where}: {len(value)} {key} but video {video_id} has {video.length} frames")
    for frame, segmentation in enumerate(segmentations):
        _check_segmentation(segmentation, video, f"{where} frame {frame}")
    return Track(
        track_id, video_id, category_id, int(entry.get("iscrowd", 0) or 0), segmentations,
        lists["areas"], lists["bboxes"],
    )  # fmt: skip


def load_ytvis_annotations(path: str | Path) -> YTVISAnnotations:
    """Parse and validate a YouTube-VIS JSON (``annotations`` and ``categories`` may be absent,
    as in test-set files); raises DataError with one line naming the file and the problem."""
    path = Path(path)
    data = load_json(path, "YouTube-VIS annotation")
    if not isinstance(data, dict) or not isinstance(data.get("videos"), list):
        raise DataError(f"{path}: not a YouTube-VIS JSON (no 'videos' list)")
    videos: dict[int, VideoInfo] = {}
    for position, entry in enumerate(data["videos"]):
        video = _parse_video(entry, f"{path}: videos[{position}]")
        if video.video_id in videos:
            raise DataError(f"{path}: duplicate video id {video.video_id}")
        videos[video.video_id] = video
    categories: dict[int, Category] = {}
    for position, entry in enumerate(data.get("categories") or []):
        where = f"{path}: categories[{position}]"
        if not isinstance(entry, dict):
            raise DataError(f"{where}: not an object")
        category = Category(
            _int_field(entry, "id", where), str(entry.get("name", "")), str(entry.get("supercategory", ""))
        )
        if category.id in categories:
            raise DataError(f"{path}: duplicate category id {category.id}")
        categories[category.id] = category
    tracks: list[Track] = []
    seen: set[int] = set()
    for position, entry in enumerate(data.get("annotations") or []):
        track = _parse_track(entry, f"{path}: annotations[{position}]", videos, categories)
        if track.track_id in seen:
            raise DataError(f"{path}: duplicate annotation id {track.track_id}")
        seen.add(track.track_id)
        tracks.append(track)
    info = data.get("info") if isinstance(data.get("info"), dict) else {}
    return YTVISAnnotations(path, videos, categories, tracks, info)
