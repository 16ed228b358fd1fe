"""Is this a CT in Hounsfield units? Evidence from the HU distribution and the DICOM Modality tag.

A CT in HU has air at about −1000 (outside the patient, in the lungs and bowel), a peak of fat and soft
tissue between −150 and +100, and a tail of bone above +300. Other images break this in recognisable ways:
MR, PET, ultrasound and screenshots have no negative values; 8-bit images stay within 0–255; a CT stored
without its rescale intercept has air near 0 and water near +1024.
"""

from __future__ import annotations

import numpy as np

#: DICOM Modality values that are CT.
CT_MODALITIES = {"CT"}


def ct_evidence(sample: np.ndarray, modality: str | None) -> tuple[bool, dict, list[str]]:
    """Decide whether ``sample`` (HU values of the volume, any shape) is CT.

    Returns (is_ct, evidence, reasons): evidence holds the measured numbers (JSON-able); reasons are full
    sentences saying why the image is *not* CT (empty when it is).
    """
    values = np.asarray(sample, dtype=np.float32).ravel()
    values = values[np.isfinite(values)]
    reasons: list[str] = []
    if values.size == 0:
        return False, {"voxels": 0}, ["The image holds no finite values."]
    lo, hi = float(values.min()), float(values.max())
    p01, p50, p99 = (float(v) for v in np.percentile(values, [1, 50, 99]))
    air = float(np.mean((values >= -1100) & (values <= -900)))
    soft = float(np.mean((values >= -150) & (values <= 150)))
    bone = float(np.mean(values >= 300))
    tissue = values[values > -500]
    peak = None
    if tissue.size >= 100:
        hist, edges = np.histogram(tissue, bins=np.arange(-500, 1501, 25))
        peak = float(edges[np.argmax(hist)] + 12.5)
    evidence = {"min_hu": round(lo, 1), "max_hu": round(hi, 1), "p01_hu": round(p01, 1), "median_hu": round(p50, 1),
                "p99_hu": round(p99, 1), "air_fraction": round(air, 4), "soft_tissue_fraction": round(soft, 4),
                "bone_fraction": round(bone, 4), "tissue_peak_hu": peak, "dicom_modality": modality or None}

    if modality and modality.strip().upper() not in CT_MODALITIES:
        reasons.append(f"The DICOM Modality is {modality.strip()!r}, not 'CT'.")
    if lo >= 0 and hi <= 255:
        reasons.append(f"All values lie between {lo:.0f} and {hi:.0f}: this is an 8-bit picture, not CT in "
                       "Hounsfield units.")
    elif lo >= 0:
        near_zero_air = float(np.mean(values < 100))
        if near_zero_air > 0.05 and peak is not None and 900 <= peak <= 1200:
            reasons.append("Air lies near 0 and soft tissue near +1024: this looks like CT stored without its "
                           "rescale intercept (−1024); convert it to Hounsfield units first.")
        else:
            reasons.append(f"There are no negative values (minimum {lo:.0f}): a CT in Hounsfield units shows air "
                           "at about −1000, so this is not CT (MR, PET or another image).")
    else:
        has_air = p01 <= -850 or air >= 0.005
        has_tissue_peak = peak is not None and -150 <= peak <= 150
        if not has_tissue_peak:
            reasons.append(f"The most common tissue value is {peak if peak is not None else 'undefined'} HU, not "
                           "between −150 and +150 HU where fat and soft tissue lie in CT.")
        if not has_air and lo > -500:
            reasons.append(f"No air is present (lowest value {lo:.0f} HU; CT shows air at about −1000 HU).")
    return not reasons, evidence, reasons
