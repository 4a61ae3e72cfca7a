"""Sharded ``vis-run`` on an existing Ray cluster: one Ray task per hydra job (``hydra/launcher=vis_ray``).

The hydra launcher class is ``hydra_plugins.vis_ray_launcher.VisRayLauncher`` (hydra instantiates
launchers only from the ``hydra_plugins`` namespace); it hands every sweep to :func:`launch_on_ray`.

Why not hydra-ray-launcher: 1.2.2 pins ``cloudpickle<3`` (joblib 1.6, which the joblib launcher
installs, needs ``>=3``), adds boto3, passes ``object_store_memory`` to ``ray.init``, which Ray refuses
when connecting to a running cluster, and runs jobs in the cwd of ``ray start`` (so relative paths
such as the default ``hydra.sweep.dir`` land elsewhere). Here each task first enters the driver's
working directory, so the cluster must see the data and output folders at the same paths (one
machine, or a shared filesystem).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ray
from hydra.core.hydra_config import HydraConfig
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides, run_job, setup_globals
from hydra.errors import CompactHydraException
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict

log = logging.getLogger(__name__)

# Config keys of vis-run that put a network on a GPU (a shard then needs a reserved GPU).
DEVICE_KEYS = ("device", "detector.device")


class RayLaunchError(CompactHydraException):
    """A sweep that cannot run on the cluster, or a shard task that died there (hydra prints the line)."""


@dataclass(frozen=True)
class RayShardSettings:
    """``hydra.launcher.*`` of configs/hydra/launcher/vis_ray.yaml."""

    address: str
    remote: dict[str, Any]  # ray.remote options of each shard task
    check_resources: bool
    connect_timeout_s: float

    @property
    def num_cpus(self) -> float:
        return float(self.remote.get("num_cpus", 1))  # Ray's default for a task

    @property
    def num_gpus(self) -> float:
        return float(self.remote.get("num_gpus") or 0)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def reachable_address(address: str, timeout_s: float) -> str:
    """``address`` as HOST:PORT (``auto``: the cluster `ray start` started here, or $RAY_ADDRESS), once its
    port answers: ray.init would retry an unreachable address for many minutes."""
    from ray._private.services import canonicalize_bootstrap_address_or_die  # Ray's own "auto" lookup

    hint = "start one first, e.g. `ray start --head --port=6379 --num-cpus=2`"
    try:
        resolved = canonicalize_bootstrap_address_or_die(address)
    except (ConnectionError, ValueError) as exc:
        raise RayLaunchError(f"hydra.launcher.address={address}: {first_line(exc)}; {hint}") from None
    host, _, port = resolved.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            pass
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or first_line(exc)
        raise RayLaunchError(
            f"hydra.launcher.address={address}: no Ray cluster answers at {resolved} ({reason}); {hint}"
        ) from None
    return resolved


def connect(settings: RayShardSettings) -> str:
    """Join the running cluster (returns its HOST:PORT); never start a new one (a bare ``ray.init()``
    would)."""
    address = reachable_address(settings.address, settings.connect_timeout_s)
    try:
        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=True)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
        raise RayLaunchError(
            f"hydra.launcher.address={settings.address}: cannot join the Ray cluster at {address} "
            f"({first_line(exc)})"
        ) from None
    return address


def check_resources(settings: RayShardSettings) -> None:
    """Fail now, in one line, if no live node can ever run a shard task (Ray would wait forever)."""
    nodes = [node["Resources"] for node in ray.nodes() if node.get("Alive")]
    need_cpu, need_gpu = settings.num_cpus, settings.num_gpus
    if any(r.get("CPU", 0) >= need_cpu and r.get("GPU", 0) >= need_gpu for r in nodes):
        return
    most_cpu = max((r.get("CPU", 0) for r in nodes), default=0)
    most_gpu = max((r.get("GPU", 0) for r in nodes), default=0)
    raise RayLaunchError(
        f"hydra.launcher.remote asks num_cpus={need_cpu:g} num_gpus={need_gpu:g} per shard, but no node of "
        f"the Ray cluster at {settings.address} has that (at most CPU {most_cpu:g}, GPU {most_gpu:g} on a "
        "node); lower hydra.launcher.remote.num_cpus/num_gpus, or set hydra.launcher.check_resources=false "
        "on an autoscaling cluster"
    )


def check_devices(sweep_config: DictConfig, settings: RayShardSettings) -> None:
    """A CUDA job must reserve a GPU: with num_gpus=0 Ray would pile every shard onto the same cards."""
    on_cuda = [
        k for k in DEVICE_KEYS if str(OmegaConf.select(sweep_config, k, default="")).startswith("cuda")
    ]
    if on_cuda and settings.num_gpus <= 0:
        raise RayLaunchError(
            f"{'/'.join(on_cuda)}=cuda with hydra.launcher.remote.num_gpus=0: Ray would not reserve a GPU "
            "per shard; set hydra.launcher.remote.num_gpus=1 (or a fraction to share cards on purpose)"
        )


def _run_job_in_driver_cwd(
    hydra_context: HydraContext,
    sweep_config: DictConfig,
    task_function: TaskFunction,
    singleton_state: dict[Any, Any],
    driver_cwd: str,
) -> JobReturn:
    """Body of a shard task on a Ray worker: enter the driver's cwd, restore hydra's state, run the job."""
    try:
        os.chdir(driver_cwd)
    except OSError as exc:
        raise RayLaunchError(
            f"node {ray.util.get_node_ip_address()} cannot enter {driver_cwd} ({exc.strerror}); Ray shards "
            "need the data and output folders at the same paths as on the machine running vis-run"
        ) from None
    setup_globals()
    Singleton.set_state(singleton_state)
    HydraConfig.instance().set_config(sweep_config)
    return run_job(
        hydra_context=hydra_context,
        task_function=task_function,
        config=sweep_config,
        job_dir_key="hydra.sweep.dir",
        job_subdir_key="hydra.sweep.subdir",
    )


def sweep_configs(
    hydra_context: HydraContext, config: DictConfig, job_overrides: Sequence[Sequence[str]], first_idx: int
) -> list[DictConfig]:
    """One composed config per job, numbered like hydra's joblib launcher numbers them."""
    configs = []
    for idx, overrides in enumerate(job_overrides, start=first_idx):
        sweep_config = hydra_context.config_loader.load_sweep_config(config, list(overrides))
        with open_dict(sweep_config):
            sweep_config.hydra.job.id = f"{sweep_config.hydra.job.name}_{idx}"
            sweep_config.hydra.job.num = idx
        configs.append(sweep_config)
    return configs


