"""Video files as input (PyAV): listing with frame folders, frame values, stride / cap, a GT's
synthetic file names, one file as the whole input, bad files failing alone, videos.json."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from vis_pipeline.data import DataError, Video, VideoFile, VideoSource, read_frame, write_videos_json
from vis_pipeline.visualize import H264Writer

W, H = 160, 96


def _frames(count: int, seed: int = 0) -> list[np.ndarray]:
    """Random BGR frames whose top-left 8x8 block holds (frame index mod 12) * 20 (survives H.264)."""
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(count):
        frame = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
        frame[:8, :8] = (i % 12) * 20
        frames.append(frame)
    return frames


def _index_of(frame: np.ndarray) -> int:
    return int(round(float(frame[2:6, 2:6].mean()) / 20))


def write_h264(path: Path, frames: list[np.ndarray], fps: float = 10) -> Path:
    with H264Writer(path, fps, crf=18, preset="ultrafast") as writer:
        for frame in frames:
            writer.write(frame)
    return path


def write_lossless(
    path: Path, frames: list[np.ndarray], codec: str = "png", pix_fmt: str = "rgb24", rotation: int = 0
) -> Path:
    """A lossless video (PNG in .avi/.mov, FFV1 in .mkv): decoded frames equal the inputs exactly.
    ``rotation``: display rotation (counter-clockwise degrees) stored in the container (.mov)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=Fraction(10))
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], pix_fmt
        if rotation:
            stream.set_display_rotation(rotation)
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")))
        container.mux(stream.encode(None))
    return path


def test_video_files_and_frame_folders_listed_together_in_natural_order(tmp_path: Path) -> None:
    root = tmp_path / "in"
    for i, frame in enumerate(_frames(3)):
        (root / "a").mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / "a" / f"{i}.png"), frame)
    write_h264(root / "b.mp4", _frames(4))
    write_lossless(root / "c10.mkv", _frames(2), "ffv1", "bgr0")
    write_lossless(root / "c2.MOV", _frames(5))
    (root / "notes.txt").write_text("not a video")
    (root / ".hidden.mp4").write_bytes(b"")
    videos, failures = VideoSource(root).videos_and_failures()
    assert failures == []
    assert [(v.video_id, v.name, type(v).__name__, v.length) for v in videos] == [
        (1, "a", "Video", 3),
        (2, "b", "VideoFile", 4),
        (3, "c2", "VideoFile", 5),
        (4, "c10", "VideoFile", 2),
    ]
    b = videos[1]
    assert (b.width, b.height, b.fps) == (W, H, 10.0)
    assert b.file_names == ["b/00000.jpg", "b/00001.jpg", "b/00002.jpg", "b/00003.jpg"]
    assert b.source_files == [root / "b.mp4"]
    assert [_index_of(f) for f in b.iter_frames()] == [0, 1, 2, 3]


@pytest.mark.parametrize(("suffix", "codec", "pix_fmt"), [(".avi", "png", "rgb24"), (".mkv", "ffv1", "bgr0")])
def test_decoded_frames_equal_the_same_pictures_read_as_image_frames(
    tmp_path: Path, suffix: str, codec: str, pix_fmt: str
) -> None:
    frames = _frames(3, seed=1)
    source = VideoSource(write_lossless(tmp_path / f"clip{suffix}", frames, codec, pix_fmt))
    (video,) = source.videos_and_failures()[0]
    assert inspect.isgenerator(video.iter_frames())  # streamed, one frame in memory
    for i, (decoded, original) in enumerate(zip(video.iter_frames(), frames, strict=True)):
        cv2.imwrite(str(tmp_path / f"{i}.png"), original)
        as_image = read_frame(tmp_path / f"{i}.png")
        assert decoded.dtype == np.uint8 and decoded.shape == (H, W, 3) and decoded.flags.c_contiguous
        np.testing.assert_array_equal(decoded, as_image)


@pytest.mark.parametrize("rotation", [90, -90, 180])
def test_a_sideways_stored_phone_video_is_turned_upright(tmp_path: Path, rotation: int) -> None:
    """Chromium shows such a file as np.rot90(stored, rotation // 90) (checked once by screenshot)."""
    frames = _frames(2, seed=2)
    (video,), _ = VideoSource(
        write_lossless(tmp_path / "phone.mov", frames, rotation=rotation)
    ).videos_and_failures()
    upright = [np.rot90(f, k=rotation // 90) for f in frames]
    assert (video.width, video.height) == (upright[0].shape[1], upright[0].shape[0])
    for decoded, expected in zip(video.iter_frames(), upright, strict=True):
        np.testing.assert_array_equal(decoded, expected)
        assert decoded.flags.c_contiguous


def test_frame_stride_and_max_frames_apply_to_files_and_folders(tmp_path: Path) -> None:
    root = tmp_path / "in"
    frames = _frames(10)
    write_h264(root / "clip.mp4", frames, fps=30)
    for i, frame in enumerate(frames):
        (root / "dir").mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / "dir" / f"{i:03d}.png"), frame)
    clip, folder = VideoSource(root, frame_stride=3).videos_and_failures()[0]
    assert clip.file_names == ["clip/00000.jpg", "clip/00003.jpg", "clip/00006.jpg", "clip/00009.jpg"]
    assert [_index_of(f) for f in clip.iter_frames()] == [0, 3, 6, 9]
    assert clip.playback_fps == pytest.approx(10.0)  # 30 fps, every 3rd frame
    assert folder.file_names == ["dir/000.png", "dir/003.png", "dir/006.png", "dir/009.png"]
    clip, folder = VideoSource(root, frame_stride=2, max_frames=3).videos_and_failures()[0]
    assert clip.length == folder.length == 3
    assert [_index_of(f) for f in clip.iter_frames()] == [0, 2, 4]
    assert [_index_of(f) for f in folder.iter_frames()] == [0, 2, 4]
    for stride, cap in ((0, None), (2.5, None), (1, 0)):
        with pytest.raises(DataError, match="data.frame_stride|data.max_frames"):
            VideoSource(root, frame_stride=stride, max_frames=cap)


