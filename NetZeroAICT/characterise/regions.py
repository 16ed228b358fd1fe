"""Which body regions a CT covers, from anatomy measured slice by slice.

Each canonical slice gets a score for each region (head, neck, chest, abdomen, pelvis, legs) from what is
measured in it: a skull enclosing brain, or the dense bone of skull base and face (head), a narrow section with an airway and no lung or skull (neck),
aerated lung filling a good part of the section (chest), a wide section without lung or pelvic bone
(abdomen), thick bone lateral to the spine such as iliac wings and femoral heads (pelvis), two separate
limbs side by side (legs). The body's order from head to feet is then imposed exactly: the labelling of all
slices that respects the order head → neck → chest → abdomen → pelvis → legs (regions may be absent) and
has the highest total score is found by dynamic programming. This removes isolated misreadings (a bowel
gas pocket is not a chest in the middle of an abdomen) without guessing what was not measured.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from ..indications import BODY_REGIONS
from .anatomy import Anatomy

#: A region counts as covered when at least this many millimetres of it are in the volume.
MIN_EXTENT_MM = {"head": 40.0, "neck": 30.0, "chest": 40.0, "abdomen": 40.0, "pelvis": 30.0, "legs": 40.0}
#: Slices with less body than this (cm²) are outside the patient (above the vertex, below the feet).
MIN_BODY_CM2 = 10.0


def slice_scores(anatomy: Anatomy, spacing_mm) -> np.ndarray:
    """Score of each region for each slice, shape (n_slices, 6) in :data:`BODY_REGIONS` order.

    Scores are small numbers: +2 strong evidence, +1 evidence, 0 neutral, negative against.
    """
    area = anatomy.body_area_cm2
    lung = anatomy.lung_fraction
    skull = anatomy.skull_fraction
    legs = anatomy.leg_pair
    # smooth over about 15 mm along z: a single slice through a rib or an iliac crest should not decide
    size = max(1, int(round(15.0 / spacing_mm[0])))
    lateral = ndi.uniform_filter1d(anatomy.lateral_bone_cm2, size, mode="nearest")
    trachea = ndi.uniform_filter1d(anatomy.trachea.astype(float), size, mode="nearest") > 0.3
    scores = np.zeros((area.size, len(BODY_REGIONS)))
    head, neck, chest, abdomen, pelvis, leg = range(6)
    narrow = area < 330.0
    bony = anatomy.bone_fraction > 0.12  # skull base and face: much more bone than a neck's vertebra
    scores[:, head] = np.where(skull > 0.25, 2.0, np.where(narrow & ((skull > 0.05) | bony), 1.0, -1.0)) \
        + np.where(area > 450.0, -3.0, 0.0)
    scores[:, neck] = np.where(narrow & (skull < 0.1) & (lung < 0.05) & ~bony, 0.5, -0.5) + np.where(trachea & (lung < 0.1), 1.0, 0.0) \
        - np.where(skull > 0.25, 2.0, 0.0)
    scores[:, chest] = np.where(lung > 0.15, 2.0, np.where(lung > 0.06, 0.0, -1.0))
    scores[:, abdomen] = np.where((lung < 0.05) & ~narrow & (lateral < 5.0), 1.0, 0.0) - np.where(skull > 0.25, 2.0, 0.0)
    scores[:, pelvis] = np.where((lateral >= 5.0) & (lung < 0.03) & ~narrow, 1.5, -0.5) - np.where(skull > 0.25, 2.0, 0.0)
    scores[:, leg] = np.where(legs, 2.0, -2.0)
    scores[:, [chest, abdomen, pelvis, leg]] -= np.where(skull > 0.25, 2.0, 0.0)[:, None]
    return scores


def label_slices(scores: np.ndarray) -> np.ndarray:
    """Region index per slice, listed from the top slice down, respecting the head-to-feet order.

    ``scores`` is ordered from the lowest slice (z = 0) upwards, as in the canonical view. Returns labels
    in the same order (z = 0 first). Dynamic programming over slices from the top: the region of a slice
    is never above the region of the slice above it.
    """
    top_down = scores[::-1]
    n, r = top_down.shape
    total = np.zeros((n, r))
    back = np.zeros((n, r), dtype=int)
    total[0] = top_down[0]
    for s in range(1, n):
        best_prev = np.maximum.accumulate(total[s - 1])
        arg_prev = np.array([int(np.argmax(total[s - 1][:k + 1])) for k in range(r)])
        total[s] = top_down[s] + best_prev
        back[s] = arg_prev
    labels = np.zeros(n, dtype=int)
    labels[-1] = int(np.argmax(total[-1]))
    for s in range(n - 1, 0, -1):
        labels[s - 1] = back[s, labels[s]]
    return labels[::-1]


def covered_regions(anatomy: Anatomy, spacing_mm) -> tuple[list[str], dict[str, float], np.ndarray]:
    """Regions covered by the volume, the extent (mm) found of each, and the region index per slice
    (−1 outside the body)."""
    inside = anatomy.body_area_cm2 >= MIN_BODY_CM2
    per_slice = np.full(anatomy.body_area_cm2.size, -1, dtype=int)
    if not inside.any():
        return [], {}, per_slice
    scores = slice_scores(anatomy, spacing_mm)[inside]
    per_slice[inside] = label_slices(scores)
    extents = {name: float(np.sum(per_slice == index) * spacing_mm[0]) for index, name in enumerate(BODY_REGIONS)}
    extents = {name: mm for name, mm in extents.items() if mm > 0}
    regions = [name for name in BODY_REGIONS if extents.get(name, 0.0) >= MIN_EXTENT_MM[name]]
    if not regions and extents:  # a short volume: report what it mostly shows
        regions = [max(extents, key=extents.get)]
    return regions, extents, per_slice
