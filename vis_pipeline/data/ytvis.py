"""The project's one YouTube-VIS reader: videos, categories and object tracks of a GT (or video list).

``load_ytvis_annotations(source)`` parses and checks the whole file up front, so contradictions
surface as one-line :class:`DataError` messages naming the file (unknown video or category of a
track, segmentations/areas/bboxes not one per frame, an RLE whose size is not the video's
``[height, width]``). With ``strict=False`` a problem that belongs to one video (or one
annotation) does not stop the reading: that video is recorded in ``problems`` and its tracks are
left out, an annotation of an unknown video is dropped and recorded in ``dropped``, and every
other video stays usable (``vis-run`` then runs and scores the good ones).

``YTVISAnnotations.track_masks(track)`` gives the per-frame masks as compressed RLE (through
``vis_pipeline.masks.normalize_segmentation``) or None: uncompressed RLE, compressed RLE and
polygons all decode to the same masks. Nothing is decoded at load time (cheap on large files).
The evaluation (``vis_pipeline.eval``) builds on this reader.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from vis_pipeline.data.errors import DataError
from vis_pipeline.masks import RLE, SegmentationError, normalize_segmentation


@dataclass(frozen=True)
class VideoInfo:
    """A ``videos[]`` entry: id, frame size in pixels, number of frames and (when the file lists
    them) the frame file names; video lists of results-only files may give ``length`` alone."""

    video_id: int
    height: int
    width: int
    length: int
    file_names: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """Video folder name: the directory part of the first file name (``video<id>`` without)."""
        first = self.file_names[0] if self.file_names else ""
        return first.split("/")[0] if "/" in first else f"video{self.video_id}"


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
    """A parsed YouTube-VIS file: videos and categories by id, tracks in file order.

    source:   the file path (or ``<GT object>`` for an in-memory dict), used in every message
    sha256:   hex digest of the file's bytes (None for an in-memory dict): what the GT *is*
    problems: {video_id: one-line error} of videos left unusable (``strict=False`` only); a
              broken ``videos`` entry is not in ``videos`` (a video with a broken track is)
    dropped:  one-line messages of annotations left out because their video is unknown
    names:    {video_id: folder name} of every listed video, broken ones included
    """

    source: str
    videos: dict[int, VideoInfo]
    categories: dict[int, Category]
    tracks: list[Track]
    info: dict[str, Any] = field(default_factory=dict)
    sha256: str | None = None
    problems: dict[int, str] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)
    names: dict[int, str] = field(default_factory=dict)

    @property
    def listed_ids(self) -> list[int]:
        """Every video id of the file, usable or not, ascending."""
        return sorted(set(self.videos) | set(self.problems))

    @property
    def path(self) -> Path:
        return Path(self.source)

    def tracks_of(self, video_id: int) -> list[Track]:
        """Tracks of one video, in file order."""
        return [t for t in self.tracks if t.video_id == video_id]

    def track_masks(self, track: Track) -> list[RLE | None]:
        """Per-frame compressed RLE (size [H, W], str counts) or None, whatever the file's encoding."""
        video = self.videos[track.video_id]
        where = f"{self.source}: annotation {track.track_id}"
        masks: list[RLE | None] = []
        for frame, segmentation in enumerate(track.segmentations):
            try:
                masks.append(normalize_segmentation(segmentation, video.height, video.width))
            except SegmentationError as exc:
                raise DataError(f"{where} frame {frame}: {exc}") from None
        return masks

    def without_videos(self, video_ids: set[int]) -> YTVISAnnotations:
        """The same GT restricted to the other videos (and their tracks)."""
        return replace(
            self,
            videos={k: v for k, v in self.videos.items() if k not in video_ids},
            tracks=[t for t in self.tracks if t.video_id not in video_ids],
        )

    @property
    def annotations(self) -> list[Track]:
        """The file's ``annotations`` (one per object track); same list as ``tracks``."""
        return self.tracks

    @property
    def category_names(self) -> dict[int, str]:
        return {c.id: c.name for c in self.categories.values()}