def collect(ref: ray.ObjectRef, sweep_config: DictConfig, overrides: Sequence[str]) -> JobReturn:
    """The job's JobReturn; a task that died on the cluster becomes a FAILED one (hydra exits 1 after
    all jobs), so one lost shard does not hide the others' results."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayError as exc:
        cause = exc.cause if isinstance(exc, ray.exceptions.RayTaskError) and exc.cause else exc
        error = RayLaunchError(
            f"vis-run shard job #{sweep_config.hydra.job.num} ({' '.join(filter_overrides(overrides))}) "
            f"failed on the Ray cluster: {first_line(cause)}"
        )
        return JobReturn(
            overrides=list(overrides), cfg=sweep_config, status=JobStatus.FAILED, _return_value=error
        )


def launch_on_ray(
    settings: RayShardSettings,
    hydra_context: HydraContext,
    config: DictConfig,
    task_function: TaskFunction,
    job_overrides: Sequence[Sequence[str]],
    initial_job_idx: int,
) -> list[JobReturn]:
    """Run every job of the sweep as one Ray task; wait for all; return their JobReturns in order."""
    configs = sweep_configs(hydra_context, config, job_overrides, initial_job_idx)
    for sweep_config in configs:
        check_devices(sweep_config, settings)
    address = connect(settings)
    try:
        if settings.check_resources:
            check_resources(settings)
        log.info(
            "Ray cluster %s: %d job(s), %s each; sweep dir %s",
            address,
            len(configs),
            settings.remote,
            config.hydra.sweep.dir,
        )
        try:
            task = ray.remote(**settings.remote)(_run_job_in_driver_cwd)
        except (TypeError, ValueError) as exc:
            raise RayLaunchError(f"hydra.launcher.remote={settings.remote}: {first_line(exc)}") from None
        state = ray.put(Singleton.get_state())
        refs = []
        for sweep_config, overrides in zip(configs, job_overrides, strict=True):
            log.info("\t#%d : %s", sweep_config.hydra.job.num, " ".join(filter_overrides(overrides)))
            refs.append(task.remote(hydra_context, sweep_config, task_function, state, os.getcwd()))
        try:
            return [collect(*job) for job in zip(refs, configs, job_overrides, strict=True)]
        except KeyboardInterrupt:
            for ref in refs:
                ray.cancel(ref, force=True)
            raise
    finally:
        ray.shutdown()


def settings_from(launcher_node: Mapping[str, Any]) -> RayShardSettings:
    """Settings from the launcher's keys as hydra instantiated it (``remote`` may be a DictConfig)."""
    remote = launcher_node.get("remote") or {}
    if isinstance(remote, DictConfig):
        remote = OmegaConf.to_container(remote, resolve=True)
    return RayShardSettings(
        address=str(launcher_node["address"]),
        remote=dict(remote),
        check_resources=bool(launcher_node["check_resources"]),
        connect_timeout_s=float(launcher_node["connect_timeout_s"]),
    )
