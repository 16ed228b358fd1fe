"""Signed distance fields (mm, negative inside) of the shapes anatomy is built from.

Each function takes broadcastable coordinate arrays ``x, y, z`` (mm, from :meth:`Canvas.grid`) and returns
float32 distances. Ellipsoid distances use the first-order approximation k0 (k0 − 1) / k1, exact on the axes
and within a few per cent near the surface, which is what partial volume needs.
"""

from __future__ import annotations

import numpy as np


def _f(values) -> list[float]:
    """Python floats, so that float32 coordinate arrays stay float32 (a NumPy float64 scalar would promote)."""
    return [v.astype(np.float32, copy=False) if isinstance(v, np.ndarray) and v.ndim else float(v) for v in values]


def _sum3(a, b, c):
    """a + b + c for broadcastable arrays, allocating the full-size result once."""
    out = np.add(a, b)
    if out.ndim >= np.ndim(c) and out.shape == np.broadcast_shapes(out.shape, np.shape(c)):
        out += c
        return out
    return out + c


def _ellipsoid_from_scaled(px, py, pz, radii) -> np.ndarray:
    """k0 (k0 − 1) / k1 with k0 = |p|, k1 = |p / r| for coordinates already divided by the radii."""
    k0 = _sum3(px * px, py * py, pz * pz)
    k1 = _sum3(px * px * np.float32(1.0 / radii[0] ** 2), py * py * np.float32(1.0 / radii[1] ** 2),
               pz * pz * np.float32(1.0 / radii[2] ** 2))
    np.sqrt(k0, out=k0)
    np.sqrt(k1, out=k1)
    np.maximum(k1, np.float32(1e-6), out=k1)
    out = k0 - np.float32(1.0)
    out *= k0
    out /= k1
    return out.astype(np.float32, copy=False)


def ellipsoid(x, y, z, centre, radii) -> np.ndarray:
    """Ellipsoid with semi-axes ``radii`` (mm) along x, y, z around ``centre``."""
    centre, radii = _f(centre), _f(radii)
    return _ellipsoid_from_scaled((x - centre[0]) * np.float32(1.0 / radii[0]),
                                  (y - centre[1]) * np.float32(1.0 / radii[1]),
                                  (z - centre[2]) * np.float32(1.0 / radii[2]), radii)


def rotated_ellipsoid(x, y, z, centre, radii, rotation) -> np.ndarray:
    """Ellipsoid whose semi-axes lie along the columns of the 3×3 ``rotation``."""
    centre, radii = _f(centre), _f(radii)
    dx, dy, dz = x - centre[0], y - centre[1], z - centre[2]
    r = [_f(row) for row in np.asarray(rotation)]
    scaled = []
    for axis in range(3):
        inv = 1.0 / radii[axis]
        scaled.append(_sum3(dx * np.float32(r[0][axis] * inv), dy * np.float32(r[1][axis] * inv),
                            dz * np.float32(r[2][axis] * inv)))
    return _ellipsoid_from_scaled(*scaled, radii)


def ellipse_2d(x, y, centre, radii) -> np.ndarray:
    """Elliptic cylinder along z (an ellipse in every axial slice)."""
    centre, radii = _f(centre), _f(radii)
    px = (x - centre[0]) / radii[0]
    py = (y - centre[1]) / radii[1]
    k0 = np.sqrt(px * px + py * py)
    k1 = np.sqrt((px / radii[0]) ** 2 + (py / radii[1]) ** 2)
    return (k0 * (k0 - 1.0) / np.maximum(k1, 1e-6)).astype(np.float32)


def slab(z, z0, z1) -> np.ndarray:
    """Distance to the slab z0 ≤ z ≤ z1 (negative inside)."""
    z0, z1 = float(z0), float(z1)
    return np.maximum(z0 - z, z - z1).astype(np.float32)


def intersect(*sdfs) -> np.ndarray:
    out = sdfs[0]
    for s in sdfs[1:]:
        out = np.maximum(out, s)
    return out


def union(*sdfs) -> np.ndarray:
    out = sdfs[0]
    for s in sdfs[1:]:
        out = np.minimum(out, s)
    return out


def random_rotation(rng: np.random.Generator, max_angle_rad: float) -> np.ndarray:
    """A rotation matrix about a random axis by up to ``max_angle_rad``."""
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    angle = rng.uniform(-max_angle_rad, max_angle_rad)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def rough_section(x, y, centre, radii, harmonics) -> np.ndarray:
    """Approximate distance to a smooth blob-shaped axial section: an ellipse whose radius is modulated by
    ``1 + Σ a_n cos(nθ) + b_n sin(nθ)`` (``harmonics``: list of (n, a_n, b_n)); used for body outlines."""
    dx = (x - centre[0]) / radii[0]
    dy = (y - centre[1]) / radii[1]
    rho = np.sqrt(dx * dx + dy * dy)
    theta = np.arctan2(dy, dx)
    scale = np.ones_like(theta)
    for n, a, b in harmonics:
        scale += a * np.cos(n * theta) + b * np.sin(n * theta)
    mean_radius = 0.5 * (radii[0] + radii[1])
    return ((rho - scale) * mean_radius).astype(np.float32)
