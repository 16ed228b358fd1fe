"""Finding the blood pool in a canonical CT view and measuring its HU.

Contrast phase is read from blood, so blood has to be found without knowing the phase. Four places are
searched, each with its own anatomical landmark:

* **Aorta** (chest, abdomen, upper pelvis): a vertical tube lying on the front or the left side of the
  vertebral bodies. For every trunk slice the vertebral body is located (midline bone behind the body's
  centre), and in a box in front of and to the left of it the most attenuating *homogeneous* cylinder
  (≈ 9 mm across, 15 mm tall: a tube survives the averaging along z, a bowel loop or a rib does not) that
  holds no fat, air or cortical bone is taken as the aortic lumen. Unenhanced, that is ≈ 40 HU like the
  surrounding muscle, so the measurement reads "unenhanced" either way; enhanced, the lumen is the brightest
  homogeneous structure there.
* **Heart and great vessels** (chest): the brightest homogeneous cylinder of each chest slice outside
  the lungs (heart chambers, pulmonary trunk, aorta), so a pulmonary CTA whose aorta is only moderately
  enhanced still reads as arterial.
* **Intracranial and neck vessels** (head, neck): inside the skull, tissue brighter than any brain
  (> 120 HU) that is not bone and not next to bone is vessel or dural sinus (or a calcification, which is
  small and isolated); the fraction of such voxels and their median HU are measured.
* **Neck and limb arteries** (neck, legs): long, thin pieces of enhanced tissue away from cortical bone
  and marrow (carotids, vertebral, femoral, popliteal and tibial arteries).

Each finder returns a :class:`BloodPoolMeasure` with the HU it read, how many slices or millilitres it rests
on, and where it looked; :mod:`.contrast` turns these into a phase and a confidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

from .anatomy import Anatomy
from .canonical import CanonicalView

_IN_PLANE_CROSS = np.zeros((3, 3, 3), dtype=bool)
_IN_PLANE_CROSS[1] = ndi.generate_binary_structure(2, 1)
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
    ``mean_xy`` and ``std_xy`` in its 9 × 9 mm cross-section alone,
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
    square_xy = ndi.uniform_filter(hu * hu, size=(1, ny, nx), mode="nearest")
    std_xy = np.sqrt(np.maximum(square_xy - in_plane * in_plane, 0.0))
    low = ndi.minimum_filter(hu, size=(1, ny, nx), mode="nearest")
    high = ndi.maximum_filter(hu, size=(1, ny, nx), mode="nearest")
    return {"mean": mean, "std": std, "std_z": std_z, "low": low, "high": high, "mean_xy": in_plane,
            "std_xy": std_xy}


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


def _lumen_candidates(tube: dict[str, np.ndarray], z: int, window, body_slice: np.ndarray,
                      noise: float) -> np.ndarray:
    """Where in ``window`` of slice ``z`` a 9 mm vertical cylinder could lie inside a vessel's lumen:
    no fat, air or cortical bone in its cross-section, HU varying no more than noise allows, in-plane
    and along 30 mm of z."""
    homogeneous = 1.5 * noise + 8.0
    steady = 0.5 * noise + 10.0
    return ((tube["low"][z][window] > FAT_HU) & (tube["high"][z][window] < CORTEX_HU) & body_slice[window]
            & (tube["std"][z][window] < homogeneous) & (tube["std_z"][z][window] < steady))


def _summarise(site: str, values: list[float], detail: dict) -> BloodPoolMeasure:
    if len(values) < 2:
        return BloodPoolMeasure(site, None, len(values), detail={**detail, "reason": "no homogeneous blood pool found"})
    q1, q3 = np.percentile(values, [25, 75])
    return BloodPoolMeasure(site, float(np.median(values)), len(values), float(q3 - q1),
                            detail={"slices": len(values), **detail})


def _candidates_beside_spine(view: CanonicalView, anatomy: Anatomy, tube: dict[str, np.ndarray], z: int,
                            noise: float) -> tuple[np.ndarray, tuple[float, float]] | None:
    """Lumen candidates of slice ``z`` (whole slice) with the vertebral body removed, and the spine's (y, x).

    The spine is located from bone that is not itself a lumen candidate (an enhanced aorta lying on the
    midline is bright but homogeneous); the vertebral body, an ellipse centred 22 mm in front of that
    point (20 mm deep, 22 mm to each side), is removed: cancellous bone can be as bright as enhanced
    blood and, in the thoracic spine with its thin discs, nearly as steady along z.
    """
    if np.isnan(anatomy.centre_yx[z, 0]):
        return None
    ok = _lumen_candidates(tube, z, (slice(None), slice(None)), anatomy.body[z], noise)
    spine = _spine(anatomy.bone[z] & ~ok, anatomy.centre_yx[z], view.spacing_mm)
    if spine is None:
        return None
    return ok & ~_vertebral_body(ok.shape, spine, view.spacing_mm), spine


def _vertebral_body(shape, spine, spacing_mm) -> np.ndarray:
    """Mask of one slice: an ellipse centred 22 mm in front of the spine point, 20 mm deep, 22 mm wide."""
    (spine_y, spine_x), sy, sx = spine, spacing_mm[1], spacing_mm[2]
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    return (((yy - spine_y) * sy + 22.0) / 20.0) ** 2 + ((xx - spine_x) * sx / 22.0) ** 2 < 1.0


def find_aorta(view: CanonicalView, anatomy: Anatomy, trunk: np.ndarray,
               tube: dict[str, np.ndarray], noise: float) -> BloodPoolMeasure:
    """Measure the aortic lumen on the trunk slices (``trunk``: bool per z slice).

    ``tube`` is :func:`tube_statistics` of the view, ``noise`` the image noise from :func:`noise_hu`.
    The search box runs from 70 mm in front of to 10 mm behind the spine, and from 15 mm right to
    55 mm left of it; the vertebral bodies fail the "steady along z" test (bodies and discs alternate).
    """
    sy, sx = view.spacing_mm[1], view.spacing_mm[2]
    values, offsets = [], []
    for z in np.flatnonzero(trunk):
        located = _candidates_beside_spine(view, anatomy, tube, z, noise)
        if located is None:
            continue
        ok, (spine_y, spine_x) = located
        yy, xx = np.mgrid[:ok.shape[0], :ok.shape[1]]
        ok &= ((yy - spine_y) * sy >= -70.0) & ((yy - spine_y) * sy <= 10.0) \
            & ((xx - spine_x) * sx >= -15.0) & ((xx - spine_x) * sx <= 55.0)
        if not ok.any():
            continue
        score = np.where(ok, tube["mean"][z], -np.inf)
        best = np.unravel_index(np.argmax(score), score.shape)
        values.append(float(score[best]))
        offsets.append(((best[0] - spine_y) * sy, (best[1] - spine_x) * sx))
    detail = {"noise_hu": round(noise, 1)}
    if offsets:
        offsets = np.array(offsets)
        detail["offset_from_spine_mm"] = {"anterior": round(float(-np.median(offsets[:, 0])), 1),
                                          "left": round(float(np.median(offsets[:, 1])), 1)}
    measure = _summarise("aorta", values, detail)
    if measure.hu is not None:
        # the upper quartile: slices where a flap, thrombus or partial filling hides the bright lumen
        # from the homogeneity test must not pull an enhanced aorta down to unenhanced values
        measure.hu = float(np.percentile(values, 75))
    return measure


def find_heart_and_great_vessels(view: CanonicalView, anatomy: Anatomy, chest: np.ndarray,
                                 tube: dict[str, np.ndarray], noise: float) -> BloodPoolMeasure:
    """The brightest homogeneous blood pool of each chest slice: heart chambers, pulmonary arteries, aorta.

    Searched in the mediastinum: between the leftmost and rightmost lung, behind the front of the lungs
    and in front of the spine (chest wall, costal cartilage and vertebral body stay out), away from bone
    (sternum, spine), on slices where lung fills at least 15 % of the section. In a pulmonary CTA the
    pulmonary trunk and right heart are brighter than the aorta, in an aortic CTA the reverse; either way the brightest lumen of the mediastinum tells the phase. Reported HU: the
    90th percentile over the chest slices (the bolus fills some vessels on some slices only).
    """
    values = []
    for z in np.flatnonzero(chest):
        if anatomy.lung_fraction[z] < 0.15:
            continue
        if np.isnan(anatomy.centre_yx[z, 0]):
            continue
        spine = _spine(anatomy.bone[z] & ~_lumen_candidates(tube, z, (slice(None), slice(None)), anatomy.body[z],
                                                           noise), anatomy.centre_yx[z], view.spacing_mm)
        # a cardiac field of view may leave the spine out: then the mediastinum reaches the image's back
        spine_y = spine[0] if spine is not None else anatomy.body.shape[1] + 10.0 / view.spacing_mm[1]
        lung_y, lung_x = np.nonzero(anatomy.lung[z])
        mediastinum = np.zeros_like(anatomy.lung[z])
        mediastinum[lung_y.min():max(lung_y.min(), int(spine_y - 10.0 / view.spacing_mm[1])),
                    lung_x.min():lung_x.max() + 1] = True
        bones = ndi.binary_dilation(anatomy.near_cortex[z], iterations=1)  # sternum, spine: never a chamber
        # chambers and the pulmonary trunk run obliquely: homogeneous in the slice is enough here
        flat = ((tube["low"][z] > FAT_HU) & (tube["high"][z] < CORTEX_HU)
                & (tube["std_xy"][z] < 1.5 * noise + 8.0) & anatomy.body[z])
        ok = flat & mediastinum & ~anatomy.lung[z] & ~bones
        if spine is not None:
            ok &= ~_vertebral_body(ok.shape, spine, view.spacing_mm)
        if ok.any():
            values.append(float(tube["mean_xy"][z][ok].max()))
    measure = _summarise("heart_and_great_vessels", values, {"noise_hu": round(noise, 1)})
    if measure.hu is not None:
        measure.hu = float(np.percentile(values, 90))
    return measure


#: Enhanced blood lies in this HU range (below, unenhanced tissue; above, bone or metal).
ENHANCED_HU = (130.0, 700.0)
#: A small artery: an enhanced piece at least this long along z …
MIN_VESSEL_LENGTH_MM = 30.0
#: … whose median HU is at most this (calcified arterial walls, partly sampled, read 500–700 HU) …
MAX_LUMEN_MEDIAN_HU = 500.0
#: … and no wider on average than this (cm² per slice; a carotid or femoral artery is about 0.5 cm²).
MAX_VESSEL_SECTION_CM2 = 3.0


def find_intracranial(view: CanonicalView, anatomy: Anatomy, head: np.ndarray) -> BloodPoolMeasure:
    """Enhanced vessels and sinuses inside the skull on the head slices (``head``: bool per z slice).

    The skull's contents (what its ring encloses, plus bright pieces there that hold no cortical bone:
    contrast-filled vessels) are eroded by 7 mm in-plane so that the diploe and bone partly filling a
    voxel near the skull (thick slices, tilt) are not read as contrast. Voxels in :data:`ENHANCED_HU`
    there are vessels, dural sinuses or calcifications; calcifications (pineal, choroid plexus) are few, compact and mostly
    brighter than 300 HU when sampled, while contrast fills a branching tree and the sinuses. A slice where
    more than 15 % of the contents is that bright cuts bone tangentially (skull base) and is left out.
    """
    contents = anatomy.enclosed | (anatomy.ring_filled & anatomy.bone & ~anatomy.skeleton)
    inside = contents & head[:, None, None]
    steps = max(1, int(round(7.0 / min(view.spacing_mm[1:]))))
    inside = ndi.binary_erosion(inside, structure=_IN_PLANE_CROSS, iterations=steps)
    bright_mask = inside & (view.hu >= ENHANCED_HU[0]) & (view.hu <= ENHANCED_HU[1])
    per_slice = bright_mask.sum(axis=(1, 2)) / np.maximum(inside.sum(axis=(1, 2)), 1)
    plate = per_slice > 0.15  # a slice cutting the skull base or a bony plate tangentially, not vessels
    inside &= ~plate[:, None, None]
    hu = view.hu[inside]
    if hu.size * view.voxel_volume_ml < 20.0:
        return BloodPoolMeasure("intracranial", None, 0.0, detail={"reason": "no skull contents found"})
    bright = view.hu[bright_mask & inside]
    fraction = bright.size / hu.size
    brain = float(np.median(hu))
    detail = {"intracranial_ml": round(hu.size * view.voxel_volume_ml, 1), "brain_hu": round(brain, 1),
              "enhanced_fraction": round(fraction, 5)}
    if bright.size < 5:
        return BloodPoolMeasure("intracranial", None, hu.size * view.voxel_volume_ml, detail=detail)
    q1, q3, q9 = np.percentile(bright, [25, 75, 90])
    # small vessels are mostly partial volume at this resolution: their brightest tenth shows the lumen
    return BloodPoolMeasure("intracranial", float(q9), hu.size * view.voxel_volume_ml,
                            float(q3 - q1), detail=detail)


def find_vessel_tubes(view: CanonicalView, anatomy: Anatomy, slices: np.ndarray, site: str) -> BloodPoolMeasure:
    """Enhanced arteries too small for the aorta's 9 mm cylinder (neck, limbs), on the slices ``slices``.

    Enhanced voxels (:data:`ENHANCED_HU`) away from bones (pieces holding cortical bone) and marrow are
    grouped into 3D connected pieces (26-connected, so oblique vessels stay whole); a piece that runs at least
    :data:`MIN_VESSEL_LENGTH_MM` along z with a mean cross-section of at most
    :data:`MAX_VESSEL_SECTION_CM2` is an artery (a vertebral body is wider, and discs cut it short).
    Reports the arteries' volume (ml) as support, the fraction of the searched soft tissue they fill and
    their 90th-percentile HU (most of a thin vessel's voxels are partly outside its lumen).
    """
    hu = view.hu
    bony = ndi.binary_dilation(anatomy.skeleton | anatomy.enclosed, structure=np.ones((1, 3, 3), dtype=bool))
    searched = slices[:, None, None] & anatomy.body & ~bony
    bright = searched & (hu >= ENHANCED_HU[0]) & (hu <= ENHANCED_HU[1])
    soft = searched & (hu > -30) & (hu < ENHANCED_HU[1])
    labels, n = ndi.label(bright, structure=np.ones((3, 3, 3), dtype=bool))
    vessel = np.zeros_like(bright)
    if n:
        objects = ndi.find_objects(labels)
        counts = np.bincount(labels.ravel(), minlength=n + 1)
        for index, box in enumerate(objects, start=1):
            length_mm = (box[0].stop - box[0].start) * view.spacing_mm[0]
            section_cm2 = counts[index] * view.pixel_area_cm2 / max(box[0].stop - box[0].start, 1)
            if length_mm >= MIN_VESSEL_LENGTH_MM and section_cm2 <= MAX_VESSEL_SECTION_CM2:
                piece = labels[box] == index
                if np.median(hu[box][piece]) <= MAX_LUMEN_MEDIAN_HU:  # brighter: calcified wall, not lumen
                    vessel[box] |= piece
    volume_ml = float(vessel.sum() * view.voxel_volume_ml)
    detail = {"enhanced_ml": round(volume_ml, 2),
              "enhanced_fraction_of_soft_tissue": round(float(vessel.sum() / max(soft.sum(), 1)), 5)}
    if vessel.sum() < 5:
        return BloodPoolMeasure(site, None, volume_ml, detail=detail)
    values = hu[vessel]
    q1, q3, q9 = np.percentile(values, [25, 75, 90])
    # thin vessels are mostly partial volume at this resolution: their brightest tenth shows the lumen
    return BloodPoolMeasure(site, float(q9), volume_ml, float(q3 - q1), detail=detail)
