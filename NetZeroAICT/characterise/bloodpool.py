"""Finding the blood pool in a canonical CT view and measuring its HU.

Contrast phase is read from blood, so blood has to be found without knowing the phase. Three places are
searched, each with its own anatomical landmark:

* **Aorta** (chest, abdomen, upper pelvis): a vertical tube lying on the front or the left side of the
  vertebral bodies. For every trunk slice the vertebral body is located (midline bone behind the body's
  centre), and in a box in front of and to the left of it the most attenuating *homogeneous* cylinder
  (≈ 9 mm across, 15 mm tall: a tube survives the averaging along z, a bowel loop or a rib does not) that
  holds no fat, air or cortical bone is taken as the aortic lumen. Unenhanced, that is ≈ 40 HU like the
  surrounding muscle, so the measurement reads "unenhanced" either way; enhanced, the lumen is the brightest
  homogeneous structure there.
* **Intracranial and neck vessels** (head, neck): inside the skull, tissue brighter than any brain
  (> 120 HU) that is not bone and not next to bone is vessel or dural sinus (or a calcification, which is
  small and isolated); the fraction of such voxels and their median HU are measured.
* **Limb arteries** (legs): in each leg, homogeneous bright spots in the soft tissue away from the femur or
  tibia.

Each finder returns a :class:`BloodPoolMeasure` with the HU it read, how many slices or millilitres it rests
on, and where it looked; :mod:`.contrast` turns these into a phase and a confidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

from .anatomy import Anatomy
from .canonical import CanonicalView

#: Cortical bone: a cylinder touching voxels above this is not blood.
CORTEX_HU = 700.0
#: Fat or air: a cylinder touching voxels below this is not (wholly) inside a vessel.
FAT_HU = -30.0


@dataclass
class BloodPoolMeasure:
    """Blood HU read at one site.

    Attributes:
        site: 'aorta', 'intracranial' or 'limb_arteries'.
        hu: median HU of the blood found (None when nothing usable was found).
        support: slices (aorta, limbs) or millilitres (intracranial) the value rests on.
        spread_hu: interquartile range of the per-slice values (consistency along the vessel).
        detail: anything else measured (positions, fractions), JSON-able.
    """

    site: str
    hu: float | None
    support: float
    spread_hu: float = 0.0
    detail: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"site": self.site, "hu": None if self.hu is None else round(self.hu, 1),
                "support": round(float(self.support), 1), "spread_hu": round(float(self.spread_hu), 1),
                "detail": self.detail}


def tube_statistics(hu: np.ndarray, spacing_mm) -> dict[str, np.ndarray]:
    """Local statistics at every voxel that tell a vertical tube of blood from its neighbours.

    Returns arrays of ``hu``'s shape: ``mean`` and ``std`` of HU in a 9 × 9 mm by 15 mm tall box,
    ``low`` and ``high`` (minimum, maximum) over its 9 × 9 mm cross-section, and ``std_z``, how much the
    9 × 9 mm in-plane mean varies along 30 mm of z (small in a vessel, large along the vertebral column,
    where bodies and discs alternate).
    """
    nz = max(1, int(round(15.0 / spacing_mm[0])) | 1)
    ny = max(3, int(round(9.0 / spacing_mm[1])) | 1)
    nx = max(3, int(round(9.0 / spacing_mm[2])) | 1)
    in_plane = ndi.uniform_filter(hu, size=(1, ny, nx), mode="nearest")
    mean = ndi.uniform_filter(in_plane, size=(min(nz, hu.shape[0]), 1, 1), mode="nearest")
    square = ndi.uniform_filter(hu * hu, size=(min(nz, hu.shape[0]), ny, nx), mode="nearest")
    std = np.sqrt(np.maximum(square - mean * mean, 0.0))
    nz_long = min(max(3, int(round(30.0 / spacing_mm[0])) | 1), hu.shape[0])
    mean_long = ndi.uniform_filter(in_plane, size=(nz_long, 1, 1), mode="nearest")
    square_long = ndi.uniform_filter(in_plane * in_plane, size=(nz_long, 1, 1), mode="nearest")
    std_z = np.sqrt(np.maximum(square_long - mean_long * mean_long, 0.0))
    low = ndi.minimum_filter(hu, size=(1, ny, nx), mode="nearest")
    high = ndi.maximum_filter(hu, size=(1, ny, nx), mode="nearest")
    return {"mean": mean, "std": std, "std_z": std_z, "low": low, "high": high}


def _spine(bone_slice: np.ndarray, centre_yx, spacing_mm) -> tuple[float, float] | None:
    """(y, x) in voxels of the spinal column in one slice, or None where no midline bone lies behind the centre.

    The spine is the bone within 15 mm of the body's centre line and behind a line 20 mm in front of the
    body's centre; its median position lies near the spinal canal (vertebral body in front, arches behind).
    """
    cy, cx = centre_yx
    half = max(1, int(round(15.0 / spacing_mm[2])))
    x0 = max(0, int(cx) - half)
    strip = bone_slice[:, x0:int(cx) + half + 1].copy()
    strip[:max(0, int(cy - 20.0 / spacing_mm[1]))] = False
    ys, xs = np.nonzero(strip)
    if ys.size < 3:
        return None
    return float(np.median(ys)), float(np.median(xs) + x0)


def noise_hu(tube: dict[str, np.ndarray], body: np.ndarray) -> float:
    """Image noise (HU): the 20th percentile of local standard deviation over soft tissue (0–100 HU)."""
    soft = body & (tube["mean"] > 0) & (tube["mean"] < 100)
    if soft.sum() < 50:
        return 20.0
    return float(np.percentile(tube["std"][soft], 20))


def find_aorta(view: CanonicalView, anatomy: Anatomy, trunk: np.ndarray,
               tube: dict[str, np.ndarray], noise: float) -> BloodPoolMeasure:
    """Measure the aortic lumen on the trunk slices (``trunk``: bool per z slice).

    ``tube`` is :func:`tube_statistics` of the view, ``noise`` the image noise from :func:`noise_hu`.
    """
    hu = view.hu
    sy, sx = view.spacing_mm[1], view.spacing_mm[2]
    mean, std, std_z, low, high = (tube[k] for k in ("mean", "std", "std_z", "low", "high"))
    homogeneous = 1.5 * noise + 8.0  # a lumen varies no more than noise does
    steady = 0.5 * noise + 10.0  # nor does its mean along 30 mm of the vessel
    values, offsets = [], []
    for z in np.flatnonzero(trunk):
        if np.isnan(anatomy.centre_yx[z, 0]):
            continue
        spine = _spine(anatomy.bone[z], anatomy.centre_yx[z], view.spacing_mm)
        if spine is None:
            continue
        spine_y, spine_x = spine
        y0, y1 = max(0, int(spine_y - 70.0 / sy)), int(spine_y + 10.0 / sy)
        x0, x1 = max(0, int(spine_x - 15.0 / sx)), int(spine_x + 55.0 / sx)
        window = (slice(y0, y1 + 1), slice(x0, x1 + 1))
        yy, xx = np.mgrid[window]
        # the vertebral body: an ellipse 25 mm in front of the spinal canal, 20 mm deep and 24 mm to each side
        vertebral_body = ((yy - spine_y) * sy + 25.0) ** 2 / 20.0 ** 2 + ((xx - spine_x) * sx) ** 2 / 24.0 ** 2 < 1.0
        ok = ((low[z][window] > FAT_HU) & (high[z][window] < CORTEX_HU) & anatomy.body[z][window]
              & (std[z][window] < homogeneous) & (std_z[z][window] < steady) & ~vertebral_body)
        if not ok.any():
            continue
        score = np.where(ok, mean[z][window], -np.inf)
        best = np.unravel_index(np.argmax(score), score.shape)
        values.append(float(mean[z][window][best]))
        offsets.append(((yy[best] - spine_y) * sy, (xx[best] - spine_x) * sx))
    if len(values) < 2:
        return BloodPoolMeasure("aorta", None, len(values), detail={"reason": "no vertebral column or aortic lumen found"})
    values = np.array(values)
    offsets = np.array(offsets)
    q1, q3 = np.percentile(values, [25, 75])
    return BloodPoolMeasure(
        "aorta", float(np.median(values)), len(values), float(q3 - q1),
        detail={"slices": len(values),
                "noise_hu": round(noise, 1), "offset_from_spine_mm": {"anterior": round(float(-np.median(offsets[:, 0])), 1),
                                            "left": round(float(np.median(offsets[:, 1])), 1)}})


#: Enhanced blood lies in this HU range (below, unenhanced tissue; above, bone or metal).
ENHANCED_HU = (130.0, 700.0)


def find_intracranial(view: CanonicalView, anatomy: Anatomy, head: np.ndarray) -> BloodPoolMeasure:
    """Enhanced vessels and sinuses inside the skull on the head slices (``head``: bool per z slice).

    The skull's contents are eroded by 6 mm so that bone partly filling a voxel near the skull (thick
    slices, tilt) is not read as contrast. Voxels in :data:`ENHANCED_HU` there are vessels, dural
    sinuses or calcifications; calcifications (pineal, choroid plexus) are few, compact and mostly
    brighter than 300 HU when sampled, while contrast fills a branching tree and the sinuses.
    """
    inside = anatomy.enclosed & head[:, None, None]
    inside = ndi.binary_erosion(inside, structure=np.ones((1, 5, 5), dtype=bool), iterations=1)
    hu = view.hu[inside]
    if hu.size * view.voxel_volume_ml < 20.0:
        return BloodPoolMeasure("intracranial", None, 0.0, detail={"reason": "no skull contents found"})
    bright = hu[(hu >= ENHANCED_HU[0]) & (hu <= ENHANCED_HU[1])]
    fraction = bright.size / hu.size
    brain = float(np.median(hu))
    detail = {"intracranial_ml": round(hu.size * view.voxel_volume_ml, 1), "brain_hu": round(brain, 1),
              "enhanced_fraction": round(fraction, 5)}
    if bright.size < 5:
        return BloodPoolMeasure("intracranial", None, hu.size * view.voxel_volume_ml, detail=detail)
    q1, q3 = np.percentile(bright, [25, 75])
    return BloodPoolMeasure("intracranial", float(np.median(bright)), hu.size * view.voxel_volume_ml,
                            float(q3 - q1), detail=detail)


def find_vessel_tubes(view: CanonicalView, anatomy: Anatomy, slices: np.ndarray, site: str,
                      noise: float) -> BloodPoolMeasure:
    """Enhanced arteries too small for the aorta's 9 mm cylinder (neck, limbs), on the slices ``slices``.

    A vessel running along z keeps its HU for 30 mm where a single voxel line is followed; bone keeps
    changing (cortex, marrow, vertebral bodies and discs), and is excluded anyway with everything a closed bone ring encloses
    and 3 mm around it. Counts voxels of :data:`ENHANCED_HU` whose 30 mm z-line mean is also enhanced and
    steady (varying along z by no more than ``noise`` allows); reports their volume (ml) as support and
    their median HU.
    """
    hu = view.hu
    nz = min(max(3, int(round(30.0 / view.spacing_mm[0])) | 1), hu.shape[0])
    line_mean = ndi.uniform_filter1d(hu, nz, axis=0, mode="nearest")
    line_std = np.sqrt(np.maximum(ndi.uniform_filter1d(hu * hu, nz, axis=0, mode="nearest") - line_mean ** 2, 0))
    bony = ndi.binary_dilation(anatomy.bone | anatomy.enclosed, structure=np.ones((1, 3, 3), dtype=bool))
    candidate = (slices[:, None, None] & anatomy.body & ~bony
                 & (hu >= ENHANCED_HU[0]) & (hu <= ENHANCED_HU[1])
                 & (line_mean >= ENHANCED_HU[0]) & (line_std < 1.5 * noise + 0.1 * line_mean))
    soft = slices[:, None, None] & anatomy.body & ~bony & (hu > -30) & (hu < ENHANCED_HU[1])
    volume_ml = float(candidate.sum() * view.voxel_volume_ml)
    detail = {"enhanced_ml": round(volume_ml, 2),
              "enhanced_fraction_of_soft_tissue": round(float(candidate.sum() / max(soft.sum(), 1)), 5)}
    if candidate.sum() < 5:
        return BloodPoolMeasure(site, None, volume_ml, detail=detail)
    values = hu[candidate]
    q1, q3 = np.percentile(values, [25, 75])
    return BloodPoolMeasure(site, float(np.median(values)), volume_ml, float(q3 - q1), detail=detail)
