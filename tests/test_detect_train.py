"""vis-train-detector: the tiny HTC trained by the command on a tiny synthetic set, then used by vis-run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import cli, make_synth
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from vis_pipeline.cli import CONFIG_DIR
from vis_pipeline.detect.coco_convert import ConversionError

# 3 short videos at a small size: enough for 2 training iterations and a one-video validation split
SYNTH = {"width": 160, "height": 96, "frames": 4, "objects_range": (1, 2)}
TRAIN_SEED = 2001  # synthetic seeds 2000-2999 are the detector-training range
R50_MMDET = Path(CONFIG_DIR) / "detector" / "mmdet" / "htc_r50_ytvis2019.py"
CLASSES = ["disc", "square", "triangle", "star", "ring", "cross"]


def train_overrides(data: Path, out: Path, cache: Path, *extra: str, iters: int = 2) -> list[str]:
    return [
        "detector=tiny_htc",
        f"data.ann={data / 'annotations.json'}",
        f"data.frames={data / 'JPEGImages'}",
        f"out={out}",
        f"cache_dir={cache}",
        f"train.iters={iters}",
        "train.checkpoint_interval=1",
        "train.log_interval=1",
        *extra,
    ]


def compose_train_cfg(overrides: list[str]) -> dict:
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base=None):
        cfg = compose(config_name="train_detector", overrides=overrides)
    plain = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(plain, dict)
    return plain


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("train_detector")
    data = make_synth(root / "synth", videos=3, seed=TRAIN_SEED, **SYNTH)
    run, cache = root / "run", root / "cache"
    proc = cli("vis_pipeline.cli.train_detector", train_overrides(data, run, cache, "data.val_videos=1"), 300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"data": data, "run": run, "cache": cache, "stdout": proc.stdout}


def test_train_writes_weights_only_detector_with_class_names(trained) -> None:
    run = trained["run"]
    ckpt = torch.load(run / "detector.pth", map_location="cpu", weights_only=True)  # no pickled objects
    assert ckpt["meta"]["dataset_meta"]["classes"] == CLASSES
    assert ckpt["meta"]["iter"] == 2
    assert ckpt["state_dict"]["roi_head.bbox_head.2.fc_cls.weight"].shape == (len(CLASSES) + 1, 128)
    assert ckpt["state_dict"]["roi_head.bbox_head.2.fc_cls.weight"].dtype == torch.float16
    split = json.loads((run / "split.json").read_text())
    assert len(split["val_videos"]) == 1 and len(split["train_videos"]) == 2
    assert split["train_images"] == 2 * 2  # 4 frames per video, stride 3 -> frames 0 and 3
    metrics = json.loads((run / "metrics.json").read_text())  # mmdet's CocoMetric on the held-out video
    assert 0.0 <= metrics["coco/segm_mAP"] <= 1.0 and 0.0 <= metrics["coco/bbox_mAP"] <= 1.0
    (folder,) = trained["cache"].iterdir()
    assert {p.name for p in folder.iterdir()} == {"train.json", "val.json"}
    assert "wrote" in trained["stdout"] and "detector.pth" in trained["stdout"]


def test_vis_run_uses_the_trained_checkpoint_and_rejects_other_class_names(trained, tmp_path: Path) -> None:
    from vis_pipeline.detect.base import CheckpointMismatchError
    from vis_pipeline.detect.htc import HTCDetector

    data, run = trained["data"], trained["run"]
    args = [
        f"data.frames={data / 'JPEGImages'}",
        f"data.ann={data / 'annotations.json'}",
        "detector=tiny_htc",
        f"detector.checkpoint={run / 'detector.pth'}",
        "tracker=tiny",
        "tracker.checkpoint=null",
        "cache_dir=null",
        "progress=false",
        "threads=1",
        f"hydra.run.dir={tmp_path / 'vis'}",
    ]
    proc = cli("vis_pipeline.cli.run", args, 300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((tmp_path / "vis" / "run_summary.json").read_text())
    assert summary["config"]["detector"]["checkpoint"] == str(run / "detector.pth")
    assert (tmp_path / "vis" / "metrics.json").is_file()  # scored against the synthetic GT

    # vis-run turns a detector error into one line (tests/test_bad_inputs_config.py); the error itself:
    ckpt = torch.load(run / "detector.pth", map_location="cpu", weights_only=True)
    ckpt["meta"]["dataset_meta"]["classes"] = [*CLASSES[:5], "banana"]
    renamed = tmp_path / "renamed.pth"
    torch.save(ckpt, renamed)
    detector_cfg = compose_train_cfg(train_overrides(data, run, tmp_path))["detector"]
    with pytest.raises(
        CheckpointMismatchError, match="class 5 is 'banana', the config expects 'cross'"
    ) as err:
        HTCDetector.from_config({**detector_cfg, "checkpoint": str(renamed), "device": "cpu"})
    assert str(renamed) in str(err.value) and "\n" not in str(err.value)


def test_rerun_resumes_from_the_last_checkpoint(trained, capsys) -> None:
    from vis_pipeline.detect.train import train_detector

    run, cache = trained["run"], trained["cache"]
    (folder,) = cache.iterdir()
    cached = (folder / "train.json").stat().st_mtime_ns
    cfg = compose_train_cfg(train_overrides(trained["data"], run, cache, "data.val_videos=1", iters=3))
    result = train_detector(cfg)
    assert "resuming from" in capsys.readouterr().out
    assert result.iters == 3
    assert torch.load(run / "detector.pth", weights_only=True)["meta"]["iter"] == 3
    assert (folder / "train.json").stat().st_mtime_ns == cached  # conversion reused (keyed by content)


def test_bad_training_sets_fail_before_training(tmp_path: Path) -> None:
    from vis_pipeline.detect.train import train_detector

    data = make_synth(tmp_path / "synth", videos=2, seed=TRAIN_SEED + 1, **SYNTH)
    ann = json.loads((data / "annotations.json").read_text())

    def attempt(name: str, gt: dict, match: str) -> None:
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(gt))
        overrides = train_overrides(data, tmp_path / f"run_{name}", tmp_path / "cache")
        overrides[1] = f"data.ann={path}"
        with pytest.raises(ConversionError, match=match) as err:
            train_detector(compose_train_cfg(overrides))
        assert str(path) in str(err.value) or str(data / "JPEGImages") in str(err.value)
        assert "\n" not in str(err.value)
        assert not (tmp_path / f"run_{name}" / "detector.pth").exists()

    attempt("no_annotations", {**ann, "annotations": []}, "no annotations")
    extra = [*ann["categories"], {"id": 7, "name": "extra"}]
    attempt("seven_categories", {**ann, "categories": extra}, "7 categories, the detector config has 6")
    renamed = [dict(c) for c in ann["categories"]]
    renamed[2]["name"] = "banana"
    attempt("renamed", {**ann, "categories": renamed}, "category 3 is 'banana'")
    first = ann["videos"][0]["file_names"][0]
    (data / "JPEGImages" / first).unlink()
    attempt("missing_frame", ann, f"missing on disk \\(first: {first}\\)")


def test_mmdet_1x_schedule_is_stretched_onto_the_iterations(tmp_path: Path, monkeypatch) -> None:
    """htc_r50_ytvis2019 inherits mmdet's epoch-based 1x; the Runner gets it per iteration."""
    from mmengine.config import Config

    from vis_pipeline.detect.base import DetectorConfigError
    from vis_pipeline.detect.coco_convert import CocoSplit
    from vis_pipeline.detect.train import TrainSettings, configure_runner, iterations

    cfg = compose_train_cfg(
        ["detector=htc_r50_ytvis2019", "data.ann=a.json", "data.frames=f", f"out={tmp_path}"]
    )
    settings = TrainSettings.from_config(cfg["train"])
    recipe = (settings.epochs, settings.base_batch_size, settings.lr, settings.frame_stride)
    assert recipe == (12, 16, 0.02, 5)  # mmdet's 1x, every 5th frame
    iters = iterations(settings, train_images=1000, world_size=8)  # 12 epochs x 1000 frames / (8 x 2)
    assert iters == 750
    mmdet_cfg = Config.fromfile(str(R50_MMDET))
    split = CocoSplit(tmp_path / "train.json", tmp_path / "val.json", tmp_path, (1,), (2,), {})
    configure_runner(mmdet_cfg, split, list(mmdet_cfg.classes), settings, iters, tmp_path, "pytorch")
    warmup, steps = mmdet_cfg.param_scheduler
    assert (warmup.type, warmup.end, warmup.by_epoch) == ("LinearLR", 500, False)  # kept: 500 iterations
    assert (steps.milestones, steps.end, steps.by_epoch) == ([500, 688], 750, False)  # epochs 8, 11 of 12
    assert mmdet_cfg.train_cfg == {"type": "IterBasedTrainLoop", "max_iters": 750, "val_interval": 2000}
    assert mmdet_cfg.auto_scale_lr == {"enable": True, "base_batch_size": 16}
    assert mmdet_cfg.val_evaluator.metric == ["bbox", "segm"] and mmdet_cfg.launcher == "pytorch"
    assert mmdet_cfg.train_dataloader.dataset.metainfo["classes"][5] == "sedan"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    amp = TrainSettings.from_config({**cfg["train"], "amp": True})
    with pytest.raises(DetectorConfigError, match="train.amp=true needs a CUDA GPU"):
        configure_runner(
            Config.fromfile(str(R50_MMDET)), split, list(mmdet_cfg.classes), amp, iters, tmp_path, "none"
        )


