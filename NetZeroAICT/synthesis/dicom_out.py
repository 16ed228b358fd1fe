"""A derived DICOM series for a synthetic CTA: new UIDs, ImageType DERIVED\\SECONDARY, marked synthetic.

Patient and study are copied from the source series so the result files next to it in PACS; the series
references the source series (ReferencedSeriesSequence and SourceImageSequence) and shares its frame of
reference, since the synthetic image lies on exactly the same grid.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import numpy as np

from ..errors import NetZeroAICTError
from ..volume import Volume

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
#: Tags copied from the source: patient and study modules, and the frame of reference.
COPIED = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "PatientAge", "OtherPatientIDs",
          "StudyInstanceUID", "StudyDate", "StudyTime", "StudyID", "AccessionNumber", "StudyDescription",
          "ReferringPhysicianName", "FrameOfReferenceUID", "PositionReferenceIndicator", "BodyPartExamined",
          "Manufacturer", "KVP", "PatientPosition")


def write_derived_series(cta: Volume, source: Volume, folder, record: dict | None = None) -> Path:
    """Write ``cta`` (on ``source``'s grid) as a new CT series into ``folder``; returns the folder.

    ``source`` must have been read from a DICOM folder (its metadata names the folder and files).
    """
    import pydicom
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, PYDICOM_IMPLEMENTATION_UID, generate_uid

    if source.metadata.get("format") != "dicom" or "files" not in source.metadata:
        raise NetZeroAICTError("the source is not a DICOM series", where=str(source.metadata.get("source")),
                               hint="a derived DICOM series needs a DICOM input")
    if not cta.same_grid(source):
        raise NetZeroAICTError("the synthetic image is not on the source grid", where="DICOM output")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    src_dir = Path(source.metadata["source"])
    src_files = [src_dir / f for f in source.metadata["files"]]
    first = pydicom.dcmread(src_files[0], stop_before_pixels=True)
    source_sops = [(str(ds.SOPClassUID), str(ds.SOPInstanceUID)) for ds in
                   (pydicom.dcmread(f, stop_before_pixels=True, specific_tags=["SOPClassUID", "SOPInstanceUID"])
                    for f in src_files)]
    regular = "geometry_corrections" not in source.metadata  # resampled input: slices no longer match 1:1

    series_uid = generate_uid()
    now = datetime.datetime.now()
    description = cta.metadata.get("description", "SYNTHETIC digital contrast")
    indication = cta.metadata.get("indication", "")
    row, col = source.direction_lps[:, 0], source.direction_lps[:, 1]
    matrix = source.ijk_to_lps()
    voxels = np.clip(np.rint(cta.voxels), -32768, 32767).astype(np.int16)
    for k in range(voxels.shape[0]):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CT_IMAGE_STORAGE
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
        ds = FileDataset(str(folder / f"synthetic_{k + 1:04d}.dcm"), {}, file_meta=meta, preamble=b"\0" * 128)
        for keyword in COPIED:
            if keyword in first:
                setattr(ds, keyword, first.data_element(keyword).value)
        if "FrameOfReferenceUID" not in ds:
            ds.FrameOfReferenceUID = generate_uid()
        ds.SOPClassUID = CT_IMAGE_STORAGE
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.SeriesInstanceUID = series_uid
        ds.Modality = "CT"
        ds.ImageType = ["DERIVED", "SECONDARY", "AXIAL"]
        ds.SeriesDescription = description[:64]
        ds.SeriesNumber = int(first.get("SeriesNumber", 0) or 0) + 9000
        ds.InstanceNumber = k + 1
        ds.SeriesDate = ds.ContentDate = now.strftime("%Y%m%d")
        ds.SeriesTime = ds.ContentTime = now.strftime("%H%M%S")
        ds.DerivationDescription = (f"{description}: synthetic CT angiogram computed from the non-contrast "
                                    f"series {first.SeriesInstanceUID}; no contrast agent was given")[:1024]
        ds.ImageComments = f"SYNTHETIC IMAGE ({indication}) - research use only, not for clinical use"
        ds.ContrastBolusAgent = "NONE (SYNTHETIC DIGITAL CONTRAST)"
        ds.BurnedInAnnotation = "NO"
        ds.ImagePositionPatient = [round(float(v), 6) for v in (matrix @ [0, 0, k, 1])[:3]]
        ds.ImageOrientationPatient = [round(float(v), 8) for v in (*row, *col)]
        ds.PixelSpacing = [round(source.spacing_mm[1], 6), round(source.spacing_mm[0], 6)]
        ds.SliceThickness = round(source.spacing_mm[2], 6)
        ds.Rows, ds.Columns = voxels.shape[1], voxels.shape[2]
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = 0, 1, "HU"
        ds.WindowCenter, ds.WindowWidth = 200, 700
        ref_series = pydicom.Dataset()
        ref_series.SeriesInstanceUID = first.SeriesInstanceUID
        ds.ReferencedSeriesSequence = [ref_series]
        if regular and k < len(source_sops):
            src = pydicom.Dataset()
            src.ReferencedSOPClassUID, src.ReferencedSOPInstanceUID = source_sops[k]
            ds.SourceImageSequence = [src]
        ds.PixelData = np.ascontiguousarray(voxels[k]).tobytes()
        tmp = folder / f".synthetic_{k + 1:04d}.dcm.tmp"
        ds.save_as(tmp, enforce_file_format=True)
        os.replace(tmp, folder / f"synthetic_{k + 1:04d}.dcm")
    return folder
