"""Reading and writing volumes: NIfTI (.nii, .nii.gz), NRRD (.nrrd, .nhdr), MetaImage (.mha, .mhd), DICOM series.

Writes are atomic: the file is written beside its destination under a temporary name and renamed into
place, so an interrupted or failed write never leaves a half-written file where the result belongs.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from .dicom_series import read_dicom_series
from .errors import VolumeError
from .volume import Volume

FILE_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd")


def volume_suffix(path: str | os.PathLike) -> str | None:
    """The volume-file suffix of ``path`` (``.nii.gz``…), or None when it is not a volume file name."""
    name = str(path).lower()
    return next((s for s in FILE_SUFFIXES if name.endswith(s)), None)


def read_volume(path: str | os.PathLike, *, series_uid: str | None = None, label: bool = False) -> Volume:
    """Read a volume file or a folder holding one DICOM series.

    Args:
        path: a .nii/.nii.gz/.nrrd/.nhdr/.mha/.mhd file, or a folder of DICOM files.
        series_uid: which series to read when the folder holds several.
        label: keep integer voxel values (label maps) instead of converting to float32 HU.
    """
    path = Path(path)
    if not path.exists():
        raise VolumeError("no such file or folder", where=str(path), hint="check the path")
    if path.is_dir():
        return read_dicom_series(path, series_uid)
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError:
        raise VolumeError("not a readable image file", where=str(path),
                          hint="NetZeroAICT reads NIfTI, NRRD, MetaImage and DICOM series (give the folder)") from None
    if image.GetDimension() == 3 and image.GetSize()[2] == 1 or image.GetDimension() == 2:
        raise VolumeError(f"this is a 2D image ({image.GetSize()[0]}×{image.GetSize()[1]}), not a volume",
                          where=str(path), hint="give a 3D volume or a folder with the whole DICOM series")
    metadata = {"source": str(path), "format": volume_suffix(path) or "dicom"}
    description = next((image.GetMetaData(key).strip() for key in ("descrip", "Description")
                        if image.HasMetaDataKey(key) and image.GetMetaData(key).strip()), "")
    if description:
        metadata["description"] = description
    return Volume.from_sitk(image, metadata=metadata, label=label)


def write_volume(volume: Volume, path: str | os.PathLike, *, description: str | None = None,
                 compress: bool = True) -> Path:
    """Write ``volume`` atomically to a NIfTI, NRRD or MetaImage file; returns the path written.

    ``description`` (e.g. "SYNTHETIC digital contrast …") goes into the file header where the format has a
    place for it (NIfTI ``descrip``, NRRD/MetaImage key-value pairs).
    """
    path = Path(path)
    suffix = volume_suffix(path)
    if suffix is None or suffix in (".nhdr", ".mhd"):
        raise VolumeError("unsupported output file type", where=str(path),
                          hint="use .nii.gz, .nii, .nrrd or .mha")
    if not path.parent.exists():
        raise VolumeError("the output folder does not exist", where=str(path.parent), hint="create it first")
    image = volume.to_sitk()
    if description:
        if suffix.startswith(".nii"):
            image.SetMetaData("ITK_FileNotes", description[:79])  # NIfTI descrip holds 80 bytes
        else:
            image.SetMetaData("Description", description)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        sitk.WriteImage(image, tmp, useCompression=compress)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file, or of all files of a folder in sorted name order."""
    path = Path(path)
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def volume_sha256(volume: Volume) -> str:
    """SHA-256 of a volume's voxels and geometry (independent of file format)."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(volume.voxels).tobytes())
    digest.update(str(volume.voxels.dtype).encode())
    digest.update(np.asarray(volume.ijk_to_lps()).round(6).tobytes())
    return digest.hexdigest()
