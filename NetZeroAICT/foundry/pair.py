"""A paired NCCT/CTA case (phantom or real) and its folder on disk.

Folder layout (one case)::

    ncct.nii.gz   cta.nii.gz        HU, integer-valued, written as int16 (lossless for phantoms)
    lumen.nii.gz  <mask>.nii.gz     uint8 masks on the same grid
    case.json                       ground truth and provenance (JSON)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import NetZeroAICTError
from ..volume import Volume
from ..volume_io import read_volume, write_volume

IMAGE_FILES = ("ncct.nii.gz", "cta.nii.gz")
CASE_FILE = "case.json"


@dataclass
class PhantomPair:
    """One case: NCCT and CTA on the same grid, masks, and the ground truth.

    Attributes:
        ncct: non-contrast volume (float32 HU).
        cta: arterial-phase volume (float32 HU), same grid as ``ncct``.
        masks: uint8 volumes by name: ``lumen``, ``wall``, ``thrombus``, ``calcium``, ``plaque``,
            ``pathology``, ``body``, ``enhancing`` and ``tissue`` (the tissue label map, ids in
            ``case["tissue_labels"]``).
        case: JSON-able ground truth (indication, seed, abnormal, pathology, max_diameter_mm,
            stenosis_percent, location, findings, HU facts).
    """

    ncct: Volume
    cta: Volume
    masks: dict[str, Volume] = field(default_factory=dict)
    case: dict = field(default_factory=dict)

    @property
    def enhancement(self) -> np.ndarray:
        """CTA − NCCT in HU (float32, (k, j, i))."""
        return self.cta.voxels - self.ncct.voxels

    def save(self, folder: str | os.PathLike) -> Path:
        """Write the case into ``folder`` (created if needed); case.json is written last, atomically."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        synthetic = bool(self.case.get("synthetic", False))
        label = f"{'SYNTHETIC phantom ' if synthetic else ''}{self.case.get('indication', '')} seed {self.case.get('seed')}"
        for name, volume in (("ncct", self.ncct), ("cta", self.cta)):
            voxels = volume.voxels
            if np.array_equal(voxels, np.rint(voxels)) and voxels.min() >= -32768 and voxels.max() <= 32767:
                volume = volume.with_voxels(voxels.astype(np.int16))
            write_volume(volume, folder / f"{name}.nii.gz", description=f"{name.upper()} {label}".strip())
        for name, mask in self.masks.items():
            write_volume(mask.with_voxels(mask.voxels.astype(np.uint8)), folder / f"{name}.nii.gz")
        tmp = folder / f".{CASE_FILE}.tmp"
        tmp.write_text(json.dumps(self.case, indent=2, sort_keys=True))
        os.replace(tmp, folder / CASE_FILE)
        return folder


def load_case(folder: str | os.PathLike) -> PhantomPair:
    """Read a case folder written by :meth:`PhantomPair.save` (or by hand with the same file names)."""
    folder = Path(folder)
    missing = [name for name in (*IMAGE_FILES, CASE_FILE) if not (folder / name).exists()]
    if missing:
        raise NetZeroAICTError(f"not a complete case folder: missing {', '.join(missing)}", where=str(folder),
                               hint="a case folder holds ncct.nii.gz, cta.nii.gz, lumen.nii.gz and case.json "
                                    "(python -m NetZeroAICT foundry phantom writes one)")
    try:
        case = json.loads((folder / CASE_FILE).read_text())
    except json.JSONDecodeError as error:
        raise NetZeroAICTError(f"case.json is not valid JSON ({error})", where=str(folder / CASE_FILE)) from None
    ncct = read_volume(folder / "ncct.nii.gz")
    cta = read_volume(folder / "cta.nii.gz")
    if not ncct.same_grid(cta):
        raise NetZeroAICTError("ncct.nii.gz and cta.nii.gz are not on the same grid", where=str(folder),
                               hint="register the CTA to the NCCT first (python -m NetZeroAICT foundry register)")
    masks = {}
    for path in sorted(folder.glob("*.nii.gz")):
        name = path.name[:-len(".nii.gz")]
        if path.name not in IMAGE_FILES:
            masks[name] = read_volume(path, label=True)
            masks[name].voxels = masks[name].voxels.astype(np.uint8, copy=False)
    return PhantomPair(ncct, cta, masks, case)
