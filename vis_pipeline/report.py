"""``vis-report``: one self-contained HTML folder for a ``vis-run`` directory or an ablation sweep.

``<out>/index.html`` with the metrics table, per-category AP (table and plot), a per-video table
(status, frames, tracks, time, per-video AP where the run had GT; sortable by clicking a header)
whose rows link to the video's overlay (``<video>``, prediction | GT, H.264 under
``<out>/videos/``). For a sweep (``vis-run -m``): the ablation table and plot of ``vis-ablate``,
per-category and per-video AP of every arm side by side with deltas against the first arm, and
the arms' overlays next to each other. No server, fonts or scripts from elsewhere: the folder can
be zipped, mailed or opened from disk.

What a run directory gives: ``run_summary.json`` (config, per-video status and times),
``results.json``, ``metrics.json`` (with GT), ``videos.json`` (where its frames are). Frames and
GT are found through ``videos.json``, else through the run's ``data.frames``/``data.ann``
(relative paths from the current directory); when they are gone the page says so and has no
overlays or per-video AP.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from vis_pipeline import report_html as H
from vis_pipeline.ablate import AblationError, find_arms, markdown_table, plot_arms
from vis_pipeline.data import AnyVideo, DataError, VideoSource, YTVISAnnotations, load_ytvis_annotations
from vis_pipeline.eval import STAT_NAMES, evaluate_ytvis
from vis_pipeline.visualize import OverlaySettings, render_video_overlay


class ReportError(ValueError):
    """A run or sweep directory that cannot be reported (one line naming the path)."""


@dataclass
class RunData:
    """What the report shows of one run directory."""

    run_dir: Path
    label: str
    summary: dict[str, Any]
    results: list[dict]
    metrics: dict[str, Any] | None
    gt: YTVISAnnotations | None
    videos: dict[int, AnyVideo]  # listed videos by id (empty when the frames are gone)
    notes: list[str] = field(default_factory=list)
    video_ap: dict[int, float] = field(default_factory=dict)  # per-video AP (videos with GT tracks)

    @property
    def rows(self) -> list[dict[str, Any]]:
        """run_summary's per-video entries, by id."""
        return sorted(self.summary.get("videos", []), key=lambda v: v["video_id"])

    def tracks_of(self, video_id: int) -> list[dict]:
        return [r for r in self.results if r["video_id"] == video_id]


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ReportError(
            f"{path}: missing ({what}); is {path.parent} a finished vis-run directory?"
        ) from None
    except (OSError, ValueError) as exc:
        raise ReportError(f"{path}: unreadable {what} ({exc})") from None


def _listed_videos(run_dir: Path, data: dict[str, Any], notes: list[str]) -> dict[int, AnyVideo]:
    """The run's videos: from ``videos.json`` (sources are absolute), else the run's data settings."""
    listing = run_dir / "videos.json"
    try:
        if listing.is_file():
            entries = _read_json(listing, "video list")["videos"]
            source = VideoSource(Path(entries[0]["source"]).parent, listing) if entries else None
        else:
            stride, cap = int(data.get("frame_stride", 1)), data.get("max_frames")
            source = VideoSource(data["frames"], data.get("ann"), stride, cap)
    except (DataError, KeyError, IndexError, TypeError) as exc:
        notes.append(f"frames not found, no overlays: {exc}")
        return {}
    if source is None:
        return {}
    videos, failures = source.videos_and_failures()
    notes.extend(f"video {f.video_id} ({f.name}) unreadable, no overlay: {f.error}" for f in failures)
    return {v.video_id: v for v in videos}


def _ground_truth(data: dict[str, Any], notes: list[str]) -> YTVISAnnotations | None:
    if not data.get("ann"):
        return None
    try:
        return load_ytvis_annotations(data["ann"], strict=False)
    except DataError as exc:
        notes.append(f"GT not found, no GT panels or per-video AP: {exc}")
        return None