def read_json_source(source: str | Path | Any, what: str) -> tuple[Any, str, str | None]:
    """(data, label, sha256 of the bytes) of a JSON file path, or (object, ``<what object>``, None)
    for an already-loaded object. Missing/unreadable/malformed files -> one-line DataError."""
    if not isinstance(source, (str, Path)):
        return source, f"<{what} object>", None
    path = Path(source)
    try:
        raw = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise DataError(f"{path}: {what} file not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read {what} file ({exc.strerror or exc})") from None
    try:
        return json.loads(raw), str(path), hashlib.sha256(raw).hexdigest()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        detail = (
            f"at line {exc.lineno} column {exc.colno} (char {exc.pos}): {exc.msg}"
            if isinstance(exc, json.JSONDecodeError)
            else str(exc)
        )
        raise DataError(f"{path}: malformed {what} {detail} (not valid JSON)") from None


def as_int(value: Any, where: str, key: str) -> int:
    """An integer field (an integral float such as 3.0 is accepted; bools are not)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
        raise DataError(f"{where}: missing or non-integer '{key}' ({value!r})")
    return int(value)


def parse_video(entry: Any, where: str) -> VideoInfo:
    """One ``videos[]`` entry (id, height, width, and file_names and/or length)."""
    if not isinstance(entry, dict):
        raise DataError(f"{where}: not an object")
    video_id = as_int(entry.get("id"), where, "id")
    where = f"{where} (id {video_id})"
    height, width = as_int(entry.get("height"), where, "height"), as_int(entry.get("width"), where, "width")
    if height < 1 or width < 1:
        raise DataError(f"{where}: height and width must be >= 1, got {height}x{width}")
    file_names = entry.get("file_names")
    if file_names is not None:
        if (
            not isinstance(file_names, list)
            or not file_names
            or not all(isinstance(f, str) for f in file_names)
        ):
            raise DataError(f"{where}: 'file_names' must be a non-empty list of strings")
        length = entry.get("length", len(file_names))
        if length != len(file_names):
            raise DataError(f"{where}: length {length} != {len(file_names)} file_names")
        return VideoInfo(video_id, height, width, len(file_names), tuple(file_names))
    if "length" not in entry:
        raise DataError(f"{where}: has neither 'length' nor 'file_names'")
    return VideoInfo(video_id, height, width, as_int(entry["length"], where, "length"))


def parse_videos(
    raw_videos: Any, source: str, problems: dict[int, str] | None = None
) -> dict[int, VideoInfo]:
    """A ``videos`` list -> {id: VideoInfo}; duplicate or missing ids are errors. With ``problems``
    (a dict to fill), an entry with a usable id but other broken fields is recorded there instead
    of raising."""
    if not isinstance(raw_videos, list):
        raise DataError(f"{source}: 'videos' must be a list of video dicts")
    videos: dict[int, VideoInfo] = {}
    seen: set[int] = set()
    for position, entry in enumerate(raw_videos):
        where = f"{source}: videos[{position}]"
        video_id = as_int(entry.get("id") if isinstance(entry, dict) else None, where, "id")
        if video_id in seen:
            raise DataError(f"{source}: duplicate video id {video_id}")
        seen.add(video_id)
        try:
            videos[video_id] = parse_video(entry, where)
        except DataError as exc:
            if problems is None:
                raise
            problems[video_id] = str(exc)
    return videos


def _folder_name(entry: Any, video_id: int) -> str:
    """The folder part of a raw ``videos[]`` entry's first file name (``video<id>`` without one)."""
    names = entry.get("file_names") if isinstance(entry, dict) else None
    first = str(names[0]) if isinstance(names, list) and names else ""
    return first.split("/")[0] if "/" in first else f"video{video_id}"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_segmentation(segmentation: Any, video: VideoInfo, where: str) -> None:
    """Up-front check of one frame without decoding it (cheap on large files): the type, the RLE
    size, uncompressed counts summing to height * width, polygons of >= 3 numeric (x, y) pairs."""
    if not segmentation:
        return
    if isinstance(segmentation, dict):
        size = segmentation.get("size")
        if not isinstance(size, list) or [*size] != [video.height, video.width]:
            raise DataError(f"{where}: RLE size {size} != video size [{video.height}, {video.width}]")
        counts = segmentation.get("counts")
        if isinstance(counts, list):
            if not all(isinstance(c, int) and not isinstance(c, bool) for c in counts):
                raise DataError(f"{where}: undecodable segmentation (uncompressed RLE counts must be ints)")
            if sum(counts) != video.height * video.width:
                raise DataError(
                    f"{where}: undecodable segmentation (uncompressed RLE counts sum to {sum(counts)}, "
                    f"expected {video.height * video.width})"
                )
        elif not isinstance(counts, str):
            raise DataError(f"{where}: RLE 'counts' must be a string or a list of ints")
    elif isinstance(segmentation, list):
        for polygon in segmentation:
            if not isinstance(polygon, list) or len(polygon) < 6 or len(polygon) % 2:
                raise DataError(f"{where}: undecodable segmentation (a polygon needs >= 3 (x, y) pairs)")
            if not all(_is_number(v) for v in polygon):
                raise DataError(f"{where}: undecodable segmentation (polygon coordinates must be numbers)")
    else:
        raise DataError(f"{where}: segmentation must be an RLE dict, a list of polygons or null")


