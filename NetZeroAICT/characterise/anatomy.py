"""Measured anatomy of a canonical CT view: the body, the lungs, the skull, the spine, slice by slice.

Everything here works on a :class:`~NetZeroAICT.characterise.canonical.CanonicalView` (about 4 mm voxels,
axes Superior, Posterior, Left) and returns masks and per-slice numbers that :mod:`.regions` and
:mod:`.contrast` read. HU thresholds are the usual ones of CT: air about −1000, lung −950…−500,
fat −150…−50, soft tissue and unenhanced blood 0…80, bone from about 250 upwards.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from .canonical import CanonicalView

#: Above this a voxel belongs to the body (fat, soft tissue, bone), below it is air or lung.
BODY_HU = -400.0
#: Above this a voxel is bone (or calcification, or dense contrast).
BONE_HU = 250.0
#: Median HU range of an air-filled structure inside the body that is lung (aerated parenchyma with its
#: vessels); gas in bowel, stomach or trachea has a median near −1000.
LUNG_MEDIAN_HU = (-975.0, -550.0)
#: Smallest lung component counted, in millilitres (smaller aerated pockets are bowel gas or airway).
MIN_LUNG_ML = 20.0
#: HU range of brain (and of other soft tissue) used to recognise the skull's contents.
BRAIN_HU = (-10.0, 90.0)

_IN_PLANE = np.zeros((3, 3, 3), dtype=bool)
_IN_PLANE[1] = ndi.generate_binary_structure(2, 1)


@dataclass
class Anatomy:
    """Masks and per-slice measurements of one canonical view (all arrays have the view's (z, y, x) shape
    or one value per z slice).

    Attributes:
        body: filled body outline (table, head holder and outside air removed).
        lung: aerated lung.
        bone: voxels above :data:`BONE_HU` inside the body.
        body_area_cm2: body cross-section per slice.
        lung_fraction: lung area / body area per slice.
        bone_fraction: bone area / body area per slice.
        enclosed: voxels enclosed by a closed ring of bone in their slice (the skull's contents on head
            slices; the marrow of long bones and vertebrae elsewhere).
        skull_fraction: area enclosed by a closed bone ring and holding brain-like tissue / body area.
        leg_pair: True where the slice holds two separate limbs of similar size side by side (legs).
        lateral_bone_cm2: largest bone blob per slice lying more than 35 mm from the midline (iliac wings,
            femoral heads; ribs are thinner).
        trachea: True where a small pocket of pure air lies in the midline inside a narrow body (airway).
        centre_yx: body centroid per slice in voxel units (NaN where the slice is empty).
    """

    body: np.ndarray
    lung: np.ndarray
    bone: np.ndarray
    enclosed: np.ndarray
    body_area_cm2: np.ndarray
    lung_fraction: np.ndarray
    bone_fraction: np.ndarray
    skull_fraction: np.ndarray
    leg_pair: np.ndarray
    lateral_bone_cm2: np.ndarray
    trachea: np.ndarray
    centre_yx: np.ndarray
    lung_ml: float


def _fill_slices(mask: np.ndarray) -> np.ndarray:
    """Fill holes slice by slice (in-plane connectivity), including the first and last slices."""
    padded = np.pad(mask, ((1, 1), (0, 0), (0, 0)))
    return ndi.binary_fill_holes(padded, structure=_IN_PLANE)[1:-1]


def body_mask(hu: np.ndarray, voxel_ml: float) -> np.ndarray:
    """The patient's body: tissue above :data:`BODY_HU`, thin objects (table, head holder, blankets)
    removed by an in-plane opening, small detached objects dropped, holes (lungs, bowel gas) filled."""
    tissue = hu > BODY_HU
    opened = ndi.binary_opening(tissue, structure=_IN_PLANE, iterations=1)
    labels, n = ndi.label(opened)
    if n == 0:
        return np.zeros_like(tissue)
    sizes = np.bincount(labels.ravel())[1:] * voxel_ml
    keep = np.flatnonzero(sizes >= max(20.0, 0.02 * sizes.max())) + 1
    body = np.isin(labels, keep)
    return _fill_slices(body)


def lung_mask(hu: np.ndarray, body: np.ndarray, voxel_ml: float) -> np.ndarray:
    """Aerated lung: large air-filled components inside the body whose median HU is that of lung."""
    inner_air = body & (hu < BODY_HU)
    labels, n = ndi.label(inner_air)
    if n == 0:
        return np.zeros_like(body)
    flat = labels.ravel()
    counts = np.bincount(flat, minlength=n + 1)[1:].astype(float)
    # the median lies in LUNG_MEDIAN_HU when at least half the voxels lie on each side of its ends
    above_low = np.bincount(flat, weights=(hu.ravel() >= LUNG_MEDIAN_HU[0]), minlength=n + 1)[1:]
    below_high = np.bincount(flat, weights=(hu.ravel() <= LUNG_MEDIAN_HU[1]), minlength=n + 1)[1:]
    keep = np.flatnonzero((counts * voxel_ml >= MIN_LUNG_ML) & (above_low >= 0.5 * counts)
                          & (below_high >= 0.5 * counts)) + 1
    return np.isin(labels, keep)


def _skull_contents(hu: np.ndarray, bone: np.ndarray, area: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(per slice: brain-like tissue enclosed by a closed ring of bone as a fraction of the body area,
    mask of everything enclosed by closed bone rings)."""
    ring_closed = ndi.binary_closing(bone, structure=_IN_PLANE, iterations=1)
    enclosed = _fill_slices(ring_closed) & ~ring_closed
    brain = enclosed & (hu >= BRAIN_HU[0]) & (hu <= BRAIN_HU[1])
    return brain.sum(axis=(1, 2)) / np.maximum(area, 1), enclosed