def per_video_ap(gt: YTVISAnnotations, results: list[dict], video_ids: list[int]) -> dict[int, float]:
    """AP of each video scored alone against its own GT tracks (videos without GT tracks left out)."""
    scores = {}
    for vid in video_ids:
        if vid not in gt.videos or not gt.tracks_of(vid):
            continue
        alone = gt.without_videos(set(gt.videos) - {vid})
        with warnings.catch_warnings():  # results of unknown categories: metrics.json said so already
            warnings.simplefilter("ignore")
            scores[vid] = float(evaluate_ytvis(alone, [r for r in results if r["video_id"] == vid])["AP"])
    return scores


def load_run(run_dir: Path, label: str = "") -> RunData:
    """Read a run directory (summary and results required; metrics, videos.json, GT optional)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ReportError(f"{run_dir}: not a directory")
    summary = _read_json(run_dir / "run_summary.json", "run summary")
    results = _read_json(run_dir / "results.json", "results")
    metrics = (
        _read_json(run_dir / "metrics.json", "metrics") if (run_dir / "metrics.json").is_file() else None
    )
    data = summary.get("config", {}).get("data", {})
    notes: list[str] = []
    videos = _listed_videos(run_dir, data, notes)
    gt = _ground_truth(data, notes)
    run = RunData(run_dir, label or run_dir.name, summary, results, metrics, gt, videos, notes)
    finished = [r["video_id"] for r in run.rows if r["status"] in ("done", "skipped")]
    run.video_ap = per_video_ap(gt, results, finished) if gt is not None else {}
    return run


def render_overlays(
    run: RunData, out_dir: Path, subdir: str, settings: OverlaySettings, max_videos: int
) -> dict[int, str]:
    """Overlays of the first ``max_videos`` finished videos: {video_id: path relative to out_dir}."""
    names = run.gt.category_names if run.gt is not None else {}
    finished = [
        r["video_id"] for r in run.rows if r["status"] in ("done", "skipped") and r["video_id"] in run.videos
    ]
    written = {}
    for vid in tqdm(finished[:max_videos], desc=f"overlays {run.label}", unit="video", leave=False):
        relative = f"{subdir}/{vid}.mp4"
        try:
            render_video_overlay(
                run.videos[vid], run.tracks_of(vid), out_dir / relative, names, settings, run.gt
            )
        except DataError as exc:
            run.notes.append(f"video {vid}: no overlay: {exc}")
            continue
        written[vid] = relative
    return written


def plot_per_category(per_category: dict[str, list[float]], labels: list[str], out_png: Path) -> None:
    """Horizontal bars of each category's AP (%), one bar per run; undefined AP left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(per_category)
    y = np.arange(len(names))
    height = 0.8 / len(labels)
    fig, ax = plt.subplots(figsize=(5, 0.9 + 0.3 * len(names) * len(labels)), dpi=100)
    for i, label in enumerate(labels):
        values = [100 * max(per_category[n][i], 0.0) for n in names]
        ax.barh(y + (i - (len(labels) - 1) / 2) * height, values, height, label=label)
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_xlabel("AP (%)")
    ax.set_xlim(0, 100)
    if len(labels) > 1:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    fig.tight_layout()
    fig.savefig(out_png)
    plt.close(fig)


def _run_header(run: RunData) -> list[str]:
    config, totals = run.summary.get("config", {}), run.summary.get("totals", {})
    protocol = run.summary.get("protocol", {})
    parts = [
        f"detector {config.get('detector', {}).get('name', '?')}",
        f"tracker {config.get('tracker', {}).get('name', '?')}",
        f"cascade {protocol.get('cascade', run.summary.get('cascade', '?'))}",
        f"association {protocol.get('association', '?')}",
        f"{totals.get('finished', '?')}/{totals.get('videos', '?')} videos finished",
        f"{totals.get('failed', 0)} failed",
        f"{totals.get('total_ms_per_frame') or '-'} ms/frame",
    ]
    return [H.paragraph(f"{run.label}: {run.run_dir}", "meta"), H.paragraph(" | ".join(parts), "meta")]


