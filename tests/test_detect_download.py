"""Checkpoint download: clear failure without network, resume via HTTP Range, hash check."""

from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from vis_pipeline.detect.download import DownloadError, download_file, sha256_prefix_from_name

PAYLOAD = bytes(range(256)) * 400  # 102400 bytes


class RangeHandler(BaseHTTPRequestHandler):
    """Serves PAYLOAD, honouring 'Range: bytes=N-'; records the ranges asked for."""

    ranges: list[str | None] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        asked = self.headers.get("Range")
        RangeHandler.ranges.append(asked)
        start = int(asked.split("=")[1].rstrip("-")) if asked else 0
        body = PAYLOAD[start:]
        self.send_response(206 if asked else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture()
def server():
    RangeHandler.ranges = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_unreachable_url_fails_with_one_clear_line(tmp_path: Path) -> None:
    dest = tmp_path / "w" / "model.pth"
    with pytest.raises(DownloadError) as err:
        download_file("http://127.0.0.1:9/model.pth", dest, timeout=2, progress=False)
    message = str(err.value)
    assert "http://127.0.0.1:9/model.pth" in message and str(dest) in message and "\n" not in message
    assert not dest.exists()


def test_resume_appends_missing_bytes(tmp_path: Path, server: str) -> None:
    dest = tmp_path / "model-abc.pth"
    dest.with_name(dest.name + ".part").write_bytes(PAYLOAD[:1000])  # an interrupted earlier run
    prefix = hashlib.sha256(PAYLOAD).hexdigest()[:8]
    download_file(f"{server}/model.pth", dest, timeout=5, sha256_prefix=prefix, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert RangeHandler.ranges == ["bytes=1000-"]
    assert not dest.with_name(dest.name + ".part").exists()


def test_hash_mismatch_removes_download(tmp_path: Path, server: str) -> None:
    dest = tmp_path / "model.pth"
    with pytest.raises(DownloadError, match="does not start with 00000000"):
        download_file(f"{server}/model.pth", dest, timeout=5, sha256_prefix="00000000", progress=False)
    assert not dest.exists() and not dest.with_name("model.pth.part").exists()


def test_sha256_prefix_from_openmmlab_name() -> None:
    url = "https://x/htc_r50_fpn_1x_coco/htc_r50_fpn_1x_coco_20200317-7332cf16.pth"
    assert sha256_prefix_from_name(url) == "7332cf16"
    assert sha256_prefix_from_name("SiamMask_DAVIS.pth") is None
