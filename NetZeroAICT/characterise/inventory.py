"""Folder mode: scan a tree of images, characterise every series, write an inventory and FAIR sidecars.

    rows = scan_folder("data/", progress=True)
    write_inventory(rows, "inventory.csv")      # + inventory_sidecars/<id>.json, one per series or file

What is scanned: DICOM files grouped by SeriesInstanceUID folder by folder (GDCM), and volume files
(.nii, .nii.gz, .nrrd, .nhdr, .mha, .mhd). Every other file is listed as skipped ("not an image"); a file or
series that cannot be read or is not a volume (a corrupt file, a single DICOM slice) is listed with its
error. Nothing stops the scan.

Sidecars follow FAIR practice with schema.org terms (``@type: Dataset``): a content identifier (SHA-256 of
the files), a name and description, the encoding format and the standard it conforms to, the files and
their size, the acquisition facts, the characterisation, and provenance (software, version, time). Patient
identifiers (name, ID, birth date, accession number) are never written.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import SimpleITK as sitk

from .. import __version__
from ..dicom_series import list_series, read_dicom_series
from ..errors import NetZeroAICTError
from ..volume_io import read_volume, volume_suffix
from .core import characterise
from .safety import suggest_indication

#: Columns of the inventory CSV, in order.
COLUMNS = ("id", "status", "kind", "path", "series_uid", "files", "size_bytes", "sha256", "is_ct", "phase",
           "phase_confidence", "blood_pool_hu", "regions", "suggested_indication", "shape_ijk", "spacing_mm",
           "slice_thickness_mm", "manufacturer", "model", "kernel", "kvp", "contrast_agent",
           "series_description", "sidecar", "error")

_FORMATS = {".nii.gz": ("application/x-nifti", "NIfTI-1"), ".nii": ("application/x-nifti", "NIfTI-1"),
            ".nrrd": ("application/x-nrrd", "NRRD"), ".nhdr": ("application/x-nrrd", "NRRD"),
            ".mha": ("application/x-metaimage", "MetaImage"), ".mhd": ("application/x-metaimage", "MetaImage")}


@dataclass
class InventoryItem:
    """One series or file found by :func:`scan_folder`.

    Attributes:
        kind: 'dicom_series', 'volume_file' or 'other'.
        path: folder of the series (or its one file) or the volume file, relative to the scanned root.
        files: the files it consists of, relative to the root.
        status: 'ok' (characterised), 'error' (unreadable or not a volume) or 'skipped' (not an image).
        characterisation: :meth:`Characterisation.to_dict` where status is 'ok'.
    """

    kind: str
    path: str
    files: list[str]
    status: str = "ok"
    series_uid: str | None = None
    folder: str | None = None
    size_bytes: int = 0
    sha256: str | None = None
    characterisation: dict | None = None
    suggested_indication: str | None = None
    error: str | None = None
    sidecar: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        """Stable short identifier: the first 16 hex digits of the content hash (or of the path)."""
        basis = self.sha256 or hashlib.sha256(self.path.encode()).hexdigest()
        return basis[:16]


def _is_dicom(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            head = handle.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def _hash_files(paths: list[Path]) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    for path in paths:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
                size += len(block)
    return digest.hexdigest(), size


def discover(root: str | os.PathLike) -> list[InventoryItem]:
    """Find the DICOM series, volume files and other files under ``root`` (no image is decoded yet)."""
    root = Path(root)
    items: list[InventoryItem] = []
    sitk_warnings = sitk.ProcessObject.GetGlobalWarningDisplay()
    sitk.ProcessObject.SetGlobalWarningDisplay(False)
    try:
        for folder, subfolders, names in os.walk(root):
            subfolders.sort()
            folder = Path(folder)
            in_series: set[str] = set()
            try:
                series = list_series(folder) if names else {}
            except RuntimeError:
                series = {}
            for uid, files in series.items():
                rel = [os.path.relpath(f, root) for f in files]
                in_series.update(os.path.basename(f) for f in files)
                folder_rel = os.path.relpath(folder, root)
                items.append(InventoryItem("dicom_series", rel[0] if len(rel) == 1 else folder_rel, rel,
                                           series_uid=uid, folder=folder_rel))
            for name in sorted(names):
                if name in in_series:
                    continue
                path = folder / name
                rel = os.path.relpath(path, root)
                if volume_suffix(name):
                    items.append(InventoryItem("volume_file", rel, [rel]))
                elif _is_dicom(path):
                    items.append(InventoryItem("dicom_series", rel, [rel], status="error",
                                               error="a DICOM file that no series could be formed from "
                                                     "(damaged, or not an image)"))
                else:
                    items.append(InventoryItem("other", rel, [rel], status="skipped", error="not an image file"))
    finally:
        sitk.ProcessObject.SetGlobalWarningDisplay(sitk_warnings)
    return items


def _characterise_item(root: Path, item: InventoryItem) -> None:
    paths = [root / f for f in item.files]
    try:
        item.sha256, item.size_bytes = _hash_files(paths)
    except OSError as error:
        item.status, item.error = "error", f"cannot read the file: {error.strerror or error}"
        return
    if item.status != "ok":
        return
    try:
        if item.kind == "dicom_series":
            volume = read_dicom_series(root / item.folder, item.series_uid)
        else:
            volume = read_volume(root / item.path)
        result = characterise(volume)
    except NetZeroAICTError as error:
        item.status, item.error = "error", error.what
        return
    except (RuntimeError, ValueError, OSError, MemoryError) as error:  # anything a damaged file can raise
        item.status, item.error = "error", f"{type(error).__name__}: {str(error).strip().splitlines()[-1] if str(error).strip() else ''}"
        return
    item.characterisation = result.to_dict()
    item.suggested_indication = suggest_indication(result)
    item.extra["geometry"] = {"origin_lps": [round(v, 4) for v in volume.origin_lps],
                              "direction_lps": volume.direction_lps.round(6).tolist()}


def scan_folder(root: str | os.PathLike, progress: bool = True) -> list[InventoryItem]:
    """Discover and characterise everything under ``root``; never raises for a bad file (see ``status``)."""
    root = Path(root)
    if not root.is_dir():
        raise NetZeroAICTError("not a folder", where=str(root), hint="give the folder to scan")
    items = discover(root)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(items), unit="item", desc="classify", file=sys.stderr, leave=True)
    for item in items:
        if bar is not None:
            bar.set_postfix_str(item.path[-40:], refresh=False)
        _characterise_item(root, item)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return items


def sidecar(item: InventoryItem, root: str | os.PathLike) -> dict:
    """FAIR metadata of one item (schema.org Dataset terms), JSON-able."""
    c = item.characterisation or {}
    dicom = c.get("dicom", {})
    suffix = volume_suffix(item.path) if item.kind == "volume_file" else None
    encoding, standard = ("application/dicom", "DICOM PS3.3 CT Image") if item.kind == "dicom_series" else \
        _FORMATS.get(suffix, ("application/octet-stream", None))
    keywords = ["CT"] if c.get("is_ct") else []
    keywords += list(c.get("regions", [])) + ([c["phase"]] if c.get("phase") not in (None, "unknown") else [])
    return {
        "@context": "https://schema.org/",
        "@type": "Dataset",
        "identifier": f"sha256:{item.sha256}" if item.sha256 else None,
        "name": c.get("description") or dicom.get("series_description") or Path(item.path).name,
        "description": _describe(item),
        "keywords": keywords,
        "encodingFormat": encoding,
        "conformsTo": standard,
        "contentSize": item.size_bytes,
        "distribution": {"root": str(Path(root).resolve()), "path": item.path, "files": item.files,
                         "series_uid": item.series_uid},
        "dateCreated": dicom.get("study_date"),
        "measurementTechnique": "computed tomography" if c.get("is_ct") else None,
        "status": item.status,
        "error": item.error,
        "acquisition": {key: c.get(key) for key in ("spacing_mm", "slice_thickness_mm", "shape_ijk",
                                                      "field_of_view_mm", "geometry_corrections")} | {
            "dicom": dicom, **item.extra.get("geometry", {})} if c else None,
        "characterisation": c or None,
        "suggested_indication": item.suggested_indication,
        "provenance": {"software": "NetZeroAICT characterise", "version": __version__,
                       "generated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                       "note": "measured from the image; patient identifiers are not recorded"},
    }


def _describe(item: InventoryItem) -> str:
    if item.status != "ok":
        return f"{item.kind.replace('_', ' ')} {item.path}: {item.status} ({item.error})"
    c = item.characterisation
    phase = c["phase"].replace("_", "-")
    return (f"{'CT' if c['is_ct'] else 'not CT'}, {phase} phase (confidence {c['phase_confidence']:.2f}), "
            f"regions {', '.join(c['regions']) or 'none recognised'}; {len(item.files)} file(s)")


def _row(item: InventoryItem) -> dict:
    c = item.characterisation or {}
    dicom = c.get("dicom", {})
    fmt = lambda seq: "x".join(f"{v:g}" for v in seq) if seq else ""  # noqa: E731
    return {
        "id": item.id, "status": item.status, "kind": item.kind, "path": item.path,
        "series_uid": item.series_uid or "", "files": len(item.files), "size_bytes": item.size_bytes,
        "sha256": item.sha256 or "", "is_ct": c.get("is_ct", ""), "phase": c.get("phase", ""),
        "phase_confidence": c.get("phase_confidence", ""),
        "blood_pool_hu": "" if c.get("blood_pool_hu") is None else c["blood_pool_hu"],
        "regions": ";".join(c.get("regions", [])), "suggested_indication": item.suggested_indication or "",
        "shape_ijk": fmt(c.get("shape_ijk")), "spacing_mm": fmt([round(v, 3) for v in c.get("spacing_mm", [])]),
        "slice_thickness_mm": c.get("slice_thickness_mm", ""), "manufacturer": dicom.get("manufacturer", ""),
        "model": dicom.get("model", ""), "kernel": dicom.get("kernel", ""), "kvp": dicom.get("kvp", ""),
        "contrast_agent": dicom.get("contrast_agent", ""), "series_description": dicom.get("series_description", ""),
        "sidecar": item.sidecar or "", "error": item.error or "",
    }


def write_inventory(items: list[InventoryItem], csv_path: str | os.PathLike, root: str | os.PathLike,
                    sidecar_dir: str | os.PathLike | None = None) -> Path:
    """Write the inventory CSV (one row per item) and one JSON sidecar per image item; returns the CSV path.

    Sidecars go to ``sidecar_dir`` (default: ``<csv stem>_sidecars`` beside the CSV), named ``<id>.json``;
    skipped non-image files get no sidecar. Files are written atomically.
    """
    csv_path = Path(csv_path)
    if not csv_path.parent.exists():
        raise NetZeroAICTError("the output folder does not exist", where=str(csv_path.parent), hint="create it first")
    sidecar_dir = Path(sidecar_dir) if sidecar_dir else csv_path.with_name(csv_path.stem + "_sidecars")
    sidecar_dir.mkdir(parents=True, exist_ok=True)
    for item in items:
        if item.kind == "other":
            continue
        target = sidecar_dir / f"{item.id}.json"
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(json.dumps(sidecar(item, root), indent=2, default=str))
        os.replace(tmp, target)
        item.sidecar = os.path.relpath(target, csv_path.parent)
    tmp = csv_path.with_name(f".{csv_path.name}.tmp")
    with open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for item in items:
            writer.writerow(_row(item))
    os.replace(tmp, csv_path)
    return csv_path
