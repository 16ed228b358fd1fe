"""``characterise(volume_or_path)``: is it CT, which contrast phase, which body regions, how acquired.

Works on a subsampled, patient-oriented copy (:mod:`.canonical`, about 4 mm voxels), so a 512×512×400 CT
is characterised in well under a second once in memory.
"""

from __future__ import annotations

import os
import time

import numpy as np

from ..errors import VolumeError
from ..volume import Volume
from ..volume_io import read_volume
from . import acquisition, bloodpool
from .anatomy import measure_anatomy
from .canonical import canonical_view
from .contrast import decide_phase
from .modality import ct_evidence
from .regions import covered_regions
from .result import Characterisation

#: Fewer slices than this cannot be characterised as a volume.
MIN_SLICES = 3
#: Region labels (indices into BODY_REGIONS) that make up the trunk, where the aorta is searched.
_HEAD, _NECK, _CHEST, _ABDOMEN, _PELVIS, _LEGS = range(6)


def _as_volume(volume_or_path, series_uid: str | None) -> Volume:
    if isinstance(volume_or_path, Volume):
        return volume_or_path
    if isinstance(volume_or_path, (str, os.PathLike)):
        return read_volume(volume_or_path, series_uid=series_uid)
    raise VolumeError(f"cannot characterise a {type(volume_or_path).__name__}",
                      hint="pass a Volume, a volume file or a DICOM folder")


def _validity_problems(volume: Volume) -> list[str]:
    """Sentences saying why the voxels cannot be characterised at all (empty when they can)."""
    voxels = volume.voxels
    problems = []
    if min(voxels.shape) < MIN_SLICES:
        problems.append(f"The image is {volume.shape_ijk[0]}×{volume.shape_ijk[1]}×{volume.shape_ijk[2]} voxels: "
                        f"a volume needs at least {MIN_SLICES} voxels along every axis (this is a 2D image or a "
                        "single slab).")
    if volume.is_label:
        values = np.unique(voxels[::max(1, voxels.shape[0] // 16)])
        if values.size <= 32:
            problems.append(f"The image holds only {values.size} distinct integer values: it is a label map "
                            "(segmentation), not an image.")
    if np.issubdtype(voxels.dtype, np.floating):
        finite = np.isfinite(voxels)
        if not finite.all():
            bad = int(finite.size - np.count_nonzero(finite))
            problems.append(f"{bad} voxel(s) are NaN or infinite; the image is damaged or was computed wrongly.")
            return problems
    if voxels.size and float(voxels.max()) - float(voxels.min()) < 1.0:
        problems.append(f"Every voxel has the same value ({float(voxels.flat[0]):.0f}): the image is empty or blank.")
    return problems


def characterise(volume_or_path, *, series_uid: str | None = None) -> Characterisation:
    """Characterise one CT volume (a :class:`Volume`, a volume file, or a folder with one DICOM series).

    Never raises for an image that is merely unsuitable (2D, NaN, constant, not CT): those come back
    with ``is_ct`` False and the reasons in ``problems`` or ``ct_evidence["reasons"]``. Raises
    :class:`~NetZeroAICT.errors.VolumeError` only when the file cannot be read.
    """
    start = time.perf_counter()
    volume = _as_volume(volume_or_path, series_uid)
    facts = acquisition.dicom_facts(volume)
    description = volume.metadata.get("description") or facts.get("series_description")
    base = dict(
        spacing_mm=volume.spacing_mm, slice_thickness_mm=acquisition.slice_thickness_mm(volume, facts),
        dicom=facts, shape_ijk=volume.shape_ijk, field_of_view_mm=acquisition.field_of_view_mm(volume),
        source=volume.metadata.get("source"), description=description,
        synthetic=bool(volume.metadata.get("synthetic")) or "SYNTHETIC" in str(description or "").upper(),
        geometry_corrections=volume.metadata.get("geometry_corrections"))

    problems = _validity_problems(volume)
    if problems:
        return Characterisation(is_ct=False, ct_evidence={}, phase="unknown", phase_confidence=0.0,
                                blood_pool_hu=None, regions=[], problems=problems,
                                elapsed_s=time.perf_counter() - start, **base)

    view = canonical_view(volume)
    is_ct, evidence, reasons = ct_evidence(view.hu, facts.get("modality"))
    if reasons:
        evidence["reasons"] = reasons
    if not is_ct:
        return Characterisation(is_ct=False, ct_evidence=evidence, phase="unknown", phase_confidence=0.0,
                                blood_pool_hu=None, regions=[], elapsed_s=time.perf_counter() - start, **base)

    anatomy = measure_anatomy(view)
    regions, extents, per_slice = covered_regions(anatomy, view.spacing_mm)
    tube = bloodpool.tube_statistics(view.hu, view.spacing_mm)
    noise = bloodpool.noise_hu(tube, anatomy.body)
    measures = []
    trunk = np.isin(per_slice, (_CHEST, _ABDOMEN, _PELVIS))
    if trunk.any():
        measures.append(bloodpool.find_aorta(view, anatomy, trunk, tube, noise))
    if (per_slice == _HEAD).any():
        measures.append(bloodpool.find_intracranial(view, anatomy, per_slice == _HEAD))
    if (per_slice == _NECK).any():
        measures.append(bloodpool.find_vessel_tubes(view, anatomy, per_slice == _NECK, "neck_arteries", noise))
    if (per_slice == _LEGS).any():
        measures.append(bloodpool.find_vessel_tubes(view, anatomy, per_slice == _LEGS, "limb_arteries", noise))
    phase, confidence, blood_hu, phase_evidence = decide_phase(measures, acquisition.contrast_agent_stated(facts))
    return Characterisation(
        is_ct=True, ct_evidence=evidence, phase=phase, phase_confidence=confidence, blood_pool_hu=blood_hu,
        regions=regions, region_extent_mm=extents, phase_evidence=phase_evidence,
        blood_pool=[m.to_dict() for m in measures], noise_hu=round(noise, 1),
        elapsed_s=time.perf_counter() - start, **base)
