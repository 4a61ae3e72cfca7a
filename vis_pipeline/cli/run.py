"""``vis-run``: the multi-object VIS pipeline over a folder of videos (hydra CLI).

vis-run data.frames=DIR [data.ann=GT.json] detector=tiny_htc_ms4 tracker=tiny tracker.cascade=two_stage
vis-run -m tracker.cascade=one_stage,two_stage ...      # the ablation sweep (vis-ablate reads it)
"""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import CompactHydraException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from vis_pipeline.cli import CONFIG_DIR
from vis_pipeline.pipeline import RunFailed, run_pipeline
from vis_pipeline.settings import SettingsError


def _dataset_name(frames: str) -> str:
    """Folder name of the frames root; for `<set>/JPEGImages` the set's name."""
    path = Path(str(frames)).expanduser()
    name = path.name or path.resolve().name
    return (
        path.parent.name if name.lower() in ("jpegimages", "frames", "images") and path.parent.name else name
    )


def _shard_suffix(index: int, count: int) -> str:
    return "" if int(count) <= 1 else f"-shard{int(index)}of{int(count)}"


def register_resolvers() -> None:
    """Resolvers used by configs/run.yaml and configs/data/*.yaml (idempotent)."""
    OmegaConf.register_new_resolver("vis_dataset_name", _dataset_name, replace=True)
    OmegaConf.register_new_resolver("vis_shard_suffix", _shard_suffix, replace=True)


register_resolvers()


def compose_run_cfg(overrides: list[str], with_hydra: bool = False) -> DictConfig:
    """``configs/run.yaml`` with ``overrides`` as vis-run sees it, outside a hydra app (scripts, tests,
    preflight); ``with_hydra`` keeps the ``hydra`` node (run directory)."""
    from hydra import compose, initialize_config_dir

    register_resolvers()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base=None):
        return compose("run", list(overrides), return_hydra_config=with_hydra)


class SweepJobFailed(CompactHydraException):
    """A multirun job (shard / ablation point) whose run failed; hydra prints only the message."""


@hydra.main(version_base=None, config_path=CONFIG_DIR, config_name="run")
def main(cfg: DictConfig) -> None:
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    try:
        run_pipeline(cfg, run_dir)
    except KeyboardInterrupt:
        done = len(list((run_dir / "videos").glob("*.json"))) if (run_dir / "videos").is_dir() else 0
        print(
            f"vis-run: interrupted; {done} finished video(s) kept in {run_dir}, rerun to resume",
            file=sys.stderr,
        )
        sys.exit(130)
    except SettingsError as exc:  # checked before any work: nothing was started
        print(f"vis-run: {exc}", file=sys.stderr)
        if hydra_cfg.mode == RunMode.MULTIRUN:
            raise SweepJobFailed(f"vis-run ({run_dir}): {exc}") from None
        sys.exit(2)
    except RunFailed as exc:
        print(f"vis-run: {exc}", file=sys.stderr)
        if hydra_cfg.mode == RunMode.MULTIRUN:
            # sys.exit in a job would stop the sweep (and the joblib pool kills the other shards
            # mid-video); an exception marks only this job failed, hydra exits 1 after all jobs.
            raise SweepJobFailed(f"vis-run ({run_dir}): {exc}") from None
        sys.exit(1)


def preflight(argv: list[str]) -> None:
    """Before hydra starts (and creates the run directory): every setting checked and the run
    directory created, each problem one line and exit 2. Sweeps (``-m``) and hydra's own flags
    (``--cfg job``, ``--help``) go straight to hydra; so do overrides hydra itself must report."""
    from vis_pipeline.build import check_run_settings

    if any(arg.startswith("-") for arg in argv):
        return
    try:
        cfg = compose_run_cfg(argv, with_hydra=True)
        run_dir = Path(str(OmegaConf.select(cfg, "hydra.run.dir")))
    except Exception:  # hydra reports bad overrides itself, in its words
        return
    try:
        check_run_settings(OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"]))
        run_dir.mkdir(parents=True, exist_ok=True)
    except SettingsError as exc:
        print(f"vis-run: {exc}", file=sys.stderr)
        sys.exit(2)
    except OSError as exc:
        print(f"vis-run: {run_dir}: cannot create the run directory ({exc.strerror or exc})", file=sys.stderr)
        sys.exit(2)


def entry() -> None:
    """The ``vis-run`` console script: :func:`preflight`, then the hydra app."""
    preflight(sys.argv[1:])
    main()


if __name__ == "__main__":
    entry()
