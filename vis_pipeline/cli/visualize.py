"""``vis-visualize results=R.json data.frames=DIR out=DIR``: one H.264 overlay MP4 per video.

``data.frames`` may hold frame folders and/or video files, or be one video file (as for vis-run;
pass the run's ``data.frame_stride``/``data.max_frames``). ``data.ann=GT.json gt=true`` adds the
GT panel on the right.
"""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from vis_pipeline.cli import CONFIG_DIR
from vis_pipeline.cli.run import register_resolvers
from vis_pipeline.data import DataError, VideoSource, load_ytvis_annotations
from vis_pipeline.data.ytvis import read_json_source
from vis_pipeline.visualize import OverlaySettings, OverlaySettingsError, render_video_overlay

register_resolvers()


def render_overlays(cfg: DictConfig) -> list[Path]:
    """Render the overlays ``cfg`` asks for; DataError (one line) on bad input."""
    results, _, _ = read_json_source(cfg.results, "results")
    if not isinstance(results, list):
        raise DataError(f"{cfg.results}: results must be a JSON list of YouTube-VIS result entries")
    gt = load_ytvis_annotations(cfg.data.ann, strict=False) if cfg.data.ann else None
    if cfg.gt and gt is None:
        raise DataError("gt=true needs data.ann=GT.json (the GT panel is drawn from it)")
    by_video: dict[int, list[dict]] = {}
    for entry in results:
        by_video.setdefault(int(entry["video_id"]), []).append(entry)
    wanted = set(OmegaConf.to_container(cfg.videos)) if cfg.videos else set(by_video)
    source = VideoSource(cfg.data.frames, gt, int(cfg.data.frame_stride), cfg.data.max_frames)
    videos, failures = source.videos_and_failures()
    for failure in failures:
        if failure.video_id in wanted:
            tqdm.write(f"vis-visualize: video {failure.video_id} ({failure.name}) skipped: {failure.error}")
    videos = [v for v in videos if v.video_id in wanted][: int(cfg.max_videos)]
    settings = OverlaySettings.from_config(cfg)
    names = gt.category_names if gt is not None else {}
    written = []
    for video in tqdm(videos, desc="overlays", unit="video"):
        out_path = Path(cfg.out) / f"{video.name}.mp4"
        panel_gt = gt if cfg.gt else None
        written.append(
            render_video_overlay(video, by_video.get(video.video_id, []), out_path, names, settings, panel_gt)
        )
        tqdm.write(f"wrote {written[-1]}")
    return written


@hydra.main(version_base=None, config_path=CONFIG_DIR, config_name="visualize")
def main(cfg: DictConfig) -> None:
    try:
        render_overlays(cfg)
    except (DataError, OverlaySettingsError) as exc:
        print(f"vis-visualize: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
