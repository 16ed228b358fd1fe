"""Virtual non-contrast (VNC) from a real contrast-enhanced CT: a training NCCT where none was scanned.

Enhanced blood (vessels, heart, kidneys' cortex) and enhanced parenchyma (liver, spleen, pancreas) are
brought back to unenhanced HU; bone, air, fat and calcium stay exactly as scanned. The image noise and
fine texture are kept: only a *smooth* enhancement estimate is subtracted,

    vnc = ct − w · (smooth(ct) − target)

where ``smooth`` is a Gaussian of about 1.5 mm (for blood, normalised to the blood core, so small vessels are not
diluted by their surroundings), ``target`` the unenhanced HU of the class (blood 42 HU,
parenchyma 55 HU) and ``w`` (0–1) how surely the voxel is enhanced blood or parenchyma: blood in regions (≥ 20 mm³)
whose smoothed HU lies in 130–600 (core above 110 HU; a two-voxel rim loses only what it is brighter than
blood), parenchyma where it lies above 75 (ramped over 65–75),
never inside bone or calcium (raw > 350 HU, except an opacified lumen: see :func:`bone_and_calcium`; bone grown
by 2 mm, closed over 10 mm gaps and its marrow filled in) nor in fat or air.
With a lumen mask the blood core is the mask (its rim one voxel around it) instead of the HU rule.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..errors import NetZeroAICTError
from ..volume import Volume

BLOOD_TARGET_HU = 42.0
PARENCHYMA_TARGET_HU = 55.0
BONE_HU = 350.0
#: Cortex: a big piece above BONE_HU is bone when at least CORTEX_SHARE of it is above CORTEX_HU.
CORTEX_HU = 600.0
CORTEX_SHARE = 0.02
#: ... and its voxels' median absolute deviation from their median is below this (blood: one density + noise).
BLOOD_MAX_MAD_HU = 20.0
#: ... and it holds at least this much (mL): smaller dense pieces (ribs in partial volume) stay protected.
BLOOD_MIN_ML = 5.0
#: Inside such a blood piece, voxels this far above its median HU are calcium.
CALCIUM_ABOVE_BLOOD_HU = 150.0


def _ramp(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.clip((x - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)


def bone_and_calcium(ct: np.ndarray, spacing_mm) -> np.ndarray:
    """Bone (pieces above 350 HU of over 400 mm³, unless they are opacified blood; grown by 2 mm, the marrow they
    enclose filled in per slice) and calcifications (smaller pieces above 350 HU, and inside a blood piece the
    voxels 150 HU above its median; grown by one voxel).

    An arterial-phase lumen reaches 350–600 HU. A piece is blood, neither bone nor calcium, when it holds at least
    5 mL, under 2 % of it is above 600 HU (cortex) and its median absolute deviation is under 20 HU. On aorta
    phantoms at 1.5–3 mm: bone pieces hold 0–35 % cortex with a deviation of 21–87 HU, or are under 5 mL (ribs in
    partial volume, down to 8 HU); aortas 0–1.7 % (the most with heavy wall calcium) with 4–13 HU. A lumen that
    is smaller or noisier than that stays as scanned, as bone does.
    """
    dense = ct > BONE_HU
    sizes_mm3 = float(np.prod(spacing_mm))
    labels, n = ndimage.label(dense)
    if n == 0:
        return dense
    counts = np.bincount(labels.ravel())
    big = counts * sizes_mm3 > 400.0
    big[0] = False
    cortical = np.bincount(labels.ravel(), weights=(ct > CORTEX_HU).ravel(), minlength=n + 1)
    blood_piece = (counts * sizes_mm3 >= 1000.0 * BLOOD_MIN_ML) & (cortical < CORTEX_SHARE * counts)
    blood_piece[0] = False
    small = ~big
    small[0] = False
    calcium = small[labels]
    if blood_piece.any():   # blood is one density plus noise; bone spreads over hundreds of HU
        ids = np.flatnonzero(blood_piece)
        inside = blood_piece[labels]            # statistics over these pieces' own voxels only
        values, owners = ct[inside], labels[inside]
        level = np.zeros(n + 1, dtype=np.float32)
        level[ids] = ndimage.median(values, owners, ids)
        spread = np.asarray(ndimage.median(np.abs(values - level[owners]), owners, ids))
        blood_piece[ids[spread >= BLOOD_MAX_MAD_HU]] = False
        calcium[inside] = blood_piece[owners] & (values > level[owners] + CALCIUM_ABOVE_BLOOD_HU)
    bone_piece = big & ~blood_piece
    bone = bone_piece[labels]
    del labels
    grow = max(1, int(round(2.0 / min(spacing_mm[:2]))))
    bone = ndimage.binary_dilation(bone, iterations=grow)
    # close gaps in thin cortex (up to ≈ 10 mm) in each slice so that the marrow it encloses is filled in
    close = max(1, int(round(5.0 / min(spacing_mm[:2]))))
    disk = ndimage.iterate_structure(ndimage.generate_binary_structure(2, 1), close)
    for k in range(bone.shape[0]):
        closed = ndimage.binary_closing(np.pad(bone[k], close), structure=disk)[close:-close, close:-close]
        bone[k] = ndimage.binary_fill_holes(closed)
    return bone | ndimage.binary_dilation(calcium)


def blood_regions(ct: np.ndarray, spacing_mm, lumen: np.ndarray | None = None):
    """Where enhanced blood is. Returns (smooth HU, blood core, blood region with its partial-volume rim,
    parenchyma weight 0–1, the blood core's own smoothed HU); arrays (k, j, i)."""
    sigma = [1.5 / s for s in reversed(spacing_mm)]
    smooth = ndimage.gaussian_filter(ct.astype(np.float32), sigma=sigma)
    protected = bone_and_calcium(ct, spacing_mm)
    if lumen is not None:
        core = (lumen > 0) & ~protected
        region = ndimage.binary_dilation(core) & ~protected
    else:
        # cores of sizeable enhanced regions (isolated bright noise is not blood), grown by two voxels
        labels, n = ndimage.label((smooth > 130.0) & (smooth < 600.0) & ~protected)
        keep = np.zeros(1, bool)
        if n:
            keep = np.bincount(labels.ravel()) * float(np.prod(spacing_mm)) >= 20.0
            keep[0] = False
        region = ndimage.binary_dilation(keep[labels], iterations=2) & ~protected
        core = region & (smooth > 110.0)
    parenchyma = _ramp(smooth, 65.0, 75.0)
    parenchyma[region | protected] = 0.0
    # the blood's own smoothed HU (normalised convolution over the core), not diluted by its surroundings
    weight = ndimage.gaussian_filter(core.astype(np.float32), sigma=sigma)
    blood_hu = ndimage.gaussian_filter(np.where(core, ct, 0.0).astype(np.float32), sigma=sigma) / np.maximum(weight, 1e-3)
    blood_hu = np.where(weight > 1e-3, blood_hu, smooth)
    return smooth, core, region, parenchyma, blood_hu


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
    smooth, core, region, parenchyma, blood_hu = blood_regions(ct, cta.spacing_mm, None if lumen is None else lumen.voxels)
    excess = np.maximum(blood_hu - BLOOD_TARGET_HU, 0.0)
    # the core loses all its enhancement; its rim (partly blood) only what it is brighter than blood
    amount = np.where(core, excess, np.where(region, np.clip(smooth - BLOOD_TARGET_HU, 0.0, excess), 0.0))
    amount += parenchyma * np.maximum(smooth - PARENCHYMA_TARGET_HU, 0.0)
    vnc = np.where(amount > 0, np.rint(ct - amount), ct).astype(np.float32)
    description = "SYNTHETIC virtual non-contrast (from a contrast CT)"
    out = cta.with_voxels(vnc, description=description, synthetic=True, phase="virtual_non_contrast")
    mask = cta.with_voxels(core.astype(np.uint8), description="blood found for virtual non-contrast")
    return out, mask
