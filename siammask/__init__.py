"""SiamMask (sharp variant) network, checkpoint I/O and tracker for the VIS pipeline.

Never imports from ``vis_pipeline`` (the pipeline composes this package, not the reverse).
"""

from siammask.boxes import BOX_STRATEGIES
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
from siammask.hparams import (
    CASCADE_MODES,
    STAGE2_BOXES,
    TrackerConfigError,
    TrackerHParams,
    TrackerOptions,
    TrackerPreset,
    load_tracker_hparams,
    load_tracker_preset,
)
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
from siammask.track_state import TrackerInputError, TrackerState, TrackResult
from siammask.tracker import SiamMaskTracker

__all__ = [
    "BOX_STRATEGIES",
    "CASCADE_MODES",
    "PRESETS",
    "RESPONSE_SIZE",
    "SEARCH_SIZE",
    "STAGE2_BOXES",
    "TEMPLATE_SIZE",
    "CheckpointError",
    "CheckpointFormatError",
    "CheckpointMismatchError",
    "CheckpointNotFoundError",
    "SearchOutput",
    "SiamMask",
    "SiamMaskConfig",
    "SiamMaskTracker",
    "TemplateKernels",
    "TrackResult",
    "TrackerConfigError",
    "TrackerHParams",
    "TrackerInputError",
    "TrackerOptions",
    "TrackerPreset",
    "TrackerState",
    "UntrustedCheckpointError",
    "build_siammask",
    "build_siammask_from_checkpoint",
    "count_flops",
    "load_checkpoint",
    "load_tracker_hparams",
    "load_tracker_preset",
    "make_config",
    "read_checkpoint",
    "save_checkpoint",
]
