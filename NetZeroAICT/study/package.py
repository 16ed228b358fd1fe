"""Blinded reader packages: image copies under random codes, the reader-side protocol, and worklists.

Layout of a package folder (what readers get)::

    package.json            {"study_id", "format", "images": [codes, sorted]}
    reader_protocol.json    questions, sessions, hanging protocol, answer policy (no cases, truth or paths)
    worklists/<reader>.json {"reader_id", "sessions": {session_id: [codes in reading order]}}
    images/<CODE>.nii       one per (session, case, modality) the design shows

Every image — real or synthetic — is written the same way: resampled onto the case's real-CTA grid, HU
rounded and clipped to int16 [-1024, 3071], origin at 0, no description or any other header text, the same
(no) compression, the same fixed file time, files created in random order. Codes come from :mod:`secrets`
(8 characters, never derived from an id). The key (code → session, case, modality, training) is written
outside the package for the lead only.
"""

from __future__ import annotations

import gzip
import json
import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ValidationError
from .design import Design
from .protocol import Protocol

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
CODE_LENGTH = 8
HU_RANGE = (-1024, 3071)
# words that must not be read in anything readers get (the audit looks for them); a random code never spells one
REVEALING_WORDS = ("synthetic", "synth", "digital contrast", "real_cta", "synthetic_cta", "ncct", "truth",
                   "abnormal", "modality", "patient", "case_id")
PACKAGE_FILE_TIME = 946684800  # 2000-01-01T00:00:00Z: one time for every file, so times say nothing


def new_code(taken: set[str]) -> str:
    """A fresh random code, not in ``taken`` (cryptographic randomness). Codes that happen to spell a revealing
    word (e.g. "XNCCT4KP", about 1 in 200,000) are drawn again: a reader would read it, and the audit flags it."""
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if code not in taken and not any(word in code.lower() for word in REVEALING_WORDS):
            taken.add(code)
            return code


@dataclass
class PackageKey:
    """The unblinding key: ``items`` maps code → {session_id, case_id, modality, training}."""

    study_id: str
    seed: int
    items: dict[str, dict]

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        text = json.dumps({"study_id": self.study_id, "seed": self.seed, "items": self.items}, indent=1)
        path.write_text(text, encoding="utf-8")
        os.chmod(path, 0o600)
        return path

    @classmethod
    def combine(cls, keys: list["PackageKey"]) -> "PackageKey":
        """One key for several packages of the same study (e.g. one package per reader and session)."""
        if len({k.study_id for k in keys}) != 1:
            raise ValidationError("the keys belong to different studies", where="keys",
                                  hint="give the keys of one study's packages")
        items: dict[str, dict] = {}
        for key in keys:
            clash = set(items) & set(key.items)
            if any(items[c] != key.items[c] for c in clash):
                raise ValidationError(f"code {sorted(clash)[0]} means different images in two keys", where="keys")
            items.update(key.items)
        return cls(keys[0].study_id, keys[0].seed, items)

    @classmethod
    def load(cls, path: str | Path) -> "PackageKey":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(data["study_id"], int(data["seed"]), dict(data["items"]))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ValidationError(f"not a package key file ({error})", where=str(path),
                                  hint="give the key.json that `study package` wrote") from None


def blinded_voxels(real_path: Path, synthetic_path: Path | None = None):
    """The real CTA (``synthetic_path`` None) or the synthetic CTA resampled onto the real grid, as
    (int16 HU array (k, j, i), spacing_mm (i, j, k), direction (3×3))."""
    import SimpleITK as sitk

    from ..volume_io import read_volume

    real = read_volume(real_path)
    volume = real
    if synthetic_path is not None:
        synthetic = read_volume(synthetic_path)
        same_grid = (synthetic.voxels.shape == real.voxels.shape
                     and np.allclose(synthetic.spacing_mm, real.spacing_mm, atol=1e-4)
                     and np.allclose(synthetic.origin_lps, real.origin_lps, atol=1e-3)
                     and np.allclose(synthetic.direction_lps, real.direction_lps, atol=1e-5))
        if same_grid:
            volume = synthetic
        else:
            image = sitk.Resample(synthetic.to_sitk(), real.to_sitk(), sitk.Transform(), sitk.sitkLinear,
                                  float(HU_RANGE[0]), sitk.sitkFloat32)
            volume = type(real)(sitk.GetArrayFromImage(image), real.spacing_mm, real.origin_lps,
                                real.direction_lps)
    voxels = np.clip(np.rint(volume.voxels), *HU_RANGE).astype(np.int16)
    return voxels, real.spacing_mm, np.asarray(real.direction_lps)


def write_blinded_image(voxels: np.ndarray, spacing_mm, direction, path: Path, *, compress: bool = False) -> Path:
    """Write int16 voxels as NIfTI with nothing in the header but geometry; gzip (if asked) with no name
    and time 0; the file time set to :data:`PACKAGE_FILE_TIME`."""
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(voxels.astype(np.int16, copy=False))
    image.SetSpacing(tuple(float(s) for s in spacing_mm))
    image.SetOrigin((0.0, 0.0, 0.0))
    image.SetDirection(tuple(float(x) for x in np.asarray(direction).ravel()))
    fd, tmp = tempfile.mkstemp(prefix=".tmp", suffix=".nii", dir=path.parent)
    os.close(fd)
    try:
        sitk.WriteImage(image, tmp, False)
        if compress:
            with open(tmp, "rb") as raw, open(tmp + ".gz", "wb") as out:
                with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as zipped:
                    shutil.copyfileobj(raw, zipped)
            os.replace(tmp + ".gz", tmp)
        os.replace(tmp, path)
    finally:
        for leftover in (tmp, tmp + ".gz"):
            if os.path.exists(leftover):
                os.remove(leftover)
    os.utime(path, (PACKAGE_FILE_TIME, PACKAGE_FILE_TIME))
    return path


