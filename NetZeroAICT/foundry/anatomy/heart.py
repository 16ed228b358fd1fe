"""The heart in its own frame: epicardial fat, myocardium, four chambers, aortic root, and the epicardial
surface the coronary arteries run on.

Heart frame: ``axis`` points from the base (valves, posterior-right-superior) to the apex
(anterior-left-inferior); (u, v) span the short-axis plane, u pointing anteriorly.
"""

from __future__ import annotations

import numpy as np

from .. import shapes
from . import common
from ..canvas import Canvas, Tissue
from ..vessels import Tube, resample, spline_through, tube_sdf


class Heart:
    """Geometry of one heart (mm, LPS). The ventricles are an ellipsoid (half-length ``half_length``, radius
    ``radius``) around ``centre``, cut flat at the valve plane (the base) 0.7 half-lengths behind the centre."""

    def __init__(self, centre, rng: np.random.Generator):
        u = common.uniform(rng)
        self.half_length = u(48, 56)
        self.radius = u(38, 45)
        axis = np.array([u(0.45, 0.65), -u(0.45, 0.65), -u(0.35, 0.55)])     # to left, anterior, inferior
        self.axis = axis / np.linalg.norm(axis)
        uu = np.cross(self.axis, [0.0, 0.0, 1.0])
        uu /= np.linalg.norm(uu)
        self.u = uu if uu[1] < 0 else -uu                                         # anterior-ish
        self.v = np.cross(self.axis, self.u)
        self.centre = np.asarray(centre, dtype=np.float64)
        self.base_offset = 0.7 * self.half_length
        self.base = self.centre - self.axis * self.base_offset
        self.length = self.base_offset + self.half_length                         # base to apex
        self.rotation = np.stack([self.axis, self.u, self.v], axis=1)
        self.myocardium_mm = u(9, 13)
        self.rng = rng

    # frame helpers ---------------------------------------------------------------------------------
    def to_world(self, t, a, b):
        """Point at ``t`` mm along the axis from the base, ``a`` along u, ``b`` along v."""
        return self.base + np.multiply.outer(t, self.axis) + np.multiply.outer(a, self.u) + np.multiply.outer(b, self.v)

    def surface_radius(self, t) -> np.ndarray:
        """Epicardial radius (mm) at ``t`` mm from the base towards the apex."""
        w = (np.asarray(t, dtype=np.float64) - self.base_offset) / self.half_length
        return self.radius * np.sqrt(np.clip(1.0 - w ** 2, 0.0, 1.0))

    def on_surface(self, t, angle, offset_mm: float = 2.5) -> np.ndarray:
        """Points on the epicardium (plus ``offset_mm``) at axial positions ``t`` and short-axis ``angle``
        (0 = u, anterior; +π/2 = v)."""
        r = self.surface_radius(t) + offset_mm
        return self.to_world(t, r * np.cos(angle), r * np.sin(angle))

    def sdf(self, x, y, z, grow_mm: float = 0.0) -> np.ndarray:
        """Ventricular mass (epicardium) grown by ``grow_mm``, cut at the base."""
        radii = (self.half_length + grow_mm, self.radius + grow_mm, self.radius * 0.95 + grow_mm)
        ell = shapes.rotated_ellipsoid(x, y, z, self.centre, radii, self.rotation)
        a = [float(v) for v in self.axis]
        w = (x - float(self.base[0])) * a[0] + (y - float(self.base[1])) * a[1] + (z - float(self.base[2])) * a[2]
        return np.maximum(ell, -w - grow_mm)

    def box(self, grow_mm: float = 0.0):
        reach = self.half_length + grow_mm + 2
        return self.centre - reach, self.centre + reach

    # painting --------------------------------------------------------------------------------------
    def paint(self, canvas: Canvas, t: dict[str, Tissue], fat_mm: float = 6.0) -> dict:
        """Paint atria, epicardial fat, ventricles (LV, RV, septum, papillary muscles) and return the aortic
        root tube and atrial landmarks."""
        rng = self.rng
        u = common.uniform(rng)
        la_c = self.base - self.axis * 22 + self.v * 10 + np.array([0.0, 12.0, 12.0])
        ra_c = self.base - self.axis * 14 - self.v * 30
        la_r = (u(24, 30), u(18, 22), u(18, 22))
        ra_r = (u(20, 24),) * 3
        for centre, radii, blood in ((la_c, la_r, t["blood_pool"]), (ra_c, ra_r, t["right_blood_pool"])):
            sl = canvas.box(np.subtract(centre, max(radii) + fat_mm), np.add(centre, max(radii) + fat_mm))
            if sl is None:
                continue
            d = shapes.ellipsoid(*canvas.grid(sl), centre, radii)
            canvas.paint(sl, d - fat_mm * 0.5, t["fat"])
            canvas.paint(sl, d, t["myocardium"])
            canvas.paint(sl, d + 2.5, blood)
        lo, hi = self.box(fat_mm + 3)
        sl = canvas.box(lo, hi)
        if sl is None:
            return {}
        x, y, z = canvas.grid(sl)
        heart = self.sdf(x, y, z)
        canvas.paint(sl, heart - fat_mm + 3.0 * canvas.texture(sl, 12.0), t["fat"])
        canvas.paint(sl, heart, t["myocardium"])
        # right ventricle: a crescent anterior-right of the septum; left ventricle inside the thick wall
        rv_c = self.centre - self.v * self.radius * 0.45 - self.axis * self.half_length * 0.1
        rv = shapes.rotated_ellipsoid(x, y, z, rv_c, (self.half_length * 0.8, self.radius * 0.55, self.radius * 0.8),
                                      self.rotation)
        lv_c = self.centre + self.v * self.radius * 0.15 - self.axis * 4.0
        lv_radii = (self.half_length * 0.85, self.radius - self.myocardium_mm, self.radius * 0.9 - self.myocardium_mm - 4)
        lv = shapes.rotated_ellipsoid(x, y, z, lv_c, lv_radii, self.rotation)
        canvas.paint(sl, np.maximum(np.maximum(rv, -(lv - self.myocardium_mm)), heart + 3.0), t["right_blood_pool"])
        canvas.paint(sl, np.maximum(lv, heart + self.myocardium_mm * 0.6), t["blood_pool"])
        for side in (-1, 1):
            pc = lv_c + self.axis * self.half_length * 0.35 + self.u * side * lv_radii[1] * 0.55
            canvas.paint(sl, shapes.ellipsoid(x, y, z, pc, (4.5, 4.5, 4.5)), t["myocardium"])
        # aortic root and ascending aorta: from the base centre up, to the right and forwards
        root = self.base - self.axis * 4 - self.v * 4
        r_ao = u(13, 16)
        asc = spline_through(np.array([root, root + np.array([-6.0, -4.0, 25.0]), root + np.array([-10.0, 0.0, 60.0]),
                                       root + np.array([-8.0, 10.0, 95.0])]), 1.5)
        sinus = np.interp(np.arange(len(asc)), [0, 8, 18, len(asc)], [r_ao * 1.15, r_ao * 1.25, r_ao, r_ao * 0.95])
        return {"aortic_root": Tube(asc, sinus, "ascending aorta"), "la": (la_c, la_r), "ra": (ra_c, ra_r)}

    def coronary_paths(self, rng, step_mm: float = 0.7) -> dict[str, np.ndarray]:
        """Centrelines of the main coronary arteries on the epicardium (right-dominant circulation)."""
        u = common.uniform(rng)
        n = 60
        # left main → LAD along the anterior interventricular groove, LCx in the left AV groove
        lad_angle = -0.25 + u(-0.15, 0.15)
        t = np.linspace(4.0, self.length * u(0.92, 1.0), n)
        wobble = 0.06 * np.sin(t / self.length * np.pi * u(2, 4) + u(0, 6))
        lad = self.on_surface(t, lad_angle + wobble)
        av_t = 6.0 + u(-2, 2)
        phi = np.linspace(lad_angle + 0.2, lad_angle + 0.2 + u(1.8, 2.4), n)
        lcx = self.on_surface(np.full(n, av_t) + np.linspace(0, u(10, 25), n), phi)
        ostium_left = self.base - self.axis * 5 + self.v * 16 + self.u * 6
        lm = np.array([ostium_left, 0.5 * (ostium_left + lad[0]) + self.u * 4])
        lad = np.vstack([lm, lad])
        lcx = np.vstack([lm[-1:], lcx])
        # RCA: from the right sinus round the right AV groove to the inferior wall
        ostium_right = self.base - self.axis * 6 - self.v * 12 + self.u * 10
        phi_r = np.linspace(-0.6, -0.6 - u(2.3, 2.8), n)
        rca = self.on_surface(np.full(n, av_t + 2) + np.linspace(0, u(15, 30), n), phi_r)
        rca = np.vstack([ostium_right, rca])
        pda_t = np.linspace(av_t + 25, self.length * u(0.6, 0.8), 25)
        pda = self.on_surface(pda_t, np.full_like(pda_t, phi_r[-1]))
        rca = np.vstack([rca, pda])
        return {name: spline_through(resample(path, 6.0), step_mm)
                for name, path in (("left anterior descending", lad), ("circumflex", lcx),
                                   ("right coronary artery", rca))}

    def side_branches(self, main: np.ndarray, count: int, rng, length=(20, 40)) -> list[np.ndarray]:
        """Short branches (diagonals, marginals) leaving ``main`` and running over the epicardium."""
        out = []
        for _ in range(count):
            i = int(rng.integers(len(main) // 5, len(main) * 3 // 4))
            p0 = main[i]
            rel = p0 - self.base
            t0 = float(rel @ self.axis)
            ang0 = float(np.arctan2(rel @ self.v, rel @ self.u))
            L = rng.uniform(*length)
            ts = t0 + np.linspace(0, L * 0.8, 12)
            angs = ang0 + np.linspace(0, rng.choice([-1, 1]) * L / self.radius * 0.6, 12)
            out.append(spline_through(resample(np.vstack([p0, self.on_surface(ts, angs)[1:]]), 4.0), 0.7))
        return out


def paint_aortic_root(canvas: Canvas, t: dict[str, Tissue], tube: Tube, lumen: Tissue) -> None:
    sl, sdf = tube_sdf(canvas, [tube])
    if sl is not None:
        canvas.paint(sl, sdf - 1.5, t["wall"])
        canvas.paint(sl, sdf, lumen)
