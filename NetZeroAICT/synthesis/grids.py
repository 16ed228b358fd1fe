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
    """Bring a float32 array on the model grid back onto ``volume``'s grid (outside: 0).

    The same numbers as SimpleITK's linear resampling (:func:`to_input_grid_sitk`; tested), computed faster
    by :func:`input_grid_chunks`.
    """
    if grid is None:
        return array
    out = np.zeros(volume.voxels.shape, dtype=np.float32)
    for box, (chunk,) in input_grid_chunks([array], grid, volume):
        out[box] = chunk
    return out


def input_grid_chunks(arrays: list[np.ndarray], grid: sitk.Image | None, volume: Volume, rows: int = 16):
    """Yield ``(box, chunks)``: ``arrays`` (float32, model grid) brought onto ``volume``'s grid by linear
    interpolation, a few input slices (``rows`` along z) at a time, over the box where any of them is not zero;
    elsewhere they are 0 on the input grid. ``box`` is a tuple of slices (z, y, x) of the input grid and
    ``chunks`` one new float32 array per input array, shaped like the box. With ``grid`` None (no resampling),
    chunks are copies of the arrays' parts.

    The model grid shares the input's origin and direction, so voxel i of the input sits at continuous model
    index i × (input spacing / model spacing) along each axis, and trilinear interpolation is three 1-D
    interpolations (as SimpleITK does it: points up to half a voxel beyond the last centre take the edge value).
    Working chunk by chunk keeps the full-size temporaries away and lets the caller finish each chunk (gate,
    add) while it is in cache.
    """
    import torch

    nonzero = np.zeros(arrays[0].shape, dtype=bool)
    for array in arrays:
        nonzero |= array != 0
    box = []
    for axis in range(3):
        hit = np.flatnonzero(nonzero.any(axis=tuple(a for a in range(3) if a != axis)))
        if hit.size == 0:
            return
        box.append((int(hit[0]), int(hit[-1]) + 1))
    del nonzero
    if grid is None:
        z, y, x = (slice(lo, hi) for lo, hi in box)
        for start in range(z.start, z.stop, rows):
            part = (slice(start, min(start + rows, z.stop)), y, x)
            yield part, [np.array(a[part], dtype=np.float32) for a in arrays]
        return
    shape = volume.voxels.shape
    scales = [s_in / s_model for s_in, s_model in zip(volume.spacing_mm[::-1], grid.GetSpacing()[::-1])]
    plans = []   # per axis (z, y, x): output range, the two model indices and the weight of each output voxel
    for (lo, hi), n_model, n_out, scale in zip(box, arrays[0].shape, shape, scales):
        c = np.arange(n_out, dtype=np.float64) * scale
        index = np.flatnonzero((c > lo - 1) & (c < hi) & (c <= n_model - 0.5))
        if index.size == 0:
            return
        first, last = int(index[0]), int(index[-1]) + 1
        c = c[first:last]
        i0 = np.floor(c).astype(np.int64)
        plans.append((first, last, torch.from_numpy(np.minimum(i0, n_model - 1)),
                      torch.from_numpy(np.minimum(i0 + 1, n_model - 1)), torch.from_numpy((c - i0).astype(np.float32))))
    with torch.inference_mode():
        sources = []
        for array in arrays:          # x, then y, on the (small) model grid's slices
            source = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
            for axis in (2, 1):
                _, _, i0, i1, w = plans[axis]
                view = [1, 1, 1]
                view[axis] = -1
                source = torch.lerp(source.index_select(axis, i0), source.index_select(axis, i1), w.view(view))
            sources.append(source)
        first, last, i0, i1, w = plans[0]
        y = slice(plans[1][0], plans[1][1])
        x = slice(plans[2][0], plans[2][1])
        for start in range(0, last - first, rows):
            stop = min(start + rows, last - first)
            weight = w[start:stop].view(-1, 1, 1)
            chunks = [torch.lerp(source.index_select(0, i0[start:stop]), source.index_select(0, i1[start:stop]),
                                 weight).numpy() for source in sources]
            yield (slice(first + start, first + stop), y, x), chunks


def to_input_grid_sitk(array: np.ndarray, grid: sitk.Image | None, volume: Volume) -> np.ndarray:
    """:func:`to_input_grid` by SimpleITK's resampling (the reference it is tested against)."""
    if grid is None:
        return array
    image = sitk.GetImageFromArray(array)
    image.CopyInformation(grid)
    reference = _reference(volume.shape_ijk, volume.spacing_mm, volume)
    out = sitk.Resample(image, reference, sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    return sitk.GetArrayFromImage(out)
