"""Anatomy shared by the indications: trunk outline and layers, spine, ribs, lungs, vessels with their walls.

Every builder paints onto a :class:`~NetZeroAICT.foundry.canvas.Canvas` with the case's tissues and random
generator. Distances are millimetres; x = patient left, y = posterior, z = superior.
"""

from __future__ import annotations

import numpy as np

from .. import shapes
from ..canvas import Canvas, Tissue
from ..vessels import Tube, branch_tree, flatten, resample, tube_sdf


def uniform(rng: np.random.Generator):
    """``rng.uniform`` that accepts its bounds in either order (small grids can invert a derived range)."""
    def draw(low=0.0, high=1.0):
        low, high = float(low), float(high)
        return rng.uniform(min(low, high), max(low, high))
    return draw


def section_harmonics(rng: np.random.Generator, strength: float = 0.04) -> list[tuple[int, float, float]]:
    """Random low-order shape harmonics for a body section (a few per cent of the radius)."""
    return [(n, float(rng.normal(0, strength / n)), float(rng.normal(0, strength / n))) for n in (2, 3, 4, 5)]


class Trunk:
    """A body outline along z: an ellipse (half-width ``a``, half-depth ``b``) with random low-order shape
    harmonics, a flattened back and a per-slice scale. :meth:`depth_sdf` gives the signed distance of the
    surface ``depth_mm`` under the skin (deeper anteriorly by ``anterior_extra_mm``), for clipping organs."""

    def __init__(self, canvas: Canvas, centre_xy, radii_xy, rng, z_scale=None, flat_back: float = 0.12):
        self.canvas = canvas
        self.centre = tuple(float(c) for c in centre_xy)
        self.a, self.b = (float(r) for r in radii_xy)
        self.harmonics = section_harmonics(rng)
        self.flat_back = flat_back
        self.z_scale = (np.ones(canvas.shape[0], np.float32) if z_scale is None
                        else np.asarray(z_scale, np.float32))

    def _polar(self, x, y):
        dx = (x - self.centre[0]) / self.a
        dy = (y - self.centre[1]) / self.b
        rho = np.sqrt(dx * dx + dy * dy)
        theta = np.arctan2(dy, dx)
        modulation = np.ones_like(rho)
        for n, ca, cb in self.harmonics:
            modulation += ca * np.cos(n * theta) + cb * np.sin(n * theta)
        modulation -= self.flat_back * np.clip(np.sin(theta), 0, None) ** 4
        return rho, modulation, np.clip(-np.sin(theta), 0, None)

    def depth_sdf(self, x, y, z, depth_mm: float = 0.0, anterior_extra_mm: float = 0.0) -> np.ndarray:
        """Signed distance (mm) to the surface ``depth_mm`` under the skin, for any box of coordinates."""
        rho, modulation, anterior = self._polar(x, y)
        mean_r = 0.5 * (self.a + self.b)
        # the parts that do not depend on z first (2D for a box), then one multiply and one subtraction in 3D
        base = (rho * mean_r + depth_mm + anterior_extra_mm * anterior).astype(np.float32)
        edge = (modulation * mean_r).astype(np.float32)
        if np.all(self.z_scale == 1.0):           # the same section in every slice: a 2D result broadcasts
            return base - edge
        scale = np.interp(np.ravel(z), self.canvas.z, self.z_scale).reshape(np.shape(z)).astype(np.float32)
        return base - edge * scale

    def paint_layers(self, t: dict[str, Tissue], layers) -> None:
        """Paint skin and nested layers over the whole (still empty) volume.

        ``layers``: list of (tissue, depth_mm, anterior_extra_mm) from the skin inwards, each painted over the
        one before from ``depth_mm`` under the skin (plus ``anterior_extra_mm`` × how anterior the point is).
        The section is computed once per distinct scale (steps of a quarter voxel in radius) in 2D and
        copied to its slices, which is exact to a quarter voxel and costs two passes over the volume.
        """
        canvas = self.canvas
        rho, modulation, anterior = self._polar(canvas.x[None, :], canvas.y[:, None])
        mean_r = 0.5 * (self.a + self.b)
        quantum = 0.25 * canvas.h / mean_r
        levels = np.round((self.z_scale - 1.0) / quantum).astype(np.int64)
        unique, index = np.unique(levels, return_inverse=True)
        hu = np.empty((len(unique), *rho.shape), np.float32)
        labels = np.empty((len(unique), *rho.shape), np.uint8)
        for n, level in enumerate(unique):
            outer = (rho * mean_r - modulation * mean_r * (1.0 + level * quantum)).astype(np.float32)
            value = np.full(rho.shape, -1000.0, np.float32)
            label = np.zeros(rho.shape, np.uint8)
            for tissue, depth, anterior_extra in [(t["skin"], 0.0, 0.0), *layers]:
                f = canvas.fraction(outer + np.float32(depth) + np.float32(anterior_extra) * anterior.astype(np.float32))
                value += f * (np.float32(tissue.hu) - value)
                label[f >= 0.5] = tissue.label
                canvas.tissues[tissue.label] = tissue
            hu[n], labels[n] = value, label
        np.take(hu, index, axis=0, out=canvas.ncct)
        np.take(labels, index, axis=0, out=canvas.labels)


