"""Association, track lifecycle and the per-frame multi-object loop."""

from vis_pipeline.track.association import Matches, associate, linear_assignment
from vis_pipeline.track.lifecycle import LifecycleConfig, Track, TrackState

__all__ = ["LifecycleConfig", "Matches", "Track", "TrackState", "associate", "linear_assignment"]
