"""Overlays: H.264 yuv420p MP4 with the index up front, from frame folders and video files, with
the frame rate of the source; mismatched results are one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import cli, make_synth
from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from omegaconf import DictConfig
from test_data_video_files import synth_as_video_files

from vis_pipeline.cli import CONFIG_DIR
from vis_pipeline.cli.run import register_resolvers
from vis_pipeline.cli.visualize import render_overlays
from vis_pipeline.eval import gt_to_results
from vis_pipeline.visualize import H264Writer


def probe(path: Path) -> tuple[str, str, int, int, float, int]:
    """(codec, pixel format, width, height, frame rate, decoded frames) of an MP4."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        context = stream.codec_context
        frames = sum(1 for _ in container.decode(stream))
        return (
            context.name,
            context.pix_fmt,
            context.width,
            context.height,
            float(stream.average_rate),
            frames,
        )


def test_writer_gives_h264_yuv420p_faststart_and_pads_odd_sizes(tmp_path: Path) -> None:
    path = tmp_path / "odd.mp4"
    frame = np.zeros((45, 81, 3), np.uint8)
    frame[:, :40] = (0, 0, 255)  # red left half
    with H264Writer(path, 29.97, crf=18, preset="ultrafast") as writer:
        for _ in range(5):
            writer.write(frame)
    codec, pix_fmt, width, height, fps, frames = probe(path)
    assert (codec, pix_fmt, width, height, frames) == ("h264", "yuv420p", 82, 46, 5)
    assert fps == pytest.approx(29.97, abs=1e-3)
    data = path.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # +faststart: a browser can start at once
    with av.open(str(path)) as container:
        decoded = next(container.decode(video=0)).to_ndarray(format="bgr24")
    assert decoded[20, 10, 2] > 200 and decoded[20, 60, 2] < 50  # the picture, not just a header
    with (
        pytest.raises(ValueError, match="is 10x10"),
        H264Writer(tmp_path / "bad.mp4", 6, 23, "ultrafast") as w,
    ):
        w.write(frame)
        w.write(np.zeros((10, 10, 3), np.uint8))
    assert not (tmp_path / "bad.mp4").exists()  # no half-written file


def compose(config_name: str, overrides: list[str]) -> DictConfig:
    """``configs/<config_name>.yaml`` with ``overrides``, as the CLI would see it."""
    register_resolvers()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base=None):
        return hydra_compose(config_name=config_name, overrides=overrides)


def test_vis_visualize_on_video_files_keeps_their_frame_rate(tmp_path: Path) -> None:
    dataset = make_synth(tmp_path / "synth", videos=2, seed=9001, frames=6, width=160, height=96)
    clips = synth_as_video_files(dataset, tmp_path / "clips", fps=12)
    results = tmp_path / "results.json"
    results.write_text(json.dumps(gt_to_results(dataset / "annotations.json")))
    args = [f"results={results}", f"data.frames={clips}", f"data.ann={dataset / 'annotations.json'}"]
    written = render_overlays(compose("visualize", [*args, "gt=true", f"out={tmp_path / 'overlays'}"]))
    assert sorted(p.stem for p in written) == sorted(p.stem for p in clips.glob("*.mp4"))
    for path in written:
        assert probe(path) == ("h264", "yuv420p", 2 * 160, 96, 12.0, 6)  # prediction | GT, source rate

    # frame folders: fps= sets the rate
    folders = [args[0], f"data.frames={dataset / 'JPEGImages'}", "fps=4", f"out={tmp_path / 'folders'}"]
    assert probe(render_overlays(compose("visualize", folders))[0])[2:] == (160, 96, 4.0, 6)
    # results of another frame count than the listed video: one line, exit 2
    proc = cli("vis_pipeline.cli.visualize", [*args[:2], "data.frame_stride=2", f"out={tmp_path / 'x'}"])
    assert proc.returncode == 2
    assert "results have 6 frames but the video has 3" in proc.stderr and "Traceback" not in proc.stderr