def vertebra(canvas: Canvas, t: dict[str, Tissue], centre, body_radii, height_mm: float, rng,
             arch: bool = True, transverse_mm: float = 30.0) -> None:
    """One vertebra: body (cortical shell, trabecular core), canal, arch, spinous and transverse processes.

    ``centre`` is the centre of the vertebral body (x, y, z mm); ``body_radii`` its (x, y) half-sizes.
    """
    cx, cy, cz = centre
    rx, ry = body_radii
    hz = height_mm / 2
    lo, hi = (cx - rx, cy - ry, cz - hz), (cx + rx, cy + ry, cz + hz)

    def body_sdf(x, y, z, inset=0.0):
        return shapes.intersect(shapes.ellipse_2d(x, y, (cx, cy), (rx - inset, ry - inset)),
                                shapes.slab(z, cz - hz + inset, cz + hz - inset))

    canvas.fill(t["cortical_bone"], body_sdf, lo, hi)
    sl = canvas.box(lo, hi)
    if sl is not None:
        x, y, z = canvas.grid(sl)
        core = body_sdf(x, y, z, inset=1.6)
        canvas.paint(sl, core, t["trabecular_bone"],
                     hu=t["trabecular_bone"].hu + 45.0 * canvas.texture(sl, 2.2 * max(canvas.h, 0.8)))
    if not arch:
        return
    canal_r = rx * 0.55
    canal_c = (cx, cy + ry + canal_r + 1.0)
    ring_r = canal_r + 4.0
    ring_lo = (cx - ring_r - 2, canal_c[1] - ring_r, cz - hz * 0.8)
    ring_hi = (cx + ring_r + 2, canal_c[1] + ring_r, cz + hz * 0.8)
    canvas.fill(t["cortical_bone"], lambda x, y, z: shapes.intersect(
        shapes.ellipse_2d(x, y, canal_c, (ring_r + 1, ring_r)), shapes.slab(z, cz - hz * 0.7, cz + hz * 0.7)),
        ring_lo, ring_hi, hu=t["cortical_bone"].hu * 0.55)
    spine_len = ry * 0.65
    sp_c = (cx, canal_c[1] + ring_r + spine_len * 0.6, cz - hz * 0.3)
    canvas.fill(t["cortical_bone"], lambda x, y, z: shapes.ellipsoid(x, y, z, sp_c, (3.5, spine_len, hz * 0.6)),
                np.subtract(sp_c, (4, spine_len, hz)), np.add(sp_c, (4, spine_len, hz)),
                hu=t["cortical_bone"].hu * 0.5)
    for side in (-1, 1):
        tp_c = (cx + side * (rx * 0.6 + transverse_mm * 0.5), canal_c[1] - 2, cz)
        radii = (transverse_mm * 0.5, 4.5, hz * 0.35)
        canvas.fill(t["cortical_bone"], lambda x, y, z, c=tp_c, r=radii: shapes.ellipsoid(x, y, z, c, r),
                    np.subtract(tp_c, radii), np.add(tp_c, radii), hu=t["cortical_bone"].hu * 0.5)
    canvas.fill(t["csf"], lambda x, y, z: shapes.ellipse_2d(x, y, canal_c, (canal_r, canal_r * 0.8)),
                (cx - canal_r, canal_c[1] - canal_r, cz - hz - 2), (cx + canal_r, canal_c[1] + canal_r, cz + hz + 2))


