"""Shapes, textures and palettes of the synthetic categories.

Each shape is a closed polygon in object-local units, densified (many vertices per edge so a
radial wobble bends the edges -- non-rigid deformation) and scaled so its area is pi: an object
of "radius" r then has the area of a disc of radius r whatever its shape. The ring also has an
inner polygon (its hole). Each shape has its own texture pattern and base palette, so a detector
can tell categories apart by outline and by appearance.
"""

from __future__ import annotations

from functools import cache

import numpy as np

# BGR base colour pairs per shape (jittered per object); distinct hues per category.
PALETTES: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    "disc": ((40, 40, 215), (40, 150, 255)),  # red / orange
    "square": ((190, 70, 30), (255, 200, 130)),  # blue / light blue
    "triangle": ((40, 165, 40), (120, 235, 160)),  # green / mint
    "star": ((10, 215, 235), (20, 80, 130)),  # yellow / brown
    "ring": ((190, 40, 190), (230, 170, 255)),  # magenta / pink
    "cross": ((170, 170, 20), (245, 245, 245)),  # teal / white
}
RING_HOLE = 0.55  # inner / outer radius of the ring
_POINTS_PER_EDGE = 12


def _regular(n: int, radius: float = 1.0, start: float = np.pi / 2) -> np.ndarray:
    angles = start + 2 * np.pi * np.arange(n) / n
    return radius * np.stack([np.cos(angles), -np.sin(angles)], axis=1)


def _densify(poly: np.ndarray, per_edge: int) -> np.ndarray:
    nxt = np.roll(poly, -1, axis=0)
    steps = np.arange(per_edge)[:, None, None] / per_edge  # (per_edge, 1, 1)
    return (poly[None] + steps * (nxt - poly)[None]).transpose(1, 0, 2).reshape(-1, 2)


def _polygon_area(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


@cache
def unit_shape(shape: str) -> tuple[np.ndarray, np.ndarray | None]:
    """(outer, inner-or-None) polygons, float64 (N, 2), area(outer) - area(inner) == pi."""
    inner = None
    if shape in ("disc", "ring"):
        outer = _regular(64)
        if shape == "ring":
            inner = _regular(64, RING_HOLE)
    elif shape == "square":
        outer = _densify(_regular(4, start=np.pi / 4), _POINTS_PER_EDGE)
    elif shape == "triangle":
        outer = _densify(_regular(3), _POINTS_PER_EDGE)
    elif shape == "star":
        tips, notches = _regular(5), _regular(5, 0.45, start=np.pi / 2 + np.pi / 5)
        outer = _densify(np.stack([tips, notches], axis=1).reshape(-1, 2), 4)
    elif shape == "cross":
        a = 0.33  # half width of an arm, relative to the arm length
        corners = np.array(
            [[a, 1], [a, a], [1, a], [1, -a], [a, -a], [a, -1],
             [-a, -1], [-a, -a], [-1, -a], [-1, a], [-a, a], [-a, 1]], dtype=np.float64,
        )  # fmt: skip
        outer = _densify(corners, 4)
    else:
        raise ValueError(f"unknown synthetic shape {shape!r}")
    area = _polygon_area(outer) - (_polygon_area(inner) if inner is not None else 0.0)
    scale = np.sqrt(np.pi / area)
    outer = outer * scale
    inner = inner * scale if inner is not None else None
    for poly in (outer, inner):
        if poly is not None:
            poly.setflags(write=False)  # cached: callers must not modify it
    return outer, inner


def shape_extent(shape: str) -> float:
    """Largest distance of the unit shape from its centre (radius units)."""
    return float(np.linalg.norm(unit_shape(shape)[0], axis=1).max())


def palette_array(shapes: tuple[str, ...]) -> np.ndarray:
    """(len(shapes), 2, 3) float64 BGR base colours, in the order of ``shapes``."""
    return np.asarray([PALETTES[s] for s in shapes], dtype=np.float64)


def texture_pattern(shape: str, u: np.ndarray, v: np.ndarray, freq: float) -> np.ndarray:
    """Per-pixel mix weight in [0, 1] of the shape's texture at local coords (u, v) (radius units).

    Patterns move and rotate with the object: rings (disc), checkerboard (square), stripes
    (triangle), dots (star), spokes (ring), waves (cross). ``u``/``v`` broadcast, float32.
    """
    w = np.float32(2 * np.pi * freq)
    if shape == "disc":
        return 0.5 + 0.5 * np.sin(w * np.sqrt(u * u + v * v))
    if shape == "square":
        return (np.sin(w * u) * np.sin(w * v) > 0).astype(np.float32)
    if shape == "triangle":
        return 0.5 + 0.5 * np.sign(np.sin(w * u))
    if shape == "star":
        return (np.cos(w * u) * np.cos(w * v) > 0.4).astype(np.float32)
    if shape == "ring":
        return 0.5 + 0.5 * np.sign(np.sin(np.float32(2 * round(freq * 3)) * np.arctan2(v, u)))
    if shape == "cross":
        return 0.5 + 0.5 * np.sin(w * (u + v) + 2.0 * np.sin(w * v))
    raise ValueError(f"unknown synthetic shape {shape!r}")
