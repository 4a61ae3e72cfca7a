"""Screenshot of a ``vis-report`` page in headless Chromium (the README's picture).

    .venv/bin/python scripts/report_screenshot.py outputs/demo/run/report docs/report.png

Opens ``index.html`` from disk in the system Chromium (``/usr/bin/chromium``, Debian's package;
``VIS_CHROMIUM=/path`` for another) driven by Playwright, waits until every overlay ``<video>``
has decoded a frame and shows its middle frame, and writes a PNG of the top of the page. Exits 1
with one line when the page logs an error or a video does not decode. ``open_report`` is also
what the browser test uses.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# Headless on a machine without network: no sandbox (containers), no GPU, and none of Chromium's
# background services (updates, sync, field trials), which would try to reach the internet.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIDEO_TIMEOUT_MS = 20_000


def find_chromium() -> str:
    """The Chromium binary: $VIS_CHROMIUM, else chromium / chromium-browser on PATH."""
    candidates = [os.environ.get("VIS_CHROMIUM")] + [
        shutil.which(n) for n in ("chromium", "chromium-browser")
    ]
    found = next((c for c in candidates if c and Path(c).is_file()), None)
    if found is None:
        raise FileNotFoundError(
            "Chromium not found: `make setup` installs Debian's chromium where apt is usable "
            "(or: sudo apt-get install chromium), or set VIS_CHROMIUM=/path/to/chromium"
        )
    return found


class ReportPage:
    """An opened report page and what the browser said while loading it."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []  # console errors, uncaught exceptions, failed requests
        page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: self.errors.append(f"request failed: {r.url} ({r.failure})"))

    def row_count(self, table_id: str) -> int:
        return int(self.page.evaluate(f"document.querySelectorAll('#{table_id} tbody tr').length"))

    def wait_for_videos(self, timeout_ms: int = VIDEO_TIMEOUT_MS) -> list[int]:
        """Wait until every <video> has a decoded frame (readyState >= 2) or failed; their readyStates."""
        self.page.wait_for_function(
            "Array.from(document.querySelectorAll('video')).every(v => v.readyState >= 2 || v.error)",
            timeout=timeout_ms,
        )
        return list(
            self.page.evaluate("Array.from(document.querySelectorAll('video')).map(v => v.readyState)")
        )

    def show_middle_frames(self) -> None:
        """Seek every video to its middle frame (frame 0 shows few masks) and hide the player
        controls (their buttons and spinner would cover the picture)."""
        self.page.evaluate(
            """Promise.all(Array.from(document.querySelectorAll('video')).map(v => new Promise(done => {
                v.controls = false;
                v.addEventListener('seeked', done, {once: true}); v.currentTime = v.duration / 2; })))"""
        )


@contextmanager
def open_report(index_html: Path, width: int = 1280, height: int = 900) -> Iterator[ReportPage]:
    """Headless Chromium (fresh profile) showing ``index_html``; yields the loaded page."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise ImportError("playwright is missing: pip install -e '.[dev]'") from None
    chromium = find_chromium()
    with (
        tempfile.TemporaryDirectory(prefix="vis-report-chromium-") as profile,
        sync_playwright() as playwright,
    ):
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": width, "height": height},
        )
        try:
            page = context.new_page()
            report = ReportPage(page)
            page.goto(Path(index_html).resolve().as_uri(), wait_until="load")
            yield report
        finally:
            context.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="report folder (or its index.html)")
    parser.add_argument("out", type=Path, help="PNG to write")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument(
        "--colors", type=int, default=0, help="palette PNG with this many colours (smaller file)"
    )
    args = parser.parse_args()
    index = args.report / "index.html" if args.report.is_dir() else args.report
    if not index.is_file():
        print(f"report_screenshot: {index}: not found (run vis-report first)", file=sys.stderr)
        return 1
    try:
        with open_report(index, args.width, args.height) as report:
            states = report.wait_for_videos()
            if any(state < 2 for state in states):
                raise RuntimeError(f"{index}: {states.count(0)} of {len(states)} videos did not decode")
            report.show_middle_frames()
            if report.errors:
                raise RuntimeError(
                    f"{index}: {len(report.errors)} browser error(s), first: {report.errors[0]}"
                )
            args.out.parent.mkdir(parents=True, exist_ok=True)
            report.page.screenshot(path=str(args.out))
        if args.colors:
            from PIL import Image

            Image.open(args.out).convert("RGB").quantize(colors=args.colors).save(args.out, optimize=True)
    except (OSError, ImportError, RuntimeError) as exc:
        print(f"report_screenshot: {exc}", file=sys.stderr)
        return 1
    print(
        f"report_screenshot: wrote {args.out} ({args.out.stat().st_size // 1024} KiB, {len(states)} videos)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