def spine(canvas: Canvas, t: dict[str, Tissue], x0: float, y_of_z, z_range, level_height_mm: float,
          body_radii, rng, arch: bool = True, transverse_mm: float = 30.0) -> list[float]:
    """A column of vertebrae and discs from z_range[0] to z_range[1]; returns the vertebral centres' z."""
    z0, z1 = z_range
    start = z0 - rng.uniform(0, level_height_mm)
    centres = []
    z = start
    while z < z1 + level_height_mm:
        zc = z + level_height_mm / 2
        y = y_of_z(zc)
        disc = level_height_mm * 0.22
        canvas.fill(t["disc"], lambda x, yy, zz, y=y, zc=zc: shapes.intersect(
            shapes.ellipse_2d(x, yy, (x0, y), (body_radii[0] * 0.95, body_radii[1] * 0.95)),
            shapes.slab(zz, zc - level_height_mm / 2, zc + level_height_mm / 2)),
            (x0 - body_radii[0], y - body_radii[1], zc - level_height_mm / 2),
            (x0 + body_radii[0], y + body_radii[1], zc + level_height_mm / 2))
        vertebra(canvas, t, (x0, y, zc), body_radii, level_height_mm - disc, rng, arch, transverse_mm)
        centres.append(zc)
        z += level_height_mm
    return centres


def ribs(canvas: Canvas, t: dict[str, Tissue], cage_centre_xy, cage_radii, z_levels, rng, radius_mm: float = 4.5):
    """Pairs of ribs curving from beside the spine round the chest wall and down towards the front.

    ``cage_radii`` (a, b) are the half-width and half-depth of the ellipse the ribs follow.
    """
    a, b = cage_radii
    cx, cy = cage_centre_xy
    tubes = []
    for zl in z_levels:
        for side in (-1, 1):
            start = np.arccos(min(22.0 / a, 0.9))
            angles = np.linspace(start, -np.pi / 2 + rng.uniform(0.35, 0.8), 40)
            drop = rng.uniform(45, 75) * (start - angles) / (start + np.pi / 2)
            pts = np.stack([cx + side * a * np.cos(angles), cy + b * np.sin(angles), zl - drop], axis=1)
            tubes.append(Tube(resample(pts, 3.0), radius_mm * rng.uniform(0.85, 1.1)))
    if not tubes:
        return
    sl, sdf = tube_sdf(canvas, tubes)
    if sl is None:
        return
    canvas.paint(sl, sdf, t["cortical_bone"], hu=t["cortical_bone"].hu * 0.75)
    canvas.paint(sl, sdf + 1.6, t["trabecular_bone"])


def diaphragm_floor(x, y, dome_right_z: float, dome_left_z: float, half_width: float, centre_y: float,
                    recess_mm: float = 60.0) -> np.ndarray:
    """Height (z, mm) of the diaphragm under the lungs: two domes (right higher) falling to the lateral and
    posterior recesses by about ``recess_mm``."""
    dome_right_z, dome_left_z, half_width, centre_y = map(float, (dome_right_z, dome_left_z, half_width, centre_y))
    xr = (x + half_width * 0.45) / (half_width * 0.55)
    xl = (x - half_width * 0.45) / (half_width * 0.55)
    yy = (y - centre_y) / (half_width * 0.7)
    right = dome_right_z - recess_mm * 0.5 * (xr * xr + np.clip(yy, 0, None) ** 2 * 1.6 + np.clip(-yy, 0, None) ** 2 * 0.4)
    left = dome_left_z - recess_mm * 0.5 * (xl * xl + np.clip(yy, 0, None) ** 2 * 1.6 + np.clip(-yy, 0, None) ** 2 * 0.4)
    return np.where(x < 0, right, left).astype(np.float32)


def lungs(canvas: Canvas, t: dict[str, Tissue], trunk: Trunk, wall_mm: float, floor_fn, mediastinum, rng,
          z_apex: float | None = None, vessels: bool = True, exclude=()) -> callable:
    """Lungs filling the chest cavity: inside the chest wall (``wall_mm`` under the skin), above the
    diaphragm (``floor_fn(x, y)`` → z), outside the ``mediastinum`` (an sdf function of x, y, z) and the
    ``exclude`` sdf functions (heart, spine); textured parenchyma and branching vessels from each hilum.
    Returns the lungs' sdf function.
    """
    top = canvas.z[-1] + 1 if z_apex is None else z_apex

    def lung_sdf(x, y, z):
        d = shapes.intersect(trunk.depth_sdf(x, y, z, wall_mm), floor_fn(x, y) - z, -mediastinum(x, y, z), z - top)
        for other in exclude:
            d = np.maximum(d, -other(x, y, z))
        return d

    lo = (canvas.x[0], canvas.y[0], float(np.min(floor_fn(canvas.x[None, :], canvas.y[:, None]))))
    hi = (canvas.x[-1], canvas.y[-1], top)
    sl = canvas.box(lo, hi)
    if sl is None:
        return lung_sdf
    d = lung_sdf(*canvas.grid(sl))
    canvas.paint(sl, d, t["lung"], hu=t["lung"].hu + 16.0 * canvas.texture(sl, 3.0))
    if vessels:
        trees = []
        z_mid = 0.5 * (lo[2] + min(hi[2], canvas.z[-1]))
        for side in (-1, 1):
            hilum = (trunk.centre[0] + side * 35.0, trunk.centre[1] + trunk.b * 0.05, z_mid + 20)
            for _ in range(4):
                direction = np.array([side * rng.uniform(0.4, 1.0), rng.uniform(-0.8, 0.8), rng.uniform(-1.0, 0.8)])
                trees.append(branch_tree(hilum, direction, rng.uniform(3.5, 5.5), rng.uniform(30, 45), 5, rng,
                                         tortuosity=0.08, taper=0.78, spread_rad=0.8, step_mm=2.0,
                                         min_radius_mm=max(0.5, canvas.h * 0.35)))
        tsl, tsdf = tube_sdf(canvas, flatten(trees))
        if tsl is not None:
            inside = canvas.fraction(lung_sdf(*canvas.grid(tsl)) + 1.0)
            canvas.paint(tsl, tsdf, t["lung_vessel"], within=inside)
    return lung_sdf


