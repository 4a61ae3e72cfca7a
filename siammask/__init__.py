"""SiamMask (sharp variant) network, checkpoint I/O and tracker for the VIS pipeline.

Never imports from ``vis_pipeline`` (the pipeline composes this package, not the reverse).
"""

from siammask.checkpoint import (
    CheckpointError,
    CheckpointFormatError,
    CheckpointMismatchError,
    CheckpointNotFoundError,
    UntrustedCheckpointError,
    build_siammask_from_checkpoint,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from siammask.flops import count_flops
from siammask.model import (
    PRESETS,
    RESPONSE_SIZE,
    SEARCH_SIZE,
    TEMPLATE_SIZE,
    SearchOutput,
    SiamMask,
    SiamMaskConfig,
    TemplateKernels,
    build_siammask,
    make_config,
)

__all__ = [
    "PRESETS",
    "RESPONSE_SIZE",
    "SEARCH_SIZE",
    "TEMPLATE_SIZE",
    "CheckpointError",
    "CheckpointFormatError",
    "CheckpointMismatchError",
    "CheckpointNotFoundError",
    "SearchOutput",
    "SiamMask",
    "SiamMaskConfig",
    "TemplateKernels",
    "UntrustedCheckpointError",
    "build_siammask",
    "build_siammask_from_checkpoint",
    "count_flops",
    "load_checkpoint",
    "make_config",
    "read_checkpoint",
    "save_checkpoint",
]

# ---- tracker exports (appended by the tracker module's author) ----
from siammask.hparams import (  # noqa: E402
    TrackerConfigError,
    TrackerHParams,
    TrackerPreset,
    load_tracker_hparams,
    load_tracker_preset,
)
from siammask.tracker import SiamMaskTracker, TrackerInputError, TrackerState, TrackResult  # noqa: E402

__all__ += [
    "SiamMaskTracker",
    "TrackResult",
    "TrackerConfigError",
    "TrackerHParams",
    "TrackerInputError",
    "TrackerPreset",
    "TrackerState",
    "load_tracker_hparams",
    "load_tracker_preset",
]