def _metrics_section(runs: list[RunData]) -> list[str]:
    scored = [r for r in runs if r.metrics is not None]
    if not scored:
        return [H.heading(2, "Metrics"), H.paragraph("No metrics: the run had no annotated GT (data.ann).")]
    rows = [[H.text(r.label), *(H.percent(r.metrics[k]) for k in STAT_NAMES)] for r in scored]  # type: ignore[index]
    return [H.heading(2, "Metrics (YouTube-VIS, %)"), H.table(["run", *STAT_NAMES], rows, "metrics")]


def _category_section(runs: list[RunData], out_dir: Path) -> list[str]:
    scored = [r for r in runs if r.metrics is not None and r.metrics.get("per_category_AP")]
    if not scored:
        return []
    names = list(scored[0].metrics["per_category_AP"])  # type: ignore[index]
    values = {n: [float(r.metrics["per_category_AP"].get(n, -1.0)) for r in scored] for n in names}  # type: ignore[index]
    headers = ["category", *(r.label for r in scored)]
    headers += [f"Δ {r.label}" for r in scored[1:]]
    rows = [
        [H.text(n), *(H.percent(v) for v in values[n]), *(H.delta(v, values[n][0]) for v in values[n][1:])]
        for n in names
    ]
    defined = {n: v for n, v in values.items() if max(v) >= 0}
    blocks = [H.table(headers, rows, "categories", sortable=True)]
    if defined:
        (out_dir / "plots").mkdir(parents=True, exist_ok=True)
        plot_per_category(defined, [r.label for r in scored], out_dir / "plots" / "per_category_ap.png")
        blocks.append(H.image("plots/per_category_ap.png", "per-category AP"))
    return [H.heading(2, "Per-category AP (%)"), H.side_by_side(*blocks)]


def _video_cells(run: RunData, row: dict[str, Any]) -> list[H.Cell]:
    vid = row["video_id"]
    finished = row["status"] in ("done", "skipped")
    seconds = row.get("detect_s", 0.0) + row.get("track_s", 0.0) if row["status"] == "done" else None
    return [
        H.number(len(run.tracks_of(vid)) if finished else None),
        H.number(run.video_ap.get(vid), 1, 100.0),
        H.number(seconds, 2),
    ]


def _videos_section(runs: list[RunData], overlays: list[dict[int, str]]) -> list[str]:
    """One row per video: id, name (linked to its overlays), frames, status, then per run
    tracks / AP / seconds (and ΔAP against the first run), the error of a failed video."""
    by_id = [{r["video_id"]: r for r in run.rows} for run in runs]
    ids = sorted(set().union(*by_id))
    headers = ["id", "video", "frames", "status"]
    for i, run in enumerate(runs):
        prefix = f"{run.label} " if len(runs) > 1 else ""
        headers += [f"{prefix}tracks", f"{prefix}AP", *([f"{prefix}ΔAP"] if i else []), f"{prefix}time s"]
    headers.append("error")
    rows = []
    for vid in ids:
        first = next(rows_of[vid] for rows_of in by_id if vid in rows_of)
        has_overlay = any(vid in o for o in overlays)
        name = H.link(first["name"], f"#video-{vid}") if has_overlay else H.text(first["name"])
        statuses = sorted({rows_of[vid]["status"] for rows_of in by_id if vid in rows_of})
        status_css = "failed text" if "failed" in statuses else "text"
        cells = [
            H.number(vid),
            name,
            H.number(first.get("frames") or None),
            H.text("/".join(statuses), status_css),
        ]
        for i, (run, rows_of) in enumerate(zip(runs, by_id, strict=True)):
            run_cells = _video_cells(run, rows_of[vid]) if vid in rows_of else [H.number(None)] * 3
            base = runs[0].video_ap.get(vid)
            cells += run_cells[:2] + ([H.delta(run.video_ap.get(vid), base)] if i else []) + run_cells[2:]
        errors = {run.label: rows_of[vid]["error"] for run, rows_of in zip(runs, by_id, strict=True)
                  if vid in rows_of and rows_of[vid].get("error")}  # fmt: skip
        shown = (
            list(errors.values())[:1]
            if len(set(errors.values())) == 1
            else [f"{k}: {v}" for k, v in errors.items()]
        )
        cells.append(H.text(" | ".join(shown), "failed text" if errors else "text"))
        rows.append(cells)
    return [
        H.heading(2, "Videos"),
        H.paragraph("Click a column header to sort; a video's name links to its overlay."),
        H.table(headers, rows, "videos", sortable=True),
    ]