def test_one_video_file_is_the_whole_input(tmp_path: Path) -> None:
    path = write_h264(tmp_path / "phone clip.mp4", _frames(3))
    write_h264(tmp_path / "other.mp4", _frames(2))
    source = VideoSource(path)
    videos, failures = source.videos_and_failures()
    assert failures == [] and [(v.video_id, v.name, v.length) for v in videos] == [(1, "phone clip", 3)]


def test_same_stem_twice_keeps_the_suffix_in_the_name(tmp_path: Path) -> None:
    write_h264(tmp_path / "clip.mp4", _frames(2))
    write_lossless(tmp_path / "clip.avi", _frames(3))
    videos, _ = VideoSource(tmp_path).videos_and_failures()
    assert [(v.name, v.length) for v in videos] == [("clip.avi", 3), ("clip.mp4", 2)]
    assert videos[0].file_names[0] == "clip.avi/00000.jpg"


def _gt(path: Path, videos: list[dict]) -> Path:
    path.write_text(json.dumps({"videos": videos, "annotations": [], "categories": []}))
    return path


def test_gt_file_names_select_frames_of_a_video_file(tmp_path: Path) -> None:
    root = tmp_path / "in"
    write_h264(root / "clip.mp4", _frames(6))
    write_h264(root / "other.webm", _frames(2))  # not in the JSON: ignored
    names = ["clip/00001.jpg", "clip/00004.jpg"]
    gt = _gt(tmp_path / "gt.json", [
        {"id": 7, "width": W, "height": H, "length": 2, "file_names": names},
        {"id": 8, "width": W + 2, "height": H, "length": 1, "file_names": ["clip/00000.jpg"]},
        {"id": 9, "width": W, "height": H, "length": 1, "file_names": ["clip/00006.jpg"]},
        {"id": 10, "width": W, "height": H, "length": 1, "file_names": ["missing/00000.jpg"]},
    ])  # fmt: skip
    videos, failures = VideoSource(root, gt).videos_and_failures()
    (clip,) = videos
    assert (clip.video_id, clip.name, clip.file_names) == (7, "clip", names)
    assert [_index_of(f) for f in clip.iter_frames()] == [1, 4]
    errors = {f.video_id: f.error for f in failures}
    assert "frames are 160x96 but" in errors[8] and "162x96" in errors[8]
    assert "lists frame 6 but the file has 6 frames" in errors[9]
    assert "missing/00000.jpg" in errors[10] and "does not exist" in errors[10]
    with pytest.raises(DataError, match="cannot be used with data.ann"):
        VideoSource(root, gt, frame_stride=5)
    with pytest.raises(DataError, match="data.frames must be the folder"):
        VideoSource(root / "clip.mp4", gt)


