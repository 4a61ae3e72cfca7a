"""Render a sampled scene (``synth_scene.SceneSpec``) frame by frame.

Objects are drawn nearest first: each object only paints the pixels not already covered by a
nearer object or by the unlabeled foreground occluder, and exactly those pixels are its
annotation mask. So the ground truth is the visible part of every object by construction, and
an object that is out of frame or fully hidden has an empty mask (``None``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from vis_pipeline.data.synth_scene import ObjectSpec, SceneSpec
from vis_pipeline.data.synth_shapes import texture_pattern, unit_shape

_SUBPIXEL_BITS = 3  # cv2.fillPoly fixed-point vertices: 1/8 px precision


@dataclass
class RenderedFrame:
    """One frame: ``image`` (H, W, 3) BGR uint8; per object (scene order) its visible mask
    ((H, W) bool, or None when nothing of it is visible) and ``full_areas``: pixels it would cover
    inside the frame if nothing were in front of it (to measure occlusion)."""

    image: np.ndarray
    visible: list[np.ndarray | None]
    full_areas: list[int]


def _background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Textured, cluttered, muted background canvas, (height, width, 3) uint8."""
    base = rng.uniform(60, 190, size=(2, 3))
    base = 0.5 * base + 0.5 * base.mean(axis=1, keepdims=True)  # desaturate: objects stay salient
    coarse = rng.random((max(2, height // 90), max(2, width // 90), 1)).astype(np.float32)
    blend = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)[..., None]
    canvas = base[0] * (1 - blend) + base[1] * blend
    fine = cv2.resize(
        rng.normal(0, 14, size=(max(2, height // 6), max(2, width // 6), 3)).astype(np.float32),
        (width, height),
        interpolation=cv2.INTER_LINEAR,
    )
    canvas = (canvas + fine).astype(np.float32)
    scale = min(height, width)
    for _ in range(int(rng.integers(15, 35))):  # clutter: blurred lines, ellipses and boxes
        color = tuple(float(c) for c in rng.uniform(40, 220, size=3) * 0.6 + canvas.mean() * 0.4)
        kind = int(rng.integers(3))
        p = (int(rng.integers(width)), int(rng.integers(height)))
        size = int(rng.uniform(0.02, 0.15) * scale) + 1
        if kind == 0:
            q = (p[0] + int(rng.integers(-3 * size, 3 * size)), p[1] + int(rng.integers(-3 * size, 3 * size)))
            cv2.line(canvas, p, q, color, thickness=int(rng.integers(1, 6)))
        elif kind == 1:
            axes = (size, int(size * rng.uniform(0.3, 1.0)) + 1)
            cv2.ellipse(canvas, p, axes, float(rng.uniform(0, 180)), 0, 360, color, -1)
        else:
            cv2.rectangle(canvas, p, (p[0] + size, p[1] + int(size * rng.uniform(0.3, 2))), color, -1)
    canvas = cv2.GaussianBlur(canvas, (0, 0), 1.5)
    canvas += rng.normal(0, 5, size=canvas.shape).astype(np.float32)  # sensor-like grain
    return np.clip(canvas, 0, 255).astype(np.uint8)


def _object_geometry(obj: ObjectSpec, t: int, frames: int, centre: np.ndarray) -> tuple:
    """Screen polygons (outer, inner|None) and the local-frame transform at frame ``t``."""
    outer_unit, inner_unit = unit_shape(obj.shape)
    radius = obj.radius * np.exp(obj.scale_gain * (t / max(frames - 1, 1) - 0.5))
    angle = obj.angle0 + obj.spin * t
    stretch_x = 1.0 + obj.stretch_amp * np.sin(obj.stretch_freq * t)
    stretch = np.array([stretch_x, 1.0 / stretch_x])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])

    def place(poly: np.ndarray) -> np.ndarray:
        phi = np.arctan2(poly[:, 1], poly[:, 0])
        radial = 1.0 + obj.deform_amp * np.sin(
            obj.deform_lobes * phi + obj.deform_freq * t + obj.deform_phase
        )
        local = poly * radial[:, None] * stretch
        return centre + radius * local @ rotation.T

    inner = place(inner_unit) if inner_unit is not None else None
    return place(outer_unit), inner, radius, rotation, stretch


def _fill(polys: list[np.ndarray], origin: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Rasterise polygons (first = outer, rest = holes) into a (h, w) bool crop at ``origin``."""
    crop = np.zeros(shape, dtype=np.uint8)
    fixed = [np.round((p - origin) * (1 << _SUBPIXEL_BITS)).astype(np.int32) for p in polys]
    cv2.fillPoly(crop, [fixed[0]], 1, lineType=cv2.LINE_8, shift=_SUBPIXEL_BITS)
    if len(fixed) > 1:
        cv2.fillPoly(crop, fixed[1:], 0, lineType=cv2.LINE_8, shift=_SUBPIXEL_BITS)
    return crop.astype(bool)


def _texture(
    obj: ObjectSpec, xs: np.ndarray, ys: np.ndarray, centre: np.ndarray, geometry: tuple
) -> np.ndarray:
    """BGR float32 colours (n, 3) of the object at pixel coordinates ``xs``/``ys`` (n,)."""
    _, _, radius, rotation, stretch = geometry
    offsets = np.stack([xs - centre[0], ys - centre[1]], axis=1).astype(np.float32)
    local = (offsets @ rotation.astype(np.float32)) / np.float32(radius) / stretch.astype(np.float32)
    u, v = local[:, 0], local[:, 1]
    weight = texture_pattern(obj.shape, u, v, obj.pattern_freq)[:, None]
    colors = obj.colors[0] * (1 - weight) + obj.colors[1] * weight
    return colors * (1.0 + obj.shading * np.clip(u, -1.5, 1.5))[:, None]


def render_frames(scene: SceneSpec, rng: np.random.Generator) -> Iterator[RenderedFrame]:
    """Yield ``scene.frames`` rendered frames (one at a time: memory stays at one frame)."""
    height, width, frames = scene.height, scene.width, scene.frames
    offsets = np.round(scene.pan).astype(np.int64)
    low = offsets.min(axis=0)
    span = offsets.max(axis=0) - low
    canvas = _background(rng, height + int(span[1]), width + int(span[0]))
    offsets -= low
    occluder_colors = rng.uniform(30, 90, size=(2, 3)).astype(np.float32)
    centres = [obj.centres(frames) + scene.shake for obj in scene.objects]
    front_to_back = sorted(range(len(scene.objects)), key=lambda i: scene.objects[i].depth)

    for t in range(frames):
        ox, oy = int(offsets[t, 0]), int(offsets[t, 1])
        image = canvas[oy : oy + height, ox : ox + width].astype(np.float32)
        covered = np.zeros((height, width), dtype=bool)
        occluder_cols: tuple[int, int] | None = None
        if scene.occluder is not None:
            x_centre = scene.occluder[0] - (scene.pan[t, 0] - scene.pan[0, 0])
            x0 = int(np.clip(np.floor(x_centre - scene.occluder[1]), 0, width))
            x1 = int(np.clip(np.ceil(x_centre + scene.occluder[1]), 0, width))
            if x1 > x0:
                covered[:, x0:x1] = True
                occluder_cols = (x0, x1)
        visible: list[np.ndarray | None] = [None] * len(scene.objects)
        full_areas = [0] * len(scene.objects)
        for index in front_to_back:
            obj, centre = scene.objects[index], centres[index][t]
            geometry = _object_geometry(obj, t, frames, centre)
            outer, inner = geometry[0], geometry[1]
            x0, y0 = np.maximum(np.floor(outer.min(axis=0)).astype(int) - 1, 0)
            x1 = min(int(np.ceil(outer[:, 0].max())) + 2, width)
            y1 = min(int(np.ceil(outer[:, 1].max())) + 2, height)
            if x1 <= x0 or y1 <= y0:
                continue  # entirely outside the frame
            polys = [outer] if inner is None else [outer, inner]
            crop = _fill(polys, np.array([x0, y0], dtype=np.float64), (y1 - y0, x1 - x0))
            full_areas[index] = int(crop.sum())
            covered_crop = covered[y0:y1, x0:x1]
            visible_crop = crop & ~covered_crop
            covered_crop |= crop
            if not visible_crop.any():
                continue
            ys, xs = np.nonzero(visible_crop)
            image[ys + y0, xs + x0] = _texture(obj, xs + x0, ys + y0, centre, geometry)
            mask = np.zeros((height, width), dtype=bool)
            mask[y0:y1, x0:x1] = visible_crop
            visible[index] = mask
        if occluder_cols is not None:  # unlabeled pole in front of every object
            x0, x1 = occluder_cols
            x_rel = np.arange(x0, x1, dtype=np.float32) - float(scene.occluder[0] - scene.pan[t, 0])
            weight = (0.5 + 0.5 * np.sin(x_rel * 0.35))[None, :, None]
            column = occluder_colors[0] * (1 - weight) + occluder_colors[1] * weight
            image[:, x0:x1] = column
        image *= np.float32(scene.gain[t])
        yield RenderedFrame(np.clip(image, 0, 255).astype(np.uint8), visible, full_areas)