def _overlay_section(runs: list[RunData], overlays: list[dict[int, str]]) -> list[str]:
    ids = sorted(set().union(*overlays))
    if not ids:
        return []
    gt = " | right: ground truth" if any(r.gt is not None for r in runs) else ""
    sections = [
        H.heading(2, "Overlays"),
        H.paragraph(f"left: prediction (track #, category, score){gt}", "meta"),
    ]
    names = {row["video_id"]: row["name"] for run in runs for row in run.rows}
    for vid in ids:
        sections.append(H.heading(3, f"{vid}: {names[vid]}", f"video-{vid}"))
        figures = [
            H.video_figure(o[vid], run.label) for run, o in zip(runs, overlays, strict=True) if vid in o
        ]
        sections.append('<div class="videos">' + "".join(figures) + "</div>")
    return sections


def _notes_section(runs: list[RunData]) -> list[str]:
    notes = [f"{run.label}: {note}" for run in runs for note in run.notes]
    return [H.heading(2, "Notes"), *(H.paragraph(n) for n in notes)] if notes else []


def write_run_report(run_dir: Path, out_dir: Path, settings: OverlaySettings, max_videos: int) -> Path:
    """``out_dir/index.html`` (+ videos/, plots/) for one vis-run directory."""
    run = load_run(run_dir)
    overlays = [render_overlays(run, out_dir, "videos", settings, max_videos)]
    sections = [H.heading(1, f"vis-report: {run.run_dir.name}"), *_run_header(run)]
    sections += _metrics_section([run]) + _category_section([run], out_dir)
    sections += _videos_section([run], overlays) + _overlay_section([run], overlays) + _notes_section([run])
    return _write_page(out_dir, f"vis-report {run.run_dir}", sections)


def write_sweep_report(sweep_dir: Path, out_dir: Path, settings: OverlaySettings, max_videos: int) -> Path:
    """``out_dir/index.html`` for a sweep: the vis-ablate table and plot, then the arms side by side."""
    try:
        arms = find_arms(Path(sweep_dir))
    except AblationError as exc:
        raise ReportError(str(exc)) from None
    several_presets = len({a.association for a in arms}) > 1
    runs = [load_run(a.run_dir, f"{a.association}: {a.label}" if several_presets else a.label) for a in arms]
    overlays = [
        render_overlays(run, out_dir, f"videos/{i}", settings, max_videos) for i, run in enumerate(runs)
    ]
    (out_dir / "plots").mkdir(parents=True, exist_ok=True)
    plot_arms(arms, out_dir / "plots" / "ablation.png")
    sections = [H.heading(1, f"vis-report: sweep {Path(sweep_dir).name}")]
    sections += [line for run in runs for line in _run_header(run)]
    sections += [
        H.heading(2, "Ablation (vis-ablate; Δ against the first arm of each association preset)"),
        H.markdown_table(markdown_table(arms), "ablation"),
        H.image("plots/ablation.png", "ablation"),
    ]
    sections += _metrics_section(runs) + _category_section(runs, out_dir)
    sections += _videos_section(runs, overlays) + _overlay_section(runs, overlays) + _notes_section(runs)
    return _write_page(out_dir, f"vis-report {sweep_dir}", sections)


def _write_page(out_dir: Path, title: str, sections: list[str]) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    index = out_dir / "index.html"
    index.write_text(H.page(title, sections), encoding="utf-8")
    return index
