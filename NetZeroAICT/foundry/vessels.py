"""Vessels: tapered tubes along smooth 3D centrelines, their distance fields, and branching trees.

A :class:`Tube` is a polyline of centreline points (mm, x y z) with a radius (mm) at each point. Its signed
distance is the union of cone-capsules between consecutive points, evaluated only in each segment's bounding
box, so a whole tree costs about as much as the voxels it touches.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .canvas import Canvas


@dataclass
class Tube:
    """A tapered tube: ``points`` (N×3 mm) along its centreline and ``radii`` (N, mm)."""

    points: np.ndarray
    radii: np.ndarray
    name: str = ""
    children: list = field(default_factory=list)

    def __post_init__(self):
        self.points = np.asarray(self.points, dtype=np.float64)
        self.radii = np.broadcast_to(np.asarray(self.radii, dtype=np.float64), (len(self.points),)).copy()

    @property
    def length_mm(self) -> float:
        return float(np.linalg.norm(np.diff(self.points, axis=0), axis=1).sum())

    def arclength(self) -> np.ndarray:
        return np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(self.points, axis=0), axis=1))])

    def at(self, fraction: float) -> tuple[np.ndarray, np.ndarray, int]:
        """Point, unit tangent and index at ``fraction`` (0–1) of the length."""
        s = self.arclength()
        index = int(np.clip(np.searchsorted(s, fraction * s[-1]), 1, len(s) - 1))
        tangent = self.points[index] - self.points[index - 1]
        return self.points[index].copy(), tangent / max(np.linalg.norm(tangent), 1e-9), index

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()


def perpendiculars(direction) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors perpendicular to ``direction`` and to each other."""
    d = np.asarray(direction, dtype=np.float64)
    d = d / np.linalg.norm(d)
    helper = np.array([0.0, 0.0, 1.0]) if abs(d[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    e1 = np.cross(d, helper)
    e1 /= np.linalg.norm(e1)
    return e1, np.cross(d, e1)


def resample(points: np.ndarray, step_mm: float) -> np.ndarray:
    """Points spaced ``step_mm`` apart along the polyline ``points`` (ends kept)."""
    points = np.asarray(points, dtype=np.float64)
    s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])
    n = max(int(np.ceil(s[-1] / step_mm)), 1) + 1
    t = np.linspace(0.0, s[-1], n)
    return np.stack([np.interp(t, s, points[:, a]) for a in range(3)], axis=1)


def spline_through(control: np.ndarray, step_mm: float) -> np.ndarray:
    """A smooth curve (Catmull–Rom spline) through the control points, sampled every ``step_mm``."""
    c = np.asarray(control, dtype=np.float64)
    padded = np.vstack([2 * c[0] - c[1], c, 2 * c[-1] - c[-2]])
    dense = []
    for i in range(1, len(padded) - 2):
        p0, p1, p2, p3 = padded[i - 1:i + 3]
        t = np.linspace(0.0, 1.0, 24, endpoint=False)[:, None]
        dense.append(0.5 * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t ** 2
                            + (-p0 + 3 * p1 - 3 * p2 + p3) * t ** 3))
    dense.append(c[-1:])
    return resample(np.vstack(dense), step_mm)


def wandering_path(start, direction, length_mm: float, rng: np.random.Generator, tortuosity: float,
                   step_mm: float = 1.0) -> np.ndarray:
    """A smooth random path from ``start`` roughly along ``direction``.

    The centreline deviates sideways by a few sinusoids whose amplitude is ``tortuosity`` × length
    (0 = straight, 0.05 = gently curved, 0.15 = tortuous); the deviation is zero at the start.
    """
    d = np.asarray(direction, dtype=np.float64)
    d /= np.linalg.norm(d)
    e1, e2 = perpendiculars(d)
    n = max(int(np.ceil(length_mm / step_mm)), 2) + 1
    s = np.linspace(0.0, length_mm, n)
    offset = np.zeros((n, 3))
    for k in (1, 2, 3):
        for e in (e1, e2):
            phase = rng.uniform(0, 2 * np.pi)
            amp = tortuosity * length_mm * rng.normal() / k
            offset += (amp * (np.sin(np.pi * k * s / length_mm + phase) - np.sin(phase)))[:, None] * e
    return np.asarray(start, dtype=np.float64) + s[:, None] * d + offset