def _parse_track(
    entry: Any, where: str, videos: dict[int, VideoInfo], categories: dict[int, Category]
) -> Track:
    if not isinstance(entry, dict):
        raise DataError(f"{where}: not an object")
    track_id = as_int(entry.get("id"), where, "id")
    where = f"{where} (id {track_id})"
    video_id = as_int(entry.get("video_id"), where, "video_id")
    category_id = as_int(entry.get("category_id"), where, "category_id")
    if video_id not in videos:
        raise _UnknownVideo(f"{where}: unknown video_id {video_id}")
    where = f"{where} of video {video_id}"
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
            raise DataError(f"{where}: {len(value)} {key} but the video has {video.length} frames")
    for frame, segmentation in enumerate(segmentations):
        _check_segmentation(segmentation, video, f"{where} frame {frame}")
    return Track(
        track_id, video_id, category_id, int(entry.get("iscrowd", 0) or 0), segmentations,
        lists["areas"], lists["bboxes"],
    )  # fmt: skip


class _UnknownVideo(DataError):
    """An annotation whose video is not in the file (dropped in non-strict mode)."""


def _parse_categories(raw: Any, source: str) -> dict[int, Category]:
    categories: dict[int, Category] = {}
    for position, entry in enumerate(raw or []):
        where = f"{source}: categories[{position}]"
        if not isinstance(entry, dict):
            raise DataError(f"{where}: not an object")
        cat_id = as_int(entry.get("id"), where, "id")
        category = Category(cat_id, str(entry.get("name", cat_id)), str(entry.get("supercategory", "")))
        if category.id in categories:
            raise DataError(f"{source}: duplicate category id {category.id}")
        categories[category.id] = category
    return categories


def load_ytvis_annotations(
    source: str | Path | dict | YTVISAnnotations, strict: bool = True
) -> YTVISAnnotations:
    """Parse and validate a YouTube-VIS JSON (a path or a loaded dict; a parsed file is returned as
    is). ``annotations`` and ``categories`` may be absent, as in test-set files. File-level problems
    (not JSON, no ``videos`` list, duplicate ids, a broken ``videos`` entry) always raise DataError;
    per-video problems raise only when ``strict`` (see the module docstring)."""
    if isinstance(source, YTVISAnnotations):
        return source
    data, label, sha256 = read_json_source(source, "YouTube-VIS annotation")
    if not isinstance(data, dict) or not isinstance(data.get("videos"), list):
        raise DataError(f"{label}: not a YouTube-VIS JSON (no 'videos' list)")
    problems: dict[int, str] = {}
    videos = parse_videos(data["videos"], label, None if strict else problems)
    names = {int(e["id"]): _folder_name(e, int(e["id"])) for e in data["videos"]}
    categories = _parse_categories(data.get("categories"), label)
    raw_annotations = data.get("annotations") or []
    if not isinstance(raw_annotations, list):
        raise DataError(f"{label}: 'annotations' must be a list")
    tracks: list[Track] = []
    seen: set[int] = set()
    dropped: list[str] = []
    for position, entry in enumerate(raw_annotations):
        where = f"{label}: annotations[{position}]"
        try:
            track = _parse_track(entry, where, videos, categories)
            if track.track_id in seen:
                raise DataError(f"{label}: duplicate annotation id {track.track_id}")
        except _UnknownVideo as exc:
            if strict:
                raise
            if entry.get("video_id") not in problems:  # tracks of a broken video go with it
                dropped.append(str(exc))
            continue
        except DataError as exc:
            video_id = entry.get("video_id") if isinstance(entry, dict) else None
            if strict or not isinstance(video_id, int) or video_id not in names:
                raise
            problems.setdefault(video_id, str(exc))
            continue
        seen.add(track.track_id)
        tracks.append(track)
    tracks = [t for t in tracks if t.video_id not in problems]
    info = data.get("info") if isinstance(data.get("info"), dict) else {}
    return YTVISAnnotations(label, videos, categories, tracks, info, sha256, problems, dropped, names)
