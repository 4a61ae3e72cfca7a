"""Resumable HTTP(S) download of checkpoint files (used by ``scripts/download_weights.py``).

The file is written to ``<dest>.part``; a rerun after an interruption asks the server for the
remaining bytes (HTTP ``Range``) and appends them. Only when the file is complete and its hash
checks out is it renamed to ``dest`` (``os.replace``), so ``dest`` never holds a partial file.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import urllib.error
import urllib.request
from pathlib import Path

_CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """A download failed (network, HTTP status, size or checksum); one-line message."""


def sha256_prefix_from_name(url_or_name: str) -> str | None:
    """The hash in an OpenMMLab checkpoint file name (``<name>_<date>-<8 hex>.pth``), or None.

    OpenMMLab names released files by the first 8 hex digits of their sha256.
    """
    match = re.search(r"-([0-9a-f]{8})\.pth$", url_or_name)
    return match.group(1) if match else None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_file(
    url: str,
    dest: Path,
    timeout: float = 30.0,
    sha256_prefix: str | None = None,
    progress: bool = True,
) -> Path:
    """Download ``url`` to ``dest`` (resuming ``dest.part`` if present); returns ``dest``.

    Raises DownloadError naming the URL, the destination and the reason.
    """
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    have = part.stat().st_size if part.exists() else 0
    total_bytes: int | None = None
    request = urllib.request.Request(url, headers={"User-Agent": "vis-siammask-download/1"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = getattr(response, "status", 200)
            if have and status != 206:  # server ignored the Range header: start over
                have = 0
            total = response.headers.get("Content-Length")
            total_bytes = int(total) + have if total is not None else None
            _stream(response, part, append=bool(have), total=total_bytes, progress=progress, name=dest.name)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # requested range not satisfiable: .part already complete
            pass
        else:
            raise DownloadError(f"cannot download {url} to {dest}: HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, http.client.HTTPException, TimeoutError, OSError) as err:
        reason = getattr(err, "reason", err)
        kept = f"; the partial file {part.name} is resumed next time" if part.exists() else ""
        raise DownloadError(
            f"cannot download {url} to {dest}: {reason} "
            f"(no network? fetch it by hand and put it at {dest}{kept})"
        ) from None
    if total_bytes is not None and part.stat().st_size != total_bytes:
        raise DownloadError(
            f"{url}: incomplete download ({part.stat().st_size} of {total_bytes} bytes in {part}); "
            "rerun to resume"
        )
    if sha256_prefix is not None:
        digest = file_sha256(part)
        if not digest.startswith(sha256_prefix):
            part.unlink()
            raise DownloadError(
                f"{url}: sha256 {digest[:8]}... does not start with {sha256_prefix}; removed the download"
            )
    os.replace(part, dest)
    return dest


def _stream(response, part: Path, append: bool, total: int | None, progress: bool, name: str) -> None:
    from tqdm import tqdm

    initial = part.stat().st_size if append else 0
    with (
        open(part, "ab" if append else "wb") as f,
        tqdm(total=total, initial=initial, unit="B", unit_scale=True, desc=name, disable=not progress) as bar,
    ):
        for chunk in iter(lambda: response.read(_CHUNK), b""):
            f.write(chunk)
            bar.update(len(chunk))
