"""``vis-visualize results=R.json data.frames=DIR out=DIR``: one overlay MP4 per video."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from vis_pipeline.cli import CONFIG_DIR
from vis_pipeline.cli.run import register_resolvers
from vis_pipeline.masks import to_compressed_rle
from vis_pipeline.visualize import write_overlay_video

register_resolvers()


def _gt_tracks(gt: dict, video: dict) -> list[dict]:
    h, w = int(video["height"]), int(video["width"])
    tracks = []
    for ann in gt.get("annotations", []):
        if ann["video_id"] != video["id"]:
            continue
        segs = [None if s is None else to_compressed_rle(s, h, w) for s in ann["segmentations"]]
        tracks.append({"category_id": ann["category_id"], "segmentations": segs})
    return tracks


@hydra.main(version_base=None, config_path=CONFIG_DIR, config_name="visualize")
def main(cfg: DictConfig) -> None:
    from vis_pipeline.data import VideoSource

    try:
        results = json.loads(Path(cfg.results).read_text())
    except (OSError, ValueError) as exc:
        print(f"vis-visualize: {cfg.results}: cannot read results ({exc})", file=sys.stderr)
        sys.exit(2)
    gt = json.loads(Path(cfg.data.ann).read_text()) if cfg.data.ann else None
    names = {int(c["id"]): c["name"] for c in (gt or {}).get("categories", [])}
    by_video: dict[int, list[dict]] = {}
    for entry in results:
        by_video.setdefault(int(entry["video_id"]), []).append(entry)
    wanted = set(OmegaConf.to_container(cfg.videos)) if cfg.videos else set(by_video)
    videos, _ = VideoSource(cfg.data.frames, cfg.data.ann).videos_and_failures()
    videos = [v for v in videos if v.video_id in wanted][: int(cfg.max_videos)]
    gt_videos = {int(v["id"]): v for v in (gt or {}).get("videos", [])}
    out_dir = Path(cfg.out)
    for video in tqdm(videos, desc="overlays", unit="video"):
        tracks = sorted(by_video.get(video.video_id, []), key=lambda e: -e["score"])
        gt_tracks = _gt_tracks(gt, gt_videos[video.video_id]) if cfg.gt and gt else None
        path = write_overlay_video(
            video.iter_frames(), tracks, out_dir / f"{video.name}.mp4", names, gt_tracks, float(cfg.fps)
        )
        tqdm.write(f"wrote {path}")


if __name__ == "__main__":
    main()