def _variable_size_mkv(path: Path) -> Path:
    """Motion-JPEG frames of two sizes in one stream (each packet is a whole JPEG)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mjpeg", rate=Fraction(10))
        stream.width, stream.height, stream.pix_fmt = W, H, "yuvj420p"
        small = av.CodecContext.create("mjpeg", "w")
        small.width, small.height, small.pix_fmt, small.time_base = (
            W // 2,
            H // 2,
            "yuvj420p",
            Fraction(1, 10),
        )
        for i in range(4):
            context, (w, h) = (stream, (W, H)) if i < 2 else (small, (W // 2, H // 2))
            picture = av.VideoFrame.from_ndarray(np.zeros((h, w, 3), np.uint8), format="bgr24")
            picture = picture.reformat(format="yuvj420p")
            picture.pts = i
            for packet in context.encode(picture):
                packet.stream, packet.pts, packet.dts = stream, i, i
                container.mux(packet)
    return path


def test_bad_video_files_fail_alone_with_one_line_naming_the_file(tmp_path: Path) -> None:
    root = tmp_path / "in"
    good = write_h264(root / "a_good.mp4", _frames(5))
    long_clip = write_h264(root / "b_truncated.mp4", _frames(30, seed=3))  # +faststart: index first
    data = long_clip.read_bytes()
    long_clip.write_bytes(data[: int(len(data) * 0.6)])
    (root / "c_junk.mp4").write_bytes(
        np.random.default_rng(0).integers(0, 255, 5000, dtype=np.uint8).tobytes()
    )
    (root / "d_empty.webm").write_bytes(b"")
    with av.open(str(root / "e_audio.mkv"), "w") as container:  # sound only
        stream = container.add_stream("pcm_s16le", rate=8000)
        samples = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        samples.sample_rate = 8000
        container.mux(stream.encode(samples))
        container.mux(stream.encode(None))
    _variable_size_mkv(root / "f_sizes.mkv")

    videos, failures = VideoSource(root).videos_and_failures()
    assert [v.name for v in videos] == ["a_good", "f_sizes"]
    errors = {f.name: f.error for f in failures}
    assert sorted(errors) == ["b_truncated", "c_junk", "d_empty", "e_audio"]
    for name, error in errors.items():
        assert str(root / name) in error and "\n" not in error
    assert "truncated" in errors["b_truncated"]
    assert "not a readable video file" in errors["c_junk"]
    assert "no video stream" in errors["e_audio"]
    assert len(list(videos[0].iter_frames())) == 5 and videos[0].source_files == [good]
    with pytest.raises(DataError, match=r"f_sizes\.mkv: frame 2 is 80x48 but .*variable frame size"):
        list(videos[1].iter_frames())


def test_videos_json_lists_ids_sizes_names_source_and_fps(tmp_path: Path) -> None:
    root = tmp_path / "in"
    write_h264(root / "clip.mp4", _frames(4), fps=25)
    (root / "dir").mkdir()
    cv2.imwrite(str(root / "dir" / "0.jpg"), _frames(1)[0])
    videos, _ = VideoSource(root, frame_stride=2).videos_and_failures()
    assert isinstance(videos[0], VideoFile) and isinstance(videos[1], Video)
    write_videos_json(videos, tmp_path / "run" / "videos.json")
    listed = json.loads((tmp_path / "run" / "videos.json").read_text())["videos"]
    assert listed == [
        {"id": 1, "width": W, "height": H, "length": 2, "file_names": ["clip/00000.jpg", "clip/00002.jpg"],
         "source": str((root / "clip.mp4").resolve()), "fps": 25.0},
        {"id": 2, "width": W, "height": H, "length": 1, "file_names": ["dir/0.jpg"],
         "source": str((root / "dir").resolve()), "fps": None},
    ]  # fmt: skip
    # the list is a YouTube-VIS file: read back against the same folder, it gives the same videos
    again, failures = VideoSource(root, tmp_path / "run" / "videos.json").videos_and_failures()
    assert failures == [] and [(v.video_id, v.file_names) for v in again] == [
        (v.video_id, v.file_names) for v in videos
    ]


def synth_as_video_files(dataset: Path, out_dir: Path, fps: float = 10) -> Path:
    """Encode each frame folder of a synthetic set (``make_synth``) as ``<out_dir>/<name>.mp4``;
    the set's annotations.json then lists these files' frames (its names are ``<name>/00000.jpg``)."""
    for folder in sorted(p for p in (dataset / "JPEGImages").iterdir() if p.is_dir()):
        write_h264(out_dir / f"{folder.name}.mp4", [read_frame(p) for p in sorted(folder.iterdir())], fps)
    return out_dir


# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the (large) pytest parent.
_PEAK_RSS_OF_DECODING = """
import re, sys
from pathlib import Path
from vis_pipeline.data import VideoSource
(video,), _ = VideoSource(sys.argv[1]).videos_and_failures()
assert sum(1 for _ in video.iter_frames()) == video.length
print(int(re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1)) * 1024)
"""


def test_decoding_memory_is_flat_in_video_length(tmp_path: Path) -> None:
    """Peak RSS of decoding 400 frames vs 20 (each in a fresh process): a few MB apart, while
    holding the 400 frames would take 92 MB."""
    frame = cv2.resize(_frames(1)[0], (320, 240))
    peaks = []
    for count in (20, 400):
        path = write_h264(tmp_path / f"{count}.mp4", [frame] * count)
        proc = subprocess.run([sys.executable, "-c", _PEAK_RSS_OF_DECODING, str(path)],
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        peaks.append(int(proc.stdout.split()[-1]))
    growth = peaks[1] - peaks[0]
    assert growth < 0.2 * 400 * frame.nbytes, f"peak RSS grew by {growth / 2**20:.1f} MiB"


def test_vis_run_lists_video_files_with_its_data_settings(tmp_path: Path) -> None:
    from conftest import compose_run_cfg

    from vis_pipeline.pipeline import list_videos

    write_h264(tmp_path / "in" / "clip.mp4", _frames(10))
    cfg = compose_run_cfg([f"data.frames={tmp_path / 'in'}", "data.frame_stride=3", "data.max_frames=3"])
    videos, failures = list_videos(cfg, None)
    assert failures == [] and [v.file_names for v in videos] == [
        ["clip/00000.jpg", "clip/00003.jpg", "clip/00006.jpg"]
    ]
