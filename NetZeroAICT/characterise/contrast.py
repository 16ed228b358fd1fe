"""Contrast phase from the blood pool HU measured by :mod:`.bloodpool`, with a confidence.

Thresholds (HU of the aortic lumen): unenhanced blood reads 30–60 HU; the portal-venous and later
phases 120–220 HU; a diagnostic arterial phase 250–490 HU. The boundaries used are
:data:`ENHANCED_FROM_HU` and :data:`ARTERIAL_FROM_HU`; the confidence grows from 0.5 at a boundary to
0.95 at :data:`CONFIDENT_MARGIN_HU` away from it, is reduced when the measurement rests on few slices or
varies much along the vessel, and moves towards the DICOM header's ContrastBolusAgent when it agrees
(and away when it does not).
"""

from __future__ import annotations

import numpy as np

from .bloodpool import BloodPoolMeasure

ENHANCED_FROM_HU = 100.0
ARTERIAL_FROM_HU = 230.0
CONFIDENT_MARGIN_HU = 40.0
#: Intracranial: fraction of the skull's contents in the enhanced range above which vessels are enhanced,
#: and below which they are not (calcifications alone stay below).
INTRACRANIAL_ENHANCED_FRACTION = 0.004
INTRACRANIAL_PLAIN_FRACTION = 0.0015
#: Neck and limbs: enhanced steady voxels, as a fraction of the soft tissue searched.
TUBES_ENHANCED_FRACTION = 0.002
TUBES_PLAIN_FRACTION = 0.0005


def _margin_confidence(distance_hu: float) -> float:
    return 0.5 + 0.45 * float(np.clip(distance_hu / CONFIDENT_MARGIN_HU, 0.0, 1.0))


def phase_from_blood_hu(hu: float) -> tuple[str, float]:
    """(phase, confidence) from the HU of a large artery's lumen."""
    if hu < ENHANCED_FROM_HU:
        return "non_contrast", _margin_confidence(ENHANCED_FROM_HU - hu)
    if hu < ARTERIAL_FROM_HU:
        return "venous_or_later", _margin_confidence(min(hu - ENHANCED_FROM_HU, ARTERIAL_FROM_HU - hu))
    return "arterial", _margin_confidence(hu - ARTERIAL_FROM_HU)


def _from_fraction(measure: BloodPoolMeasure, key: str, enhanced: float, plain: float) -> tuple[str, float, str] | None:
    fraction = measure.detail.get(key)
    if fraction is None:
        return None
    where = measure.site.replace("_", " ")
    if fraction >= enhanced and measure.hu is not None:
        phase, confidence = phase_from_blood_hu(measure.hu)
        if phase == "non_contrast":
            phase, confidence = "venous_or_later", 0.55
        strength = float(np.clip(fraction / (2 * enhanced), 0.5, 1.0))
        return phase, min(confidence, 0.95) * strength + 0.5 * (1 - strength), (
            f"{where}: {100 * fraction:.2f}% of the tissue searched is enhanced, median {measure.hu:.0f} HU")
    if fraction <= plain:
        return "non_contrast", 0.8 - 0.2 * fraction / plain, (
            f"{where}: only {100 * fraction:.2f}% of the tissue searched is brighter than unenhanced blood")
    return "unknown", 0.3, f"{where}: {100 * fraction:.2f}% of the tissue searched is enhanced, too little to decide"


def decide_phase(measures: list[BloodPoolMeasure], agent_stated: bool | None) -> tuple[str, float, float | None, list[str]]:
    """Combine blood-pool measurements into (phase, confidence, blood_pool_hu, evidence sentences).

    The aorta is preferred where found on 3 slices or more; then the skull's contents; then the arteries of
    the neck and limbs. Without any, the phase is 'unknown'.
    """
    evidence: list[str] = []
    phase, confidence, blood_hu = "unknown", 0.0, None
    by_site = {m.site: m for m in measures}
    aorta = by_site.get("aorta")
    decided = False
    if aorta is not None and aorta.hu is not None and aorta.support >= 3:
        blood_hu = aorta.hu
        phase, confidence = phase_from_blood_hu(aorta.hu)
        if aorta.support < 6:
            confidence = 0.5 + (confidence - 0.5) * 0.7
        if aorta.spread_hu > 60.0:
            confidence = 0.5 + (confidence - 0.5) * 0.7
        evidence.append(f"aorta: median lumen {aorta.hu:.0f} HU over {aorta.support:.0f} slices "
                        f"(interquartile range {aorta.spread_hu:.0f} HU)")
        decided = True
    for site, key, enhanced, plain in (("intracranial", "enhanced_fraction", INTRACRANIAL_ENHANCED_FRACTION,
                                        INTRACRANIAL_PLAIN_FRACTION),
                                       ("neck_arteries", "enhanced_fraction_of_soft_tissue", TUBES_ENHANCED_FRACTION,
                                        TUBES_PLAIN_FRACTION),
                                       ("limb_arteries", "enhanced_fraction_of_soft_tissue", TUBES_ENHANCED_FRACTION,
                                        TUBES_PLAIN_FRACTION)):
        measure = by_site.get(site)
        if measure is None:
            continue
        result = _from_fraction(measure, key, enhanced, plain)
        if result is None:
            continue
        site_phase, site_confidence, sentence = result
        evidence.append(sentence)
        if not decided and site_phase != "unknown":
            phase, confidence = site_phase, site_confidence
            blood_hu = measure.hu if site_phase != "non_contrast" else None
            decided = True
        elif not decided:
            phase, confidence = site_phase, site_confidence
    if agent_stated is not None and phase != "unknown":
        agrees = (phase != "non_contrast") == agent_stated
        if agrees:
            confidence = 1.0 - (1.0 - confidence) * 0.5
            evidence.append("the DICOM header's ContrastBolusAgent agrees")
        else:
            confidence *= 0.7
            evidence.append("the DICOM header's ContrastBolusAgent "
                            f"{'names an agent' if agent_stated else 'says none'}, which disagrees with the image")
    elif agent_stated is not None:
        evidence.append(f"the DICOM header's ContrastBolusAgent {'names an agent' if agent_stated else 'says none'}")
    return phase, round(float(confidence), 3), blood_hu, evidence
