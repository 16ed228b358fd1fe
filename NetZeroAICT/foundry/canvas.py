"""The canvas a phantom is painted on: one grid, two phases, tissue labels, partial volume.

Everything is painted from signed distance fields (SDF, millimetres, negative inside) evaluated only inside a
bounding box. A structure covers a voxel by the fraction ``f = clip(0.5 − sdf / edge_mm, 0, 1)``, so edges
carry partial volume over about one voxel, as a CT image shows them. Painting blends that fraction of the
tissue's HU over what lies beneath, in the non-contrast image and in the *enhancement* (CTA − NCCT) at once:

    ncct ← ncct + f (hu_ncct − ncct)          enhancement ← enhancement + f ((hu_cta − hu_ncct) − enhancement)

so a voxel no enhancing structure touches has enhancement exactly 0 and is bit-identical in both phases.
Coordinates are LPS millimetres with the volume centred on the origin: x = i (towards the patient's left),
y = j (posterior), z = k (superior). Arrays are indexed (k, j, i).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tissue:
    """One tissue class of a phantom.

    Attributes:
        label: id in the tissue label map (1–255; 0 is air outside the body).
        name: what a radiologist calls it.
        hu: unenhanced HU (mean).
        cta_hu: HU in the arterial phase; None means the same as ``hu`` (not enhancing).
    """

    label: int
    name: str
    hu: float
    cta_hu: float | None = None

    @property
    def enhancing(self) -> bool:
        return self.cta_hu is not None and self.cta_hu != self.hu


class Canvas:
    """A phantom under construction: NCCT, enhancement, tissue labels and a pathology mask on one grid.

    Args:
        shape_ijk: number of voxels along (i, j, k).
        spacing_mm: isotropic voxel size in millimetres.
        rng: the case's random generator (every random draw goes through it, so a seed fixes the case).
    """

    def __init__(self, shape_ijk: tuple[int, int, int], spacing_mm: float, rng: np.random.Generator):
        ni, nj, nk = (int(n) for n in shape_ijk)
        self.shape = (nk, nj, ni)
        self.h = float(spacing_mm)
        self.rng = rng
        self.x = ((np.arange(ni) - (ni - 1) / 2) * self.h).astype(np.float32)
        self.y = ((np.arange(nj) - (nj - 1) / 2) * self.h).astype(np.float32)
        self.z = ((np.arange(nk) - (nk - 1) / 2) * self.h).astype(np.float32)
        self.half_extent_mm = np.array([self.x[-1], self.y[-1], self.z[-1]], dtype=np.float64)
        self.ncct = np.full(self.shape, -1000.0, dtype=np.float32)
        self.enhancement = np.zeros(self.shape, dtype=np.float32)
        self.labels = np.zeros(self.shape, dtype=np.uint8)
        self.pathology = np.zeros(self.shape, dtype=np.uint8)
        self.edge_mm = 1.2 * self.h
        self.tissues: dict[int, Tissue] = {}

    # -- boxes and coordinates ----------------------------------------------------------------------
    def box(self, lo_mm, hi_mm) -> tuple[slice, slice, slice] | None:
        """Index slices (k, j, i) of the voxels whose centres lie in the box [lo, hi] (x, y, z mm) grown by
        one voxel, or None when that is empty."""
        slices = []
        for axis, coords in ((2, self.z), (1, self.y), (0, self.x)):
            start = max(int(np.ceil((float(lo_mm[axis]) - self.h - coords[0]) / self.h)), 0)
            stop = min(int(np.floor((float(hi_mm[axis]) + self.h - coords[0]) / self.h)) + 1, len(coords))
            if stop <= start:
                return None
            slices.append(slice(start, stop))
        return tuple(slices)

    def full(self) -> tuple[slice, slice, slice]:
        return (slice(None), slice(None), slice(None))

    def grid(self, sl) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Broadcastable coordinate arrays (x, y, z) in mm of the voxels of a box."""
        return (self.x[sl[2]][None, None, :], self.y[sl[1]][None, :, None], self.z[sl[0]][:, None, None])

    # -- painting -----------------------------------------------------------------------------------
    def fraction(self, sdf: np.ndarray) -> np.ndarray:
        """Partial-volume coverage (0–1, float32) of a voxel by a structure with signed distance ``sdf`` (mm):
        a linear ramp one edge width (≈ 1.2 voxels) wide, centred on the surface."""
        f = np.asarray(sdf, dtype=np.float32) * np.float32(-1.0 / self.edge_mm)
        f += np.float32(0.5)
        return np.clip(f, 0.0, 1.0, out=f)

    def paint(self, sl, sdf: np.ndarray, tissue: Tissue, hu=None, cta_hu=None, pathology: bool = False,
              within: np.ndarray | None = None) -> np.ndarray:
        """Blend ``tissue`` over the box ``sl`` where ``sdf`` < 0 (partial volume at the edge).

        Args:
            sl: the box (from :meth:`box`), or None to do nothing.
            sdf: signed distance (mm) of the voxels of the box, any broadcastable shape.
            tissue: tissue class; its HU unless ``hu``/``cta_hu`` (scalars or arrays over the box) override;
                with only ``hu`` given, the tissue's enhancement (cta_hu − hu) is added to it in the CTA.
            pathology: also mark the covered voxels in the pathology mask.
            within: optional coverage (0–1) that limits the fraction (e.g. "only inside the lumen").
        Returns the coverage fraction painted (shape of the box).
        """
        if sl is None:
            return np.zeros((0, 0, 0), np.float32)
        self.tissues[tissue.label] = tissue
        box_shape = self.ncct[sl].shape
        f = np.broadcast_to(self.fraction(sdf), box_shape)
        if within is not None:
            f = f * within
        if not f.any():
            return f
        hu_n = tissue.hu if hu is None else hu
        if cta_hu is not None:
            enh = cta_hu - hu_n
        else:
            enh = (tissue.cta_hu - tissue.hu) if tissue.enhancing else 0.0
        view = self.ncct[sl]
        view += f * (np.float32(hu_n) - view) if np.isscalar(hu_n) else f * (hu_n - view)
        enh_view = self.enhancement[sl]
        if np.isscalar(enh) and enh == 0.0:
            enh_view *= 1.0 - f
        else:
            enh_view += f * (enh - enh_view)
        covered = f >= 0.5
        self.labels[sl][covered] = tissue.label
        if pathology:
            self.pathology[sl][covered] = 1
        return f

    def fill(self, tissue: Tissue, sdf_fn, lo_mm, hi_mm, **kwargs) -> tuple | None:
        """Paint ``tissue`` where ``sdf_fn(x, y, z)`` < 0 inside the box [lo, hi]; returns the box."""
        sl = self.box(lo_mm, hi_mm)
        if sl is not None:
            self.paint(sl, sdf_fn(*self.grid(sl)), tissue, **kwargs)
        return sl

    # -- texture ------------------------------------------------------------------------------------
    def texture(self, sl, scale_mm: float) -> np.ndarray:
        """Smooth random field (mean 0, s.d. ≈ 1, float32) over a box, with features about ``scale_mm`` wide.

        White noise on a lattice of pitch ``scale_mm`` interpolated linearly onto the voxels of the box.
        """
        x, y, z = (a.ravel() for a in self.grid(sl))
        axes = []
        for coords in (z, y, x):
            u = (coords - coords[0]) / scale_mm
            i0 = np.floor(u).astype(np.int64)
            axes.append((i0, (u - i0).astype(np.float32), int(i0[-1]) + 2))
        field = self.rng.standard_normal((axes[0][2], axes[1][2], axes[2][2])).astype(np.float32)
        for axis, (i0, w, _) in enumerate(axes):
            a = np.take(field, i0, axis=axis)
            b = np.take(field, i0 + 1, axis=axis)
            shape = [1, 1, 1]
            shape[axis] = -1
            w = w.reshape(shape)
            field = a + (b - a) * w
        return field * np.float32(1.6)  # linear interpolation lowers the s.d. of white noise to about 0.6