def _limb_measures(body: np.ndarray, bone: np.ndarray, spacing_mm) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per slice: (two-legs flag, largest lateral bone blob in cm², body centroid (y, x))."""
    nz = body.shape[0]
    pixel_cm2 = spacing_mm[1] * spacing_mm[2] / 100.0
    leg_pair = np.zeros(nz, dtype=bool)
    lateral = np.zeros(nz)
    centre = np.full((nz, 2), np.nan)
    lateral_px = 35.0 / spacing_mm[2]
    for z in range(nz):
        if not body[z].any():
            continue
        labels, n = ndi.label(body[z])
        areas = np.bincount(labels.ravel())[1:] * pixel_cm2
        order = np.argsort(areas)[::-1]
        ys, xs = np.nonzero(body[z])
        centre[z] = (ys.mean(), xs.mean())
        if n >= 2:
            a1, a2 = areas[order[0]], areas[order[1]]
            if a2 >= 25.0 and a2 >= 0.3 * a1:
                c1 = ndi.center_of_mass(labels == order[0] + 1)
                c2 = ndi.center_of_mass(labels == order[1] + 1)
                gap_mm = abs(c1[1] - c2[1]) * spacing_mm[2]
                leg_pair[z] = gap_mm >= 80.0 and abs(c1[0] - c2[0]) * spacing_mm[1] < 80.0
        if leg_pair[z]:
            continue
        lat_bone = bone[z].copy()
        lat_bone[:, max(0, int(centre[z, 1] - lateral_px)):int(centre[z, 1] + lateral_px) + 1] = False
        blabels, bn = ndi.label(lat_bone)
        if bn:
            lateral[z] = np.bincount(blabels.ravel())[1:].max() * pixel_cm2
    return leg_pair, lateral, centre


def _trachea(hu: np.ndarray, body: np.ndarray, lung: np.ndarray, centre: np.ndarray, spacing_mm) -> np.ndarray:
    """Per slice: a pocket of air (median < −900 HU, 1–6 cm²) within 25 mm of the midline, not lung."""
    nz = hu.shape[0]
    found = np.zeros(nz, dtype=bool)
    pixel_cm2 = spacing_mm[1] * spacing_mm[2] / 100.0
    air = body & (hu < -900) & ~lung
    for z in range(nz):
        if not air[z].any() or np.isnan(centre[z, 1]):
            continue
        labels, n = ndi.label(air[z])
        for index in range(1, n + 1):
            blob = labels == index
            area = blob.sum() * pixel_cm2
            if 0.5 <= area <= 6.0:
                ys, xs = np.nonzero(blob)
                if abs(xs.mean() - centre[z, 1]) * spacing_mm[2] <= 25.0:
                    found[z] = True
                    break
    return found


def measure_anatomy(view: CanonicalView) -> Anatomy:
    """Segment the body, lungs and bone of ``view`` and measure them slice by slice."""
    hu = view.hu
    voxel_ml = view.voxel_volume_ml
    body = body_mask(hu, voxel_ml)
    lung = lung_mask(hu, body, voxel_ml)
    bone = body & (hu > BONE_HU)
    area_px = body.sum(axis=(1, 2)).astype(float)
    area = area_px * view.pixel_area_cm2
    lung_fraction = lung.sum(axis=(1, 2)) / np.maximum(area_px, 1)
    skull, enclosed = _skull_contents(hu, bone, area_px)
    leg_pair, lateral, centre = _limb_measures(body, bone, view.spacing_mm)
    trachea = _trachea(hu, body, lung, centre, view.spacing_mm)
    bone_fraction = bone.sum(axis=(1, 2)) / np.maximum(area_px, 1)
    return Anatomy(body=body, lung=lung, bone=bone, enclosed=enclosed, body_area_cm2=area, lung_fraction=lung_fraction,
                   bone_fraction=bone_fraction,
                   skull_fraction=skull, leg_pair=leg_pair, lateral_bone_cm2=lateral, trachea=trachea,
                   centre_yx=centre, lung_ml=float(lung.sum() * voxel_ml))
