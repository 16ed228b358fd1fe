"""Reading DICOM series into a :class:`Volume`, with their geometry checked.

SimpleITK's ``ImageSeriesReader`` assumes parallel slices at even steps straight along the slice normal.
Real scans break that: gantry tilt shears the slice stack, missing or uneven slices break the step.
:func:`read_dicom_series` measures every slice position and, where the assumption fails, resamples the
slices onto a regular grid (linear between neighbouring slices) and says so in ``metadata``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from .errors import VolumeError
from .volume import Volume

#: DICOM tags kept in ``metadata["dicom"]`` (first slice), keyed by keyword.
KEPT_TAGS = {
    "0008|0060": "Modality", "0008|0070": "Manufacturer", "0008|1090": "ManufacturerModelName",
    "0018|1210": "ConvolutionKernel", "0018|0060": "KVP", "0018|0050": "SliceThickness",
    "0018|0010": "ContrastBolusAgent", "0018|1040": "ContrastBolusRoute", "0018|1120": "GantryDetectorTilt",
    "0008|103e": "SeriesDescription", "0008|1030": "StudyDescription", "0008|0008": "ImageType",
    "0020|000d": "StudyInstanceUID", "0020|000e": "SeriesInstanceUID", "0020|0011": "SeriesNumber",
    "0010|0010": "PatientName", "0010|0020": "PatientID", "0010|0030": "PatientBirthDate",
    "0010|0040": "PatientSex", "0008|0020": "StudyDate", "0008|0050": "AccessionNumber",
    "0008|0016": "SOPClassUID", "0018|0015": "BodyPartExamined", "0020|0037": "ImageOrientationPatient",
}

#: Relative unevenness of slice steps, and tilt in degrees, that still count as a regular series.
STEP_TOLERANCE = 0.01
TILT_TOLERANCE_DEG = 0.1


def list_series(folder: str | os.PathLike) -> dict[str, list[str]]:
    """Map each DICOM series instance UID found directly in ``folder`` to its sorted file names."""
    folder = str(folder)
    series = {}
    for uid in sitk.ImageSeriesReader.GetGDCMSeriesIDs(folder):
        series[uid] = list(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(folder, uid))
    return series


def _describe_series(uid: str, files: list[str]) -> str:
    reader = sitk.ImageFileReader()
    reader.SetFileName(files[0])
    reader.ReadImageInformation()
    desc = reader.GetMetaData("0008|103e").strip() if reader.HasMetaDataKey("0008|103e") else ""
    return f"{uid or '(no series UID)'} — {len(files)} file(s){', ' + repr(desc) if desc else ''}"


def read_dicom_series(folder: str | os.PathLike, series_uid: str | None = None) -> Volume:
    """Read the one DICOM series in ``folder`` (or the one named by ``series_uid``) as a float32 HU volume."""
    folder = Path(folder)
    series = list_series(folder)
    if not series:
        raise VolumeError("no DICOM series found in this folder", where=str(folder),
                          hint="point at a folder holding the .dcm files of one series, or at a NIfTI/NRRD/MHA file")
    if series_uid is None:
        if len(series) > 1:
            listing = "; ".join(_describe_series(uid, files) for uid, files in series.items())
            raise VolumeError(f"{len(series)} DICOM series found: {listing}", where=str(folder),
                              hint="choose one with series_uid= (CLI: --series UID)")
        series_uid = next(iter(series))
    if series_uid not in series:
        raise VolumeError(f"series {series_uid!r} is not in this folder (found: {', '.join(series)})",
                          where=str(folder))
    files = series[series_uid]
    if len(files) < 2:
        raise VolumeError("this DICOM series has a single slice; a volume needs several", where=str(folder),
                          hint="pass a series of several slices (a 2D image cannot be processed as a volume)")

    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(files)
    reader.MetaDataDictionaryArrayUpdateOn()
    reader.LoadPrivateTagsOff()
    warnings_were_shown = sitk.ProcessObject.GetGlobalWarningDisplay()
    sitk.ProcessObject.SetGlobalWarningDisplay(False)  # uneven slices are measured and handled below
    try:
        image = reader.Execute()
    except RuntimeError as error:
        raise VolumeError(f"the DICOM series could not be decoded ({str(error).strip().splitlines()[-1]})",
                          where=str(folder)) from None
    finally:
        sitk.ProcessObject.SetGlobalWarningDisplay(warnings_were_shown)

    tags = {name: reader.GetMetaData(0, key).strip() for key, name in KEPT_TAGS.items() if reader.HasMetaDataKey(0, key)}
    positions = np.array([[float(v) for v in reader.GetMetaData(s, "0020|0032").split("\\")]
                          for s in range(len(files))]) if all(
        reader.HasMetaDataKey(s, "0020|0032") for s in range(len(files))) else None
    metadata = {"source": str(folder), "format": "dicom", "dicom": tags, "files": [os.path.basename(f) for f in files]}
    volume = Volume.from_sitk(image, metadata=metadata)
    if positions is not None:
        volume = _regularise(volume, positions)
    return volume


def _regularise(volume: Volume, positions: np.ndarray) -> Volume:
    """Resample a sheared (gantry-tilted) or unevenly spaced slice stack onto a regular grid."""
    row, col = volume.direction_lps[:, 0], volume.direction_lps[:, 1]
    normal = np.cross(row, col)
    offsets = positions - positions[0]
    along = offsets @ normal
    order = np.argsort(along)
    along, positions = along[order], positions[order]
    voxels = volume.voxels[order]
    steps = np.diff(along)
    if np.any(steps <= 1e-6):
        raise VolumeError("two slices of this series lie at the same position", where=volume.metadata["source"],
                          hint="the folder may hold two series or duplicate files; separate them")
    step = float(np.median(steps))
    span = positions[-1] - positions[0]
    tilt_deg = float(np.degrees(np.arccos(np.clip(abs(span @ normal) / np.linalg.norm(span), -1, 1))))
    uneven = float(np.max(np.abs(steps - step)) / step)
    if tilt_deg <= TILT_TOLERANCE_DEG and uneven <= STEP_TOLERANCE:
        return volume

    # Output grid: first slice's in-plane grid, slices straight along the normal every `step` mm.
    n_out = int(np.floor((along[-1] - along[0]) / step + 1e-6)) + 1
    out = np.full((n_out,) + voxels.shape[1:], -1024.0, dtype=np.float32)
    dx, dy = volume.spacing_mm[0], volume.spacing_mm[1]
    origin = positions[0]
    for k in range(n_out):
        z = k * step
        upper = int(np.clip(np.searchsorted(along, z, side="left"), 1, len(along) - 1))
        lower = upper - 1
        w = (z - along[lower]) / (along[upper] - along[lower])
        sampled = []
        for s in (lower, upper):
            shift = origin - positions[s]  # in-plane offset of this slice's grid from the output grid
            shift_ij = np.array([shift @ col / dy, shift @ row / dx])  # (rows, columns)
            sampled.append(ndimage.shift(voxels[s].astype(np.float32), -shift_ij, order=1, mode="constant",
                                         cval=-1024.0))
        out[k] = (1 - w) * sampled[0] + w * sampled[1]
    direction = np.stack([row, col, normal], axis=1)
    metadata = dict(volume.metadata)
    metadata["geometry_corrections"] = {
        "gantry_tilt_deg": round(tilt_deg, 3), "slice_steps_mm": [round(float(s), 3) for s in steps],
        "resampled_step_mm": round(step, 4),
        "note": "slices resampled onto a regular grid perpendicular to the slice plane (linear interpolation)",
    }
    return Volume(out, (dx, dy, step), tuple(origin), direction, metadata)
