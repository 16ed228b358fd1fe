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
    for _ in input_grid_chunks([array], grid, volume, out=[out]):
        pass
    return out


def input_grid_chunks(arrays: list[np.ndarray], grid: sitk.Image | None, volume: Volume, rows: int = 16,
                      out: list[np.ndarray | None] | None = None):
    """Yield ``(box, chunks)``: ``arrays`` (float32, model grid) brought onto ``volume``'s grid by linear
    interpolation, a few input slices (``rows`` along z) at a time, over the box where any of them is not zero;
    elsewhere they are 0 on the input grid. ``box`` is a tuple of slices (z, y, x) of the input grid and
    ``chunks`` one float32 array per input array, shaped like the box.

    A chunk is written into ``out[k][box]`` (and is that view) where ``out`` gives a full input-grid array for
    array k; otherwise into a buffer that the next chunk reuses (use or copy it before asking for the next).
    With ``grid`` None (no resampling), chunks are copies of the arrays' parts.

    The model grid shares the input's origin and direction, so voxel i of the input sits at continuous model
    index i × (input spacing / model spacing) along each axis, and trilinear interpolation is three 1-D
    interpolations (as SimpleITK does it: points up to half a voxel beyond the last centre take the edge value):
    along x by gathering columns, then along y and z row by row from views of the two neighbouring model rows
    (no gathered copies). Working chunk by chunk keeps full-size temporaries away and lets the caller finish
    each chunk (gate, add) while it is in cache.
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
    out = list(out) if out is not None else [None] * len(arrays)
    if grid is None:
        z, y, x = (slice(lo, hi) for lo, hi in box)
        for start in range(z.start, z.stop, rows):
            part = (slice(start, min(start + rows, z.stop)), y, x)
            chunks = []
            for array, target in zip(arrays, out):
                if target is None:
                    chunks.append(np.array(array[part], dtype=np.float32))
                else:
                    target[part] = array[part]
                    chunks.append(target[part])
            yield part, chunks
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
        plans.append((first, last, np.minimum(i0, n_model - 1), np.minimum(i0 + 1, n_model - 1),
                      (c - i0).astype(np.float32)))
    (z_first, z_last, z0, z1, zw), (y_first, y_last, y0, y1, yw), (x_first, x_last, x0, x1, xw) = plans
    y, x = slice(y_first, y_last), slice(x_first, x_last)
    with torch.inference_mode():
        sources = []
        for array in arrays:          # x by gathering columns, then y row by row, on the model grid's slices
            source = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
            source = torch.lerp(source.index_select(2, torch.from_numpy(x0)),
                                source.index_select(2, torch.from_numpy(x1)), torch.from_numpy(xw))
            by_y = torch.empty((source.shape[0], y_last - y_first, source.shape[2]), dtype=torch.float32)
            for row, (a, b, w) in enumerate(zip(y0, y1, yw)):
                torch.lerp(source[:, a], source[:, b], float(w), out=by_y[:, row])
            sources.append(by_y)
            del source
        buffers = [None] * len(arrays)
        for start in range(z_first, z_last, rows):
            stop = min(start + rows, z_last)
            part = (slice(start, stop), y, x)
            chunks = []
            for k, (source, target) in enumerate(zip(sources, out)):
                if target is not None:
                    chunk = target[part]
                else:
                    if buffers[k] is None or buffers[k].shape[0] != stop - start:
                        buffers[k] = np.empty((stop - start, y_last - y_first, x_last - x_first), np.float32)
                    chunk = buffers[k]
                view = torch.from_numpy(chunk)
                for row in range(start, stop):
                    i = row - z_first
                    torch.lerp(source[int(z0[i])], source[int(z1[i])], float(zw[i]), out=view[row - start])
                chunks.append(chunk)
            yield part, chunks


def to_input_grid_sitk(array: np.ndarray, grid: sitk.Image | None, volume: Volume) -> np.ndarray:
    """:func:`to_input_grid` by SimpleITK's resampling (the reference it is tested against)."""
    if grid is None:
        return array
    image = sitk.GetImageFromArray(array)
    image.CopyInformation(grid)
    reference = _reference(volume.shape_ijk, volume.spacing_mm, volume)
    out = sitk.Resample(image, reference, sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    return sitk.GetArrayFromImage(out)


def network_axes(direction_lps) -> tuple[tuple[int, int, int], tuple[int, ...]]:
    """How to turn a (z, y, x) array on a grid of ``direction_lps`` into the order the networks see:
    (Superior, Posterior, Left), the order of the phantoms they are trained on.

    Returns the transpose of the array's axes and the axes of the transposed array to flip. The nearest patient
    axis is used for each voxel axis (:func:`~NetZeroAICT.characterise.canonical.patient_axes`), so an oblique
    grid keeps its voxels and is only reordered. The grid itself does not change: only the order in which the
    network reads its voxels, so its output comes back with :func:`from_network_order` exactly.
    """
    from ..characterise.canonical import patient_axes

    axes, flipped = patient_axes(direction_lps)
    return tuple(2 - v for v in axes), tuple(a for a, f in enumerate(flipped) if f)


def in_network_order(direction_lps) -> bool:
    """Whether a grid of ``direction_lps`` already stores its voxels in the networks' order."""
    transpose, flips = network_axes(direction_lps)
    return transpose == (0, 1, 2) and not flips


def to_network_order(array: np.ndarray, direction_lps) -> np.ndarray:
    """``array`` (z, y, x) of a grid with ``direction_lps`` as (Superior, Posterior, Left); the array itself
    when the grid is already in that order (a NIfTI written from RAS, e.g. by dcm2niix, is not: its rows run
    anterior and its columns to the patient's right)."""
    if in_network_order(direction_lps):
        return array
    transpose, flips = network_axes(direction_lps)
    out = np.transpose(array, transpose)
    return np.ascontiguousarray(np.flip(out, axis=flips) if flips else out)


def from_network_order(array: np.ndarray, direction_lps) -> np.ndarray:
    """The inverse of :func:`to_network_order`: a network-order array back in the grid's (z, y, x) order."""
    if in_network_order(direction_lps):
        return array
    transpose, flips = network_axes(direction_lps)
    out = np.flip(array, axis=flips) if flips else array
    return np.ascontiguousarray(np.transpose(out, np.argsort(transpose)))
