"""Random scene layout of one synthetic video: which objects, how they move, camera and occluder.

Everything here is drawn from one ``numpy.random.Generator`` (derived from ``(seed, video index)``
by the caller), in a fixed order, so a scene is a pure function of the seed, the video index and
the config. Positions are in screen pixels (x right, y down); time is the frame index ``t``.

Each object's centre follows waypoints ``(t_k, x_k, y_k)`` interpolated linearly, plus a small
sinusoidal wobble. Path modes:

- ``normal``: passes a point ``p_mid`` at time ``t_mid`` (inside the frame), with a turn there;
  ``crossing`` objects get ``p_mid`` on another object's path at the same time (occlusion);
- ``enter``: waits outside the frame until ``t_in``, then moves in (null frames at the start);
- ``leave``: the time-reverse of ``enter`` (null frames at the end);
- ``out_and_back``: leaves through an edge and comes back later (null frames in the middle).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vis_pipeline.data.synth_config import KNOWN_SHAPES, SynthConfig
from vis_pipeline.data.synth_shapes import shape_extent


@dataclass
class ObjectSpec:
    """One annotated object (a track). ``category`` is the 0-based index into ``cfg.categories``."""

    category: int
    shape: str
    radius: float  # equivalent-disc radius in px at the middle of the video
    depth: float  # larger = further back; the renderer draws the nearest object on top
    path_mode: str
    waypoint_t: np.ndarray  # (K,) increasing frame times
    waypoint_xy: np.ndarray  # (K, 2) centre positions in px
    wobble_amp: np.ndarray  # (2,) px
    wobble_freq: np.ndarray  # (2,) rad / frame
    wobble_phase: np.ndarray  # (2,)
    angle0: float  # rad
    spin: float  # rad / frame
    scale_gain: float  # log-scale change from first to last frame
    deform_amp: float  # radial wobble amplitude (fraction of radius)
    deform_lobes: int
    deform_freq: float  # rad / frame
    deform_phase: float
    stretch_amp: float  # anisotropic stretch amplitude
    stretch_freq: float
    colors: np.ndarray  # (2, 3) float32 BGR of the texture
    pattern_freq: float  # texture cycles per radius
    shading: float  # strength of the linear shading across the object

    def centres(self, frames: int) -> np.ndarray:
        """Centre position per frame, shape (frames, 2) float64 px (camera shake not applied)."""
        t = np.arange(frames, dtype=np.float64)
        xy = np.stack([np.interp(t, self.waypoint_t, self.waypoint_xy[:, axis]) for axis in range(2)], axis=1)
        wobble = self.wobble_amp * np.sin(t[:, None] * self.wobble_freq + self.wobble_phase)
        return xy + wobble


@dataclass
class SceneSpec:
    """Layout of one video: objects (annotation order), camera motion and the unlabeled occluder."""

    frames: int
    width: int
    height: int
    objects: list[ObjectSpec]
    shake: np.ndarray  # (frames, 2) px camera shake, added to every object and to the background
    pan: np.ndarray  # (frames, 2) px background offset (pan + shake)
    occluder: tuple[float, float] | None  # (x centre at t=0 in background coords, half width) px
    gain: np.ndarray  # (frames,) global illumination factor


def _inside_point(rng: np.random.Generator, width: int, height: int, margin: float) -> np.ndarray:
    mx, my = min(margin, 0.45 * width), min(margin, 0.45 * height)
    return np.array([rng.uniform(mx, width - mx), rng.uniform(my, height - my)])


def _outside_point(
    rng: np.random.Generator, edge: int, width: int, height: int, clearance: float
) -> np.ndarray:
    """A centre ``clearance`` px beyond ``edge`` (0 left, 1 right, 2 top, 3 bottom): fully outside."""
    if edge == 0:
        return np.array([-clearance, rng.uniform(0, height)])
    if edge == 1:
        return np.array([width + clearance, rng.uniform(0, height)])
    if edge == 2:
        return np.array([rng.uniform(0, width), -clearance])
    return np.array([rng.uniform(0, width), height + clearance])


def _normal_path(
    rng: np.random.Generator, frames: int, speed: float, turn: float, p_mid: np.ndarray, t_mid: float
) -> tuple[np.ndarray, np.ndarray]:
    heading = rng.uniform(0, 2 * np.pi)
    heading_out = heading + rng.uniform(-turn, turn)
    d_in = np.array([np.cos(heading), np.sin(heading)])
    d_out = np.array([np.cos(heading_out), np.sin(heading_out)])
    last = frames - 1
    times = np.array([0.0, t_mid, float(last)])
    points = np.stack([p_mid - d_in * speed * t_mid, p_mid, p_mid + d_out * speed * (last - t_mid)])
    return times, points


def _enter_path(
    rng: np.random.Generator, frames: int, speed: float, clearance: float, width: int, height: int
) -> tuple[np.ndarray, np.ndarray]:
    """Outside until ``t_in`` (>= 1), then moves in to an inside point and keeps drifting."""
    last = frames - 1
    edge = int(rng.integers(4))
    p_out = _outside_point(rng, edge, width, height, clearance)
    p_in = _inside_point(rng, width, height, 0.25 * min(width, height))
    t_in = float(rng.integers(1, max(2, frames // 2)))
    travel = max(1.0, float(np.linalg.norm(p_in - p_out)) / max(speed, 1e-6))
    drift = rng.normal(0, speed, size=2) * last
    times = np.array([0.0, t_in, t_in + travel, t_in + travel + last])
    points = np.stack([p_out, p_out, p_in, p_in + drift])
    return times, points


def _out_and_back_path(
    rng: np.random.Generator, frames: int, clearance: float, width: int, height: int
) -> tuple[np.ndarray, np.ndarray]:
    last = frames - 1
    edge = int(rng.integers(4))
    margin = 0.2 * min(width, height)
    p_a, p_b = _inside_point(rng, width, height, margin), _inside_point(rng, width, height, margin)
    p_out = _outside_point(rng, edge, width, height, clearance)
    p_out2 = _outside_point(rng, edge, width, height, clearance)
    t_leave = rng.uniform(0.15, 0.4) * last
    t_back = min(t_leave + max(2.0, rng.uniform(0.15, 0.35) * last), last - 0.5)
    times = np.array([0.0, t_leave, t_back, float(last)])
    return times, np.stack([p_a, p_out, p_out2, p_b])


def _sample_radius(rng: np.random.Generator, cfg: SynthConfig) -> tuple[float, int]:
    probs = np.asarray(cfg.size_probs, dtype=np.float64)
    size_class = int(rng.choice(3, p=probs / probs.sum()))
    low, high = (cfg.radius_small, cfg.radius_medium, cfg.radius_large)[size_class]
    # log-uniform: as many small objects near the bottom of the range as near the top
    return float(np.exp(rng.uniform(np.log(low), np.log(high)))) * cfg.height, size_class


def _camera(rng: np.random.Generator, cfg: SynthConfig, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """(shake, background offset), both (frames, 2) px."""
    shake = rng.normal(0, cfg.shake * cfg.height, size=(frames, 2))
    jolts = rng.random(frames) < cfg.jolt_prob
    shake[jolts] += rng.normal(0, cfg.jolt * cfg.height, size=(int(jolts.sum()), 2))
    heading = rng.uniform(0, 2 * np.pi)
    pan_speed = cfg.pan_speed * cfg.height * rng.uniform(0.3, 1.7)
    t = np.arange(frames, dtype=np.float64)[:, None]
    pan = t * pan_speed * np.array([np.cos(heading), np.sin(heading)])
    return shake, pan + shake


def sample_scene(rng: np.random.Generator, cfg: SynthConfig, palettes: np.ndarray) -> SceneSpec:
    """Draw one video's layout; ``palettes`` is (len(KNOWN_SHAPES), 2, 3) BGR base colours."""
    if cfg.frames_range is not None:
        frames = int(rng.integers(cfg.frames_range[0], cfg.frames_range[1] + 1))
    else:
        frames = cfg.frames
    width, height = cfg.width, cfg.height
    num_objects = int(rng.integers(cfg.objects_range[0], cfg.objects_range[1] + 1))
    categories = rng.integers(cfg.num_categories, size=num_objects)
    duplicate_pair = num_objects >= 2 and rng.random() < cfg.same_category_prob
    if duplicate_pair:
        categories[1] = categories[0]
    shake, pan = _camera(rng, cfg, frames)
    shake_bound = 3 * cfg.shake * height + 3 * cfg.jolt * height

    objects: list[ObjectSpec] = []
    for index in range(num_objects):
        category = int(categories[index])
        shape = cfg.categories[category]
        radius, size_class = _sample_radius(rng, cfg)
        speed = cfg.speed * height * float(np.exp(rng.normal(0, cfg.speed_spread)))
        if rng.random() < cfg.fast_prob:
            speed *= cfg.fast_factor
        if size_class == 2:  # large objects move slower so they stay large in view
            speed *= 0.4
        scale_gain = rng.uniform(-cfg.scale_change, cfg.scale_change)
        deform_amp = rng.uniform(0, cfg.deformation)
        stretch_amp = rng.uniform(0, cfg.deformation)
        wobble_amp = rng.uniform(0, cfg.wobble * height, size=2)
        extent = (
            radius * shape_extent(shape) * np.exp(abs(scale_gain) / 2) * (1 + deform_amp) * (1 + stretch_amp)
        )
        clearance = extent + wobble_amp.max() + shake_bound + 2.0

        crossing = (index == 1 and duplicate_pair) or (index > 0 and rng.random() < cfg.occlusion_rate)
        mode = "normal"
        if size_class != 2 and not crossing and rng.random() < cfg.enter_leave_prob:
            mode = ("enter", "leave", "out_and_back")[int(rng.integers(3))]
        if mode == "normal":
            t_mid = rng.uniform(0.25, 0.75) * (frames - 1)
            if crossing:
                partner = objects[0] if index == 1 and duplicate_pair else objects[int(rng.integers(index))]
                frame_of_cross = int(round(t_mid))
                p_mid = partner.centres(frames)[frame_of_cross] + rng.normal(0, 0.25 * radius, size=2)
                if 0 < frame_of_cross < frames - 1:  # keep the waypoint times strictly increasing
                    t_mid = float(frame_of_cross)
                mode = "crossing"
            else:
                p_mid = _inside_point(rng, width, height, min(radius, 0.3 * height))
            times, points = _normal_path(rng, frames, speed, cfg.turn, p_mid, t_mid)
        elif mode == "out_and_back":
            times, points = _out_and_back_path(rng, frames, clearance, width, height)
        else:
            times, points = _enter_path(rng, frames, max(speed, 0.03 * height), clearance, width, height)
            if mode == "leave":  # time-reversed entry
                times, points = (frames - 1) - times[::-1], points[::-1]

        shape_index = KNOWN_SHAPES.index(shape)
        colors = palettes[shape_index] + rng.normal(0, 18, size=(2, 3))
        objects.append(
            ObjectSpec(
                category=category,
                shape=shape,
                radius=radius,
                depth=float(rng.random()),
                path_mode=mode,
                waypoint_t=np.asarray(times, dtype=np.float64),
                waypoint_xy=np.asarray(points, dtype=np.float64),
                wobble_amp=wobble_amp,
                wobble_freq=rng.uniform(0.1, 0.5, size=2),
                wobble_phase=rng.uniform(0, 2 * np.pi, size=2),
                angle0=rng.uniform(0, 2 * np.pi),
                spin=rng.uniform(-cfg.rotation_speed, cfg.rotation_speed),
                scale_gain=scale_gain,
                deform_amp=deform_amp,
                deform_lobes=int(rng.integers(2, 5)),
                deform_freq=rng.uniform(0.15, 0.6),
                deform_phase=rng.uniform(0, 2 * np.pi),
                stretch_amp=stretch_amp,
                stretch_freq=rng.uniform(0.1, 0.4),
                colors=np.clip(colors, 0, 255).astype(np.float32),
                pattern_freq=rng.uniform(1.5, 3.5),
                shading=rng.uniform(0.05, 0.25),
            )
        )

    occluder = None
    if rng.random() < cfg.occluder_prob:
        occluder = (rng.uniform(0.25, 0.75) * width, rng.uniform(0.04, 0.1) * width)
    gain = 1.0 + rng.normal(0, cfg.illumination, size=frames).cumsum() / np.sqrt(frames)
    return SceneSpec(frames, width, height, objects, shake, pan, occluder, np.clip(gain, 0.7, 1.3))
