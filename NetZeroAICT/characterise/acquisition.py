"""Acquisition facts of a volume: voxel spacing, slice thickness, field of view, DICOM header facts.

The DICOM tags are those :mod:`NetZeroAICT.dicom_series` keeps in ``volume.metadata["dicom"]``; patient
identifiers are never copied into a characterisation.
"""

from __future__ import annotations

from ..volume import Volume

#: Header facts reported, by the name used in a characterisation → DICOM keyword.
DICOM_FACTS = {
    "modality": "Modality", "manufacturer": "Manufacturer", "model": "ManufacturerModelName",
    "kernel": "ConvolutionKernel", "kvp": "KVP", "slice_thickness_mm": "SliceThickness",
    "contrast_agent": "ContrastBolusAgent", "contrast_route": "ContrastBolusRoute",
    "series_description": "SeriesDescription", "study_description": "StudyDescription",
    "body_part": "BodyPartExamined", "image_type": "ImageType", "gantry_tilt_deg": "GantryDetectorTilt",
    "study_date": "StudyDate", "series_number": "SeriesNumber",
}

#: Values of ContrastBolusAgent that say no contrast was given.
NO_AGENT = {"", "NONE", "NO", "N", "NIL", "NONE GIVEN", "NO CONTRAST", "0"}


def dicom_facts(volume: Volume) -> dict:
    """Header facts of a DICOM-derived volume (empty dict for other files); empty tags are left out."""
    tags = volume.metadata.get("dicom") or {}
    facts = {}
    for name, keyword in DICOM_FACTS.items():
        value = str(tags.get(keyword, "")).strip()
        if value:
            facts[name] = value
    return facts


def contrast_agent_stated(facts: dict) -> bool | None:
    """True when the header names a contrast agent, False when it says none, None when it is silent."""
    if "contrast_agent" not in facts:
        return None
    return facts["contrast_agent"].strip().upper() not in NO_AGENT


def slice_thickness_mm(volume: Volume, facts: dict) -> float:
    """Reconstructed slice thickness: the DICOM SliceThickness where stated, else the slice spacing."""
    try:
        return float(facts["slice_thickness_mm"])
    except (KeyError, ValueError):
        return float(volume.spacing_mm[2])


def field_of_view_mm(volume: Volume) -> tuple[float, float, float]:
    """Extent of the volume along (i, j, k) in millimetres."""
    return tuple(float(n * s) for n, s in zip(volume.shape_ijk, volume.spacing_mm))