def tube_sdf(canvas: Canvas, tubes, sl=None, radius_offset_mm: float = 0.0, max_radius_mm: float | None = None):
    """Signed distance (mm) to the union of ``tubes`` (radii + ``radius_offset_mm``).

    Returns ``(sl, sdf)``: the box (slices k, j, i) covering all tubes and the float32 distances inside it
    (distances further than about one radius from a tube are left at a large positive value).
    """
    tubes = [t for t in tubes if len(t.points) >= 2]
    if not tubes:
        return None, None
    if sl is None:
        lo = np.min([t.points.min(0) - t.radii.max() for t in tubes], axis=0) - abs(radius_offset_mm) - 2 * canvas.h
        hi = np.max([t.points.max(0) + t.radii.max() for t in tubes], axis=0) + abs(radius_offset_mm) + 2 * canvas.h
        sl = canvas.box(lo, hi)
        if sl is None:
            return None, None
    sdf = np.full(canvas.ncct[sl].shape, 1e4, dtype=np.float32)
    origin = np.array([sl[2].start, sl[1].start, sl[0].start])
    x_all, y_all, z_all = canvas.x[sl[2]], canvas.y[sl[1]], canvas.z[sl[0]]
    for tube in tubes:
        pts, radii = tube.points, tube.radii + radius_offset_mm
        if max_radius_mm is not None:
            radii = np.minimum(radii, max_radius_mm)
        for a, b, ra, rb in zip(pts[:-1], pts[1:], radii[:-1], radii[1:]):
            if max(ra, rb) <= -canvas.edge_mm:   # closed (occluded) stretch: nothing to paint
                continue
            reach = max(ra, rb) + 2 * canvas.h
            lo = np.minimum(a, b) - reach
            hi = np.maximum(a, b) + reach
            box = canvas.box(lo, hi)
            if box is None:
                continue
            ks = slice(max(box[0].start, sl[0].start), min(box[0].stop, sl[0].stop))
            js = slice(max(box[1].start, sl[1].start), min(box[1].stop, sl[1].stop))
            is_ = slice(max(box[2].start, sl[2].start), min(box[2].stop, sl[2].stop))
            if ks.stop <= ks.start or js.stop <= js.start or is_.stop <= is_.start:
                continue
            x = x_all[is_.start - origin[0]:is_.stop - origin[0]][None, None, :] - np.float32(a[0])
            y = y_all[js.start - origin[1]:js.stop - origin[1]][None, :, None] - np.float32(a[1])
            z = z_all[ks.start - origin[2]:ks.stop - origin[2]][:, None, None] - np.float32(a[2])
            d = (b - a).astype(np.float32)
            dd = float(d @ d) or 1e-9
            t = np.clip((x * d[0] + y * d[1] + z * d[2]) * np.float32(1.0 / dd), 0.0, 1.0)
            qx, qy, qz = x - t * d[0], y - t * d[1], z - t * d[2]
            dist = np.sqrt(qx * qx + qy * qy + qz * qz) - (np.float32(ra) + t * np.float32(rb - ra))
            target = sdf[ks.start - sl[0].start:ks.stop - sl[0].start,
                         js.start - sl[1].start:js.stop - sl[1].start,
                         is_.start - sl[2].start:is_.stop - sl[2].start]
            np.minimum(target, dist, out=target)
    return sl, sdf


def branch_tree(start, direction, radius_mm: float, length_mm: float, depth: int, rng: np.random.Generator,
                tortuosity: float = 0.06, taper: float = 0.8, spread_rad: float = 0.6, step_mm: float = 1.5,
                min_radius_mm: float = 0.4, name: str = "branch") -> Tube:
    """A random bifurcating tree (Murray-like radius split) grown from ``start`` along ``direction``."""
    path = resample(wandering_path(start, direction, length_mm, rng, tortuosity, step_mm), step_mm)
    radii = np.linspace(radius_mm, radius_mm * taper, len(path))
    tube = Tube(path, radii, name)
    if depth <= 0 or radius_mm * taper < min_radius_mm:
        return tube
    end_dir = path[-1] - path[-2]
    end_dir /= np.linalg.norm(end_dir)
    e1, e2 = perpendiculars(end_dir)
    angle = rng.uniform(0, 2 * np.pi)
    side = np.cos(angle) * e1 + np.sin(angle) * e2
    share = rng.uniform(0.35, 0.65)
    for sign, part in ((1.0, share), (-1.0, 1.0 - share)):
        child_r = radius_mm * taper * part ** (1 / 3.0)
        theta = spread_rad * (1.2 - part) * rng.uniform(0.7, 1.3)
        child_dir = np.cos(theta) * end_dir + sign * np.sin(theta) * side
        tube.children.append(branch_tree(path[-1], child_dir, child_r, length_mm * rng.uniform(0.6, 0.85),
                                         depth - 1, rng, tortuosity, taper, spread_rad, step_mm,
                                         min_radius_mm, name))
    return tube


def flatten(tubes) -> list[Tube]:
    """All tubes of a list of trees."""
    return [t for root in tubes for t in root.walk()]
