"""Moving voxels between the input's grid and the model's isotropic grid.

The model grid shares the input's origin (centre of voxel 0) and direction and covers the same extent at
``spacing_mm`` along every axis. Results come back onto the exact input grid (same shape, spacing, origin,
direction) by linear interpolation, so the output overlays the input voxel for voxel.
"""

from __future__ import annotations

import math

import numpy as np
import SimpleITK as sitk

from ..volume import Volume

#: Relative spacing difference under which the input grid is used as it is (no resampling).
SAME_SPACING_TOLERANCE = 0.02


def needs_resampling(volume: Volume, spacing_mm: float) -> bool:
    return any(abs(s - spacing_mm) > SAME_SPACING_TOLERANCE * spacing_mm for s in volume.spacing_mm)


def _reference(size_ijk, spacing_ijk, volume: Volume) -> sitk.Image:
    ref = sitk.Image([int(n) for n in size_ijk], sitk.sitkUInt8)
    ref.SetSpacing(tuple(float(s) for s in spacing_ijk))
    ref.SetOrigin(volume.origin_lps)
    ref.SetDirection(tuple(volume.direction_lps.ravel()))
    return ref


def model_grid(volume: Volume, spacing_mm: float) -> sitk.Image:
    """An empty image (geometry only) of the model grid over ``volume``."""
    size = [max(int(math.floor((n - 1) * s / spacing_mm + 1e-6)) + 1, 1)
            for n, s in zip(volume.shape_ijk, volume.spacing_mm)]
    return _reference(size, (spacing_mm,) * 3, volume)


def to_model_grid(volume: Volume, spacing_mm: float) -> tuple[np.ndarray, sitk.Image | None]:
    """NCCT voxels (z, y, x) float32 HU at the model spacing, and the model grid (None when unchanged)."""
    if not needs_resampling(volume, spacing_mm):
        return np.asarray(volume.voxels, dtype=np.float32), None
    grid = model_grid(volume, spacing_mm)
    image = sitk.Resample(volume.to_sitk(), grid, sitk.Transform(), sitk.sitkLinear, -1024.0, sitk.sitkFloat32)
    return sitk.GetArrayFromImage(image), grid


def to_input_grid(array: np.ndarray, grid: sitk.Image | None, volume: Volume) -> np.ndarray:
    """Bring a float32 array on the model grid back onto ``volume``'s grid (outside: 0)."""
    if grid is None:
        return array
    image = sitk.GetImageFromArray(array)
    image.CopyInformation(grid)
    reference = _reference(volume.shape_ijk, volume.spacing_mm, volume)
    out = sitk.Resample(image, reference, sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    return sitk.GetArrayFromImage(out)
