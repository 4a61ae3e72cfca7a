#!/usr/bin/env python
"""Numerical parity of our SiamMask (resnet50_sharp) with the reference network fixture.

Developer script (needs the fixture files, which are not part of the repository)::

    .venv/bin/python scripts/check_siammask_parity.py --fixture ../shared/siammask/parity_fixture.npz

Builds the deterministic synthetic weights with the fixture's ``make_weights.py`` (imported from the
given path at run time), writes them to a temporary file in the released checkpoint layout
(``{'state_dict': {'module.' + key: tensor}, 'epoch': 0}``, legacy serialization), loads it through
:func:`siammask.load_checkpoint`, runs the reference stateful API (template / track_mask /
track_refine at the best position and the fixture's extra positions) and the batched API, and prints
the max abs difference of every output. Exit status 1 if any output differs by more than
``atol + rtol * |expected|`` or the best position differs; 2 on unusable inputs.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import sys
import tempfile
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

from siammask import build_siammask, count_flops, load_checkpoint

FIXTURE_ARRAYS = (
    "z",
    "x",
    "cls",
    "loc",
    "mask",
    "fg_score",
    "best_pos_yx",
    "refine_best",
    "refine_extra_pos_yx",
    "refine_extra",
)


def _import_make_weights(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("siammask_fixture_make_weights", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"error: {path}: cannot import as a Python module")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "make_state_dict"):
        raise SystemExit(f"error: {path}: has no make_state_dict(keys_json_path, rule) function")
    return module


def _weights_match_checksums(state_dict: dict[str, torch.Tensor], path: Path) -> bool:
    """Compare each generated tensor's float64 sum, abs-sum and first values with the fixture's record."""
    expected = json.loads(path.read_text())
    bad = []
    for key, record in expected.items():
        tensor = state_dict.get(key)
        if tensor is None:
            bad.append(f"{key} (not generated)")
            continue
        flat = tensor.double().flatten()
        got = [flat.sum().item(), flat.abs().sum().item(), *flat[: len(record["first"])].tolist()]
        want = [record["sum"], record["abs_sum"], *record["first"]]
        if not np.allclose(got, want, rtol=1e-6, atol=1e-6):
            bad.append(key)
    print(f"weights checksums ({path.name}): {len(expected) - len(bad)}/{len(expected)} tensors match")
    if bad:
        print("  differing: " + ", ".join(bad[:5]) + (f", ... ({len(bad) - 5} more)" if len(bad) > 5 else ""))
    return not bad


def _fg_score(cls: torch.Tensor) -> torch.Tensor:
    """(1, 10, 25, 25) logits -> (3125,) foreground probability, index a*625 + y*25 + x (as the reference)."""
    return torch.softmax(cls.permute(1, 2, 3, 0).reshape(2, -1).T, dim=1)[:, 1]


def _compare(name: str, got: torch.Tensor, want: np.ndarray, atol: float, rtol: float) -> bool:
    got_np = got.detach().cpu().numpy().astype(np.float64)
    want64 = want.astype(np.float64)
    if got_np.shape != want64.shape:
        print(f"{name:16s} SHAPE MISMATCH ours {got_np.shape} vs fixture {want64.shape}")
        return False
    diff = np.abs(got_np - want64)
    ok = bool(np.all(diff <= atol + rtol * np.abs(want64)))
    print(
        f"{name:16s} max_abs_diff {diff.max():.3e}  (fixture std {want64.std():.3f})  "
        f"{'ok' if ok else 'FAIL'}"
    )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[1], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fixture", type=Path, required=True, help="parity_fixture.npz")
    parser.add_argument("--keys", type=Path, help="keys.json (default: beside the fixture)")
    parser.add_argument("--make-weights", type=Path, help="make_weights.py (default: beside the fixture)")
    parser.add_argument(
        "--checksums", type=Path, help="weights_checksum.json (default: beside the fixture, if there)"
    )
    parser.add_argument("--atol", type=float, default=1e-4)
    parser.add_argument("--rtol", type=float, default=1e-4)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--device", default="cpu", help="torch device to run the model on (e.g. cuda)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    keys_path = args.keys or args.fixture.with_name("keys.json")
    make_weights_path = args.make_weights or args.fixture.with_name("make_weights.py")
    for path in (args.fixture, keys_path, make_weights_path):
        if not path.is_file():
            print(f"error: {path}: file not found", file=sys.stderr)
            return 2
    fixture = np.load(args.fixture)
    absent = [k for k in FIXTURE_ARRAYS if k not in fixture.files]
    if absent:
        print(f"error: {args.fixture}: missing arrays {absent}", file=sys.stderr)
        return 2

    state_dict = _import_make_weights(make_weights_path).make_state_dict(str(keys_path), rule="scaled")
    print(
        f"weights: {len(state_dict)} tensors from {make_weights_path.name} "
        f"({len(json.loads(keys_path.read_text()))} keys in {keys_path.name})"
    )
    checksums_path = args.checksums or args.fixture.with_name("weights_checksum.json")
    if checksums_path.is_file() and not _weights_match_checksums(state_dict, checksums_path):
        print("PARITY FAILED: this torch generates different synthetic weights (randn) than the fixture's")
        return 1
    model = build_siammask("resnet50_sharp").to(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "SiamMask_synthetic.pth"
        torch.save(
            {"state_dict": {"module." + k: v for k, v in state_dict.items()}, "epoch": 0},
            ckpt,
            _use_new_zipfile_serialization=False,
        )  # legacy format, like the released files
        load_checkpoint(model, ckpt)
    loaded = model.state_dict()
    assert all(torch.equal(loaded[k].cpu(), v) for k, v in state_dict.items()), (
        "loaded tensors differ from make_state_dict"
    )

    dev = torch.device(args.device)
    z = torch.from_numpy(fixture["z"]).to(dev)
    x = torch.from_numpy(fixture["x"]).to(dev)
    best_yx = tuple(int(v) for v in fixture["best_pos_yx"])
    extra_yx = [tuple(int(v) for v in p) for p in fixture["refine_extra_pos_yx"]]
    atol, rtol = args.atol, args.rtol
    ok = True
    with torch.no_grad():
        print("-- stateful reference API (template / track_mask / track_refine)")
        model.template(z)
        cls, loc, mask = model.track_mask(x)
        fg = _fg_score(cls)
        ok &= _compare("cls", cls, fixture["cls"], atol, rtol)
        ok &= _compare("loc", loc, fixture["loc"], atol, rtol)
        ok &= _compare("mask", mask, fixture["mask"], atol, rtol)
        ok &= _compare("fg_score", fg, fixture["fg_score"], atol, rtol)
        best = int(torch.argmax(fg))
        ours_yx = ((best % 625) // 25, best % 25)
        same_best = ours_yx == best_yx
        print(
            f"best position    ours (y, x) = {ours_yx} anchor {best // 625}, fixture {best_yx}  "
            f"{'ok' if same_best else 'FAIL'}"
        )
        ok &= same_best
        ok &= _compare("refine_best", model.track_refine(best_yx), fixture["refine_best"], atol, rtol)
        extra = torch.cat([model.track_refine(p) for p in extra_yx])
        ok &= _compare("refine_extra", extra, fixture["refine_extra"], atol, rtol)

        print("-- batched API (template_kernels / search / refine_at), batch of 2 copies")
        kernels = model.template_kernels(torch.cat([z, z]))
        out = model.search(torch.cat([x, x]), kernels, with_mask_head=True)
        assert out.mask is not None
        for i in range(2):
            ok &= _compare(f"cls[{i}]", out.cls[i : i + 1], fixture["cls"], atol, rtol)
            ok &= _compare(f"loc[{i}]", out.loc[i : i + 1], fixture["loc"], atol, rtol)
            ok &= _compare(f"mask[{i}]", out.mask[i : i + 1], fixture["mask"], atol, rtol)
        refined = model.refine_at(out, [best_yx, extra_yx[0]])
        ok &= _compare("refine_at best", refined[:1], fixture["refine_best"], atol, rtol)
        ok &= _compare("refine_at extra0", refined[1:], fixture["refine_extra"][:1], atol, rtol)
        out1 = model.search(x, kernels[0])
        # the same search output repeated, refined at all extra positions in one batched call
        repeated = {
            f: getattr(out1, f).expand(len(extra_yx), -1, -1, -1) for f in ("mask_corr", "p0", "p1", "p2")
        }
        refined_extra = model.refine_at(dataclasses.replace(out1, **repeated), extra_yx)
        ok &= _compare("refine_at extras", refined_extra, fixture["refine_extra"], atol, rtol)

    print("-- GFLOPs (2 FLOPs per multiply-accumulate), resnet50_sharp, 127 template / 255 search")
    for part, gflops in count_flops(model).items():
        print(f"{part:24s} {gflops:8.3f}")
    print("PARITY OK" if ok else "PARITY FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
