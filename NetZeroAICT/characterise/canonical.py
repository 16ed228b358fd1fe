"""A small, patient-oriented copy of a volume that every measurement of characterisation works on.

Characterising a CT needs anatomy at a coarse scale only (organs, aorta, lungs, skull), so the voxels are
subsampled to about :data:`TARGET_SPACING_MM` (no finer than the input) and reordered so that the array axes point the same way for
every input, whatever the file's orientation:

    canonical[z, y, x]:  z grows towards the head (Superior), y towards the back (Posterior),
                         x towards the patient's Left — LPS with the slice axis first.

A 512×512×400 CT at 0.8 mm × 1 mm becomes 103×103×100 voxels (4 mm), which keeps a full characterisation well
under a second. The nearest patient axis is used for each voxel axis, so a tilted acquisition (gantry tilt)
is treated as if it were straight; a tilt of 20° moves a slice's position by a few millimetres, which is
below the resolution used here.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from ..volume import Volume

#: Voxel size the canonical copy aims for, in millimetres (in-plane and along z).
TARGET_SPACING_MM = 4.0


@dataclass
class CanonicalView:
    """Subsampled voxels in patient orientation.

    Attributes:
        hu: float32 array (z, y, x) = (Superior, Posterior, Left) in HU.
        spacing_mm: voxel size along (z, y, x) in millimetres.
        axis_of_volume: for z, y, x, the index of the volume's voxel axis (0 = i, 1 = j, 2 = k) it came from.
        flipped: for z, y, x, whether that volume axis runs opposite to the patient axis.
        strides: subsampling step along (z, y, x) in source voxels.
    """

    hu: np.ndarray
    spacing_mm: tuple[float, float, float]
    axis_of_volume: tuple[int, int, int]
    flipped: tuple[bool, bool, bool]
    strides: tuple[int, int, int]

    @property
    def voxel_volume_ml(self) -> float:
        """Volume of one canonical voxel in millilitres (cm³)."""
        return float(np.prod(self.spacing_mm)) / 1000.0

    @property
    def pixel_area_cm2(self) -> float:
        """Area of one canonical voxel in an axial slice in cm²."""
        return self.spacing_mm[1] * self.spacing_mm[2] / 100.0

    def z_mm(self) -> np.ndarray:
        """Height of each canonical slice above the lowest one, in millimetres."""
        return np.arange(self.hu.shape[0]) * self.spacing_mm[0]


def patient_axes(direction_lps: np.ndarray) -> tuple[tuple[int, int, int], tuple[bool, bool, bool]]:
    """Match the volume's voxel axes (i, j, k) to the patient axes (x=L, y=P, z=S).

    Returns, for the patient axes in the order (z, y, x), the voxel axis (0=i, 1=j, 2=k) that runs most
    nearly along it, and whether it runs the opposite way. The assignment is the permutation with the
    largest total alignment, so every voxel axis is used once even for oblique orientations.
    """
    direction = np.asarray(direction_lps, dtype=np.float64).reshape(3, 3)  # rows: L, P, S; columns: i, j, k
    best = max(itertools.permutations(range(3)),
               key=lambda perm: sum(abs(direction[lps, perm[lps]]) for lps in range(3)))
    # best[lps] is the voxel axis for LPS axis lps (0=L/x, 1=P/y, 2=S/z); reorder to (z, y, x)
    axes = (best[2], best[1], best[0])
    flipped = tuple(bool(direction[lps, best[lps]] < 0) for lps in (2, 1, 0))
    return axes, flipped


def canonical_view(volume: Volume, target_mm: float = TARGET_SPACING_MM) -> CanonicalView:
    """Subsample ``volume`` to about ``target_mm`` voxels and reorder it to (Superior, Posterior, Left).

    Subsampling takes every n-th voxel (no averaging): it costs almost nothing on a large volume, and the
    measurements that follow average over whole structures.
    """
    axes, flipped = patient_axes(volume.direction_lps)
    spacing_ijk = volume.spacing_mm
    strides_ijk = [max(1, int(target_mm / s + 1e-6)) for s in spacing_ijk]
    # voxel axis v (0=i,1=j,2=k) is array axis 2 - v of voxels (k, j, i)
    sub = volume.voxels[::strides_ijk[2], ::strides_ijk[1], ::strides_ijk[0]]
    array_axes = [2 - v for v in axes]
    hu = np.transpose(sub, array_axes)
    flips = tuple(a for a, f in enumerate(flipped) if f)
    if flips:
        hu = np.flip(hu, axis=flips)
    hu = np.ascontiguousarray(hu, dtype=np.float32)
    spacing = tuple(float(spacing_ijk[v] * strides_ijk[v]) for v in axes)
    strides = tuple(strides_ijk[v] for v in axes)
    return CanonicalView(hu=hu, spacing_mm=spacing, axis_of_volume=tuple(axes), flipped=flipped, strides=strides)
