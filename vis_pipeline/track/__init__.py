"""Association, track lifecycle and the per-frame multi-object loop."""

from vis_pipeline.track.association import AssociationConfig, Matches, gated_mask_affinity, linear_assignment
from vis_pipeline.track.lifecycle import LifecycleConfig, Track, TrackState

__all__ = [
    "AssociationConfig",
    "LifecycleConfig",
    "Matches",
    "Track",
    "TrackState",
    "gated_mask_affinity",
    "linear_assignment",
]