def test_fine_tune_starts_from_a_same_class_detector_and_refuses_others(trained, tmp_path: Path) -> None:
    """detector=tiny_htc_ms fine-tunes a tiny_htc checkpoint (train.init_remap null): at lr 0 the
    exported weights are exactly the initial ones; a checkpoint of other classes fails before training."""
    from vis_pipeline.detect.base import DetectorConfigError
    from vis_pipeline.detect.train import train_detector

    init = trained["run"] / "detector.pth"
    overrides = train_overrides(trained["data"], tmp_path / "ft", trained["cache"], iters=1)
    overrides = [o.replace("detector=tiny_htc", "detector=tiny_htc_ms") for o in overrides]
    cfg = compose_train_cfg([*overrides, f"train.init_checkpoint={init}", "train.lr=0"])
    assert cfg["detector"]["test_scale"] == [640, 360] and cfg["train"]["init_remap"] is None
    train_detector(cfg)
    start = torch.load(init, weights_only=True)["state_dict"]
    tuned = torch.load(tmp_path / "ft" / "detector.pth", weights_only=True)["state_dict"]
    assert start.keys() == tuned.keys()
    learned = [k for k in start if start[k].is_floating_point() and "running_" not in k]  # BN stats move
    assert len(learned) > 100 and all(torch.equal(start[k], tuned[k]) for k in learned)

    ckpt = torch.load(init, weights_only=True)
    ckpt["meta"]["dataset_meta"]["classes"] = [*CLASSES[:5], "banana"]
    torch.save(ckpt, tmp_path / "other.pth")
    cfg = compose_train_cfg([*overrides, f"train.init_checkpoint={tmp_path / 'other.pth'}"])
    cfg["out"] = str(tmp_path / "ft2")
    with pytest.raises(DetectorConfigError, match="are not the config's"):
        train_detector(cfg)
    assert not (tmp_path / "ft2" / "detector.pth").exists()
