"""Virtual non-contrast (VNC) from a real contrast-enhanced CT: a training NCCT where none was scanned.

Enhanced blood (vessels, heart, kidneys' cortex) and enhanced parenchyma (liver, spleen, pancreas) are
brought back to unenhanced HU; bone, air, fat and calcium stay exactly as scanned. The image noise and
fine texture are kept: only a *smooth* enhancement estimate is subtracted,

    vnc = ct − w · (smooth(ct) − target)

where ``smooth`` is a Gaussian of about 1.5 mm, ``target`` the unenhanced HU of the class (blood 42 HU,
parenchyma 55 HU) and ``w`` (0–1) how surely the voxel is enhanced blood or parenchyma: blood in regions (≥ 20 mm³)
whose smoothed HU lies in 130–600, grown by two voxels with a ramp over 60–110 HU, parenchyma where it lies above 75 (ramped over 65–75),
never inside bone or calcium (raw > 350 HU; bone grown by 2 mm, closed over 10 mm gaps and its marrow
filled in) nor in fat or air.
With a lumen mask the blood class is the mask (grown by one voxel with a ramp) instead of the HU rule.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..errors import NetZeroAICTError
from ..volume import Volume

BLOOD_TARGET_HU = 42.0
PARENCHYMA_TARGET_HU = 55.0
BONE_HU = 350.0


def _ramp(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.clip((x - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)


def bone_and_calcium(ct: np.ndarray, spacing_mm) -> np.ndarray:
    """Bone (cortex grown by 2 mm, marrow enclosed by it filled in per slice) and calcifications (raw voxels
    above 350 HU grown by one voxel)."""
    dense = ct > BONE_HU
    sizes_mm3 = float(np.prod(spacing_mm))
    labels, n = ndimage.label(dense)
    if n == 0:
        return dense
    counts = np.bincount(labels.ravel())
    big = counts * sizes_mm3 > 400.0          # bone pieces; smaller dense spots are calcium
    big[0] = False
    bone = big[labels]
    grow = max(1, int(round(2.0 / min(spacing_mm[:2]))))
    bone = ndimage.binary_dilation(bone, iterations=grow)
    # close gaps in thin cortex (up to ≈ 10 mm) in each slice so that the marrow it encloses is filled in
    close = max(1, int(round(5.0 / min(spacing_mm[:2]))))
    disk = ndimage.iterate_structure(ndimage.generate_binary_structure(2, 1), close)
    for k in range(bone.shape[0]):
        closed = ndimage.binary_closing(np.pad(bone[k], close), structure=disk)[close:-close, close:-close]
        bone[k] = ndimage.binary_fill_holes(closed)
    calcium = ndimage.binary_dilation(dense & ~big[labels])
    return bone | calcium


def enhancement_weights(ct: np.ndarray, spacing_mm, lumen: np.ndarray | None = None):
    """(smooth HU, blood weight, parenchyma weight), float32 arrays (k, j, i)."""
    sigma = [1.5 / s for s in reversed(spacing_mm)]
    smooth = ndimage.gaussian_filter(ct.astype(np.float32), sigma=sigma)
    protected = bone_and_calcium(ct, spacing_mm)
    if lumen is not None:
        mask = lumen > 0
        blood = np.maximum(mask.astype(np.float32), 0.5 * ndimage.binary_dilation(mask).astype(np.float32))
        blood *= _ramp(smooth, 60.0, 100.0)
    else:
        # cores of sizeable enhanced regions (isolated bright noise is not blood), then their partial-volume
        # rim two voxels wide, weighted by how bright the smoothed image still is there
        core, n = ndimage.label((smooth > 130.0) & (smooth < 600.0) & ~protected)
        keep = np.zeros(1, bool)
        if n:
            keep = np.bincount(core.ravel()) * float(np.prod(spacing_mm)) >= 20.0
            keep[0] = False
        region = ndimage.binary_dilation(keep[core], iterations=2)
        blood = _ramp(smooth, 60.0, 110.0) * region
    parenchyma = _ramp(smooth, 65.0, 75.0) * (1.0 - blood)
    for w in (blood, parenchyma):
        w[protected] = 0.0
    return smooth, blood, parenchyma


def virtual_non_contrast(cta: Volume, lumen: Volume | None = None) -> tuple[Volume, Volume]:
    """Return (VNC volume, blood mask found or used), both on the CT's grid.

    Args:
        cta: contrast-enhanced CT (any phase with opacified blood), HU.
        lumen: optional mask of the enhanced lumen; found automatically when None.
    """
    if lumen is not None and not lumen.same_grid(cta):
        raise NetZeroAICTError("the lumen mask is not on the CT's grid", where=str(lumen.metadata.get("source", "lumen")),
                               hint="give a mask made on this CT (same size, spacing and position)")
    ct = cta.voxels.astype(np.float32)
    smooth, blood, parenchyma = enhancement_weights(ct, cta.spacing_mm, None if lumen is None else lumen.voxels)
    vnc = ct - blood * np.maximum(smooth - BLOOD_TARGET_HU, 0.0) \
        - parenchyma * np.maximum(smooth - PARENCHYMA_TARGET_HU, 0.0)
    vnc = np.where(blood + parenchyma > 0, np.rint(vnc), ct).astype(np.float32)
    description = "SYNTHETIC virtual non-contrast (from a contrast CT)"
    out = cta.with_voxels(vnc, description=description, synthetic=True, phase="virtual_non_contrast")
    mask = cta.with_voxels((blood >= 0.5).astype(np.uint8), description="blood found for virtual non-contrast")
    return out, mask
