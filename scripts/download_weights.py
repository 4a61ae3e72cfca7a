"""Download released checkpoints: mmdet's HTC models (COCO) and the SiamMask sharp models.

    .venv/bin/python scripts/download_weights.py htc_r50_fpn_1x_coco siammask_davis
    .venv/bin/python scripts/download_weights.py --list

HTC URLs come from the installed mmdet's metafile (``mmdet/.mim/configs/htc/metafile.yml``);
each file is checked against the sha256 prefix in its name. SiamMask files have no published
checksum: they are checked by their key layout (the 356 keys/shapes of the released sharp
ResNet-50 model). Downloads resume from ``<file>.part`` after an interruption. Files go to
``weights/`` (the default paths of configs/detector/*.yaml).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vis_pipeline.detect.checkpoints import mmdet_configs_dir
from vis_pipeline.detect.download import DownloadError, download_file, sha256_prefix_from_name

SIAMMASK_URLS = {
    "siammask_davis": "http://www.robots.ox.ac.uk/~qwang/SiamMask_DAVIS.pth",
    "siammask_vot": "http://www.robots.ox.ac.uk/~qwang/SiamMask_VOT.pth",
}
SIAMMASK_NUM_KEYS = 356


def htc_catalogue() -> dict[str, str]:
    """{mmdet model name: weights URL} from the installed mmdet's HTC metafile."""
    import yaml

    metafile = mmdet_configs_dir() / "htc" / "metafile.yml"
    models = yaml.safe_load(metafile.read_text())["Models"]
    return {m["Name"]: m["Weights"] for m in models if m.get("Weights")}


def verify_siammask(path: Path) -> None:
    """Check a SiamMask file against the released sharp model's key layout (raises on mismatch)."""
    from siammask.checkpoint import check_state_dict, read_checkpoint
    from siammask.model import build_siammask

    state_dict, _ = read_checkpoint(path)
    if len(state_dict) != SIAMMASK_NUM_KEYS:
        raise DownloadError(f"{path}: {len(state_dict)} keys, the released SiamMask has {SIAMMASK_NUM_KEYS}")
    check_state_dict(build_siammask("resnet50_sharp"), state_dict, str(path))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("models", nargs="*", help="model names (see --list)")
    parser.add_argument("--out", default="weights", help="target folder (default: weights/)")
    parser.add_argument("--timeout", type=float, default=30.0, help="network timeout in seconds")
    parser.add_argument("--list", action="store_true", help="list the known models and their URLs")
    args = parser.parse_args(argv)

    catalogue = {**htc_catalogue(), **SIAMMASK_URLS}
    if args.list or not args.models:
        for name, url in catalogue.items():
            print(f"{name:60s} {url}")
        return 0
    unknown = [m for m in args.models if m not in catalogue]
    if unknown:
        print(f"download_weights: unknown model(s) {unknown}; see --list", file=sys.stderr)
        return 2
    failures = 0
    for name in args.models:
        url = catalogue[name]
        dest = Path(args.out) / url.rsplit("/", 1)[-1]
        if dest.exists():
            print(f"[download] {name}: {dest} exists, skipped")
            continue
        try:
            download_file(url, dest, timeout=args.timeout, sha256_prefix=sha256_prefix_from_name(url))
            if name in SIAMMASK_URLS:
                try:
                    verify_siammask(dest)
                except (DownloadError, RuntimeError, ValueError):
                    dest.unlink()  # never leave an unverified file where the configs look for it
                    raise
            print(f"[download] {name}: {dest}")
        except (DownloadError, RuntimeError, ValueError) as err:  # one line per model, then the next
            print(f"[download] {name}: FAILED: {err}", file=sys.stderr)
            failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
