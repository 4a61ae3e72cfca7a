"""``hydra/launcher=vis_ray``: the jobs of a vis-run sweep (shards) as Ray tasks on a running cluster.

Hydra instantiates launchers only from the ``hydra_plugins`` namespace, so the class lives here and
stays thin; the work is in :mod:`vis_pipeline.ray_shards`, imported on launch so that no other vis-run
imports Ray (or needs it installed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hydra.core.utils import JobReturn
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


class VisRayLauncher(Launcher):
    """Keys of configs/hydra/launcher/vis_ray.yaml: ``address``, ``remote``, ``check_resources``,
    ``connect_timeout_s``."""

    def __init__(self, address: str, remote: Any, check_resources: bool, connect_timeout_s: float) -> None:
        self.launcher_node = {
            "address": address,
            "remote": remote,
            "check_resources": check_resources,
            "connect_timeout_s": connect_timeout_s,
        }
        self.hydra_context: HydraContext | None = None
        self.task_function: TaskFunction | None = None
        self.config: DictConfig | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.hydra_context = hydra_context
        self.task_function = task_function
        self.config = config

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from vis_pipeline.ray_shards import launch_on_ray, settings_from

        assert self.hydra_context is not None and self.task_function is not None and self.config is not None
        return launch_on_ray(
            settings_from(self.launcher_node),
            self.hydra_context,
            self.config,
            self.task_function,
            job_overrides,
            initial_job_idx,
        )