def _write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
    os.utime(path, (PACKAGE_FILE_TIME, PACKAGE_FILE_TIME))


def build_package(protocol: Protocol, design: Design, out_dir: str | Path, key_path: str | Path, *,
                  reader_ids: list[str] | None = None, session_ids: list[str] | None = None,
                  compress: bool = False, progress=None) -> PackageKey:
    """Write the blinded package of ``design`` into ``out_dir`` (new or empty) and its key to ``key_path``
    (which must lie outside the package). Returns the key.

    ``reader_ids`` / ``session_ids`` restrict the package to those readers and sessions. One package per
    reader and session, handed out when the session may start, keeps a reader from ever holding the real and
    the synthetic image of one patient at the same time (a shared package holds both)."""
    out_dir, key_path = Path(out_dir).resolve(), Path(key_path).resolve()
    if out_dir == key_path.parent or out_dir in key_path.parents:
        raise ValidationError("the key would be inside the package readers get", where=str(key_path),
                              hint="write the key outside the package folder")
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ValidationError("the package folder is not empty", where=str(out_dir), hint="give a new folder")
    if design.study_id != protocol.study_id:
        raise ValidationError(f"the design is for study {design.study_id!r}, not {protocol.study_id!r}",
                              where="design", hint="make the design from this protocol")
    readings = [r for r in design.readings if (reader_ids is None or r.reader_id in reader_ids)
                and (session_ids is None or r.session_id in session_ids)]
    if not readings:
        raise ValidationError("no readings for these readers and sessions", where="package",
                              hint=f"readers: {', '.join(r['id'] for r in protocol.readers)}; "
                                   f"sessions: {', '.join(s['id'] for s in protocol.sessions)}")
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    (out_dir / "worklists").mkdir(exist_ok=True)
    key_path.parent.mkdir(parents=True, exist_ok=True)

    taken: set[str] = set()
    items = sorted({(r.session_id, r.case_id, r.modality, r.training) for r in readings})
    codes = {item[:3]: new_code(taken) for item in items}
    key = PackageKey(protocol.study_id, design.seed,
                     {codes[item[:3]]: {"session_id": item[0], "case_id": item[1], "modality": item[2],
                                        "training": item[3]} for item in items})
    suffix = ".nii.gz" if compress else ".nii"
    order = list(items)
    secrets.SystemRandom().shuffle(order)  # creation order says nothing either
    written: dict[tuple[str, str], Path] = {}
    for index, (session_id, case_id, modality, _training) in enumerate(order):
        target = out_dir / "images" / f"{codes[session_id, case_id, modality]}{suffix}"
        source = written.get((case_id, modality))
        if source is not None:
            shutil.copyfile(source, target)
            os.utime(target, (PACKAGE_FILE_TIME, PACKAGE_FILE_TIME))
        else:
            synthetic = protocol.image_path(case_id, "synthetic") if modality == "synthetic" else None
            voxels, spacing, direction = blinded_voxels(protocol.image_path(case_id, "real"), synthetic)
            write_blinded_image(voxels, spacing, direction, target, compress=compress)
            written[case_id, modality] = target
        if progress:
            progress((index + 1) / len(order))
    for reader_id in dict.fromkeys(r.reader_id for r in readings):
        sessions = {s: [codes[r.session_id, r.case_id, r.modality] for r in design.for_reader(reader_id, s)]
                    for s in dict.fromkeys(r.session_id for r in readings)}
        _write_json(out_dir / "worklists" / f"{reader_id}.json", {"reader_id": reader_id, "sessions": sessions})
    _write_json(out_dir / "reader_protocol.json", protocol.reader_side())
    _write_json(out_dir / "package.json", {"study_id": protocol.study_id, "format": suffix.lstrip("."),
                                           "images": sorted(codes.values())})
    key.save(key_path)
    return key


def enrol_reader(store, package_dir: str | Path, reader_id: str) -> dict:
    """Register the package's reader-side protocol in ``store`` and assign the reader's worklists from the
    package (idempotent: a reader station calls it at every start). Returns the reader-side protocol."""
    package_dir = Path(package_dir)
    try:
        protocol = json.loads((package_dir / "reader_protocol.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ValidationError("no readable reader_protocol.json", where=str(package_dir),
                              hint="give the folder `study package` wrote") from None
    worklist_path = package_dir / "worklists" / f"{reader_id}.json"
    if not worklist_path.is_file():
        raise ValidationError(f"no worklist for reader {reader_id!r}", where=str(package_dir / "worklists"),
                              hint=f"readers in this package: {', '.join(r['id'] for r in protocol['readers'])}")
    worklists = json.loads(worklist_path.read_text(encoding="utf-8"))["sessions"]
    store.register_study(protocol)
    for session in protocol["sessions"]:
        store.assign(protocol["study_id"], reader_id, session["id"], worklists.get(session["id"], []))
    return protocol