def perivascular_sheath(canvas: Canvas, t: dict[str, Tissue], tubes, thickness_mm: float, tissue: Tissue,
                        over=("muscle",), region=None) -> None:
    """Paint ``tissue`` in a sheath ``thickness_mm`` thick around ``tubes`` (fat of a neurovascular bundle,
    CSF of a cistern), only over voxels now labelled as one of the tissues named in ``over`` (bone, airway and
    organs are kept) and, when given, only where the sdf function ``region(x, y, z)`` is negative.

    Paint it before the vessels themselves: what makes an unopacified artery visible on a non-contrast CT is
    this contrast between blood (≈ 40 HU) and the fat or CSF around it, not the blood itself."""
    sl, sdf = tube_sdf(canvas, list(tubes), radius_offset_mm=thickness_mm)
    if sl is None:
        return
    labels = [t[name].label for name in over]
    within = np.isin(canvas.labels[sl], labels).astype(np.float32)
    if region is not None:
        sdf = np.maximum(sdf, region(*canvas.grid(sl)))
    canvas.paint(sl, sdf, tissue, within=within)


def calcified_plaques(canvas: Canvas, t: dict[str, Tissue], tube: Tube, count: int, rng,
                      size_mm=(1.0, 3.0), span=(0.1, 0.9)) -> list[dict]:
    """Small calcifications in the wall of ``tube`` (same HU in both phases); returns their positions."""
    found = []
    for _ in range(count):
        p, tangent, index = tube.at(rng.uniform(*span))
        r = tube.radii[index]
        e = np.cross(tangent, rng.normal(size=3))
        e /= np.linalg.norm(e)
        size = rng.uniform(*size_mm)
        c = p + e * (r + 0.3)
        radii = (size, size * 0.6, size * 1.6)
        rot = np.stack([e, np.cross(tangent, e), tangent], axis=1)
        canvas.fill(t["calcium"], lambda x, y, z, c=c, radii=radii, rot=rot: shapes.rotated_ellipsoid(x, y, z, c, radii, rot),
                    c - max(radii) - 1, c + max(radii) + 1,
                    hu=t["calcium"].hu * rng.uniform(0.8, 1.2))
        found.append({"centre_mm": [round(float(v), 1) for v in c], "size_mm": round(float(size * 2), 1)})
    return found


def table(canvas: Canvas, t: dict[str, Tissue], y_top: float, rng) -> None:
    """The patient table under a supine patient: two thin curved shells (carbon fibre) ``y_top`` mm and
    15–25 mm below it, across the whole field of view."""
    x = canvas.x[None, None, :]
    sag = float(rng.uniform(1.0, 1.6)) / 1000.0                 # curvature (mm⁻¹)
    for offset, thickness in ((0.0, 1.2), (float(rng.uniform(15, 25)), 1.0)):
        y0 = y_top + offset
        lo = (canvas.x[0], y0 - sag * float(canvas.x[-1]) ** 2 - 3, canvas.z[0])
        hi = (canvas.x[-1], y0 + 3, canvas.z[-1])
        sl = canvas.box(lo, hi)
        if sl is None:
            continue
        _, y, _ = canvas.grid(sl)
        curve = y0 - sag * x[..., sl[2]] ** 2                        # a cradle: the sides curve up
        canvas.paint(sl, (np.abs(y - curve) - thickness).astype(np.float32), t["table"])
