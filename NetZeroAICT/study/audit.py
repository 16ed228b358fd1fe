"""The blinding audit: every trace in a reader package that could reveal a case, a patient or a modality.

``audit_package(folder, key=None, protocol=None) -> list[Leak]``. Without the key it checks what is visible
from the package alone: unexpected files, names that are not random codes, header text (NIfTI descrip,
aux_file, intent_name, db_name, extensions; NRRD keys and comments; gzip file names and times), images not
all written the same way (data type, scaling, header layout), file times, and text containing revealing
words. With the key (and the protocol) it also checks, per case, that real and synthetic copies have the
same grid, size and value range, that no case or patient id or original file name appears anywhere, that
codes do not follow case order, and that no worklist or listing orders items by case or modality.
"""

from __future__ import annotations

import gzip
import json
import re
import struct
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from .package import CODE_ALPHABET, CODE_LENGTH, REVEALING_WORDS, PackageKey
from .protocol import Protocol

NRRD_GEOMETRY_KEYS = {"type", "dimension", "space", "sizes", "space directions", "kinds", "endian", "encoding",
                      "space origin", "space dimension", "spacings", "space units", "byte skip", "line skip",
                      "data file", "centerings"}
CODE_NAME = re.compile(rf"^[{CODE_ALPHABET}]{{{CODE_LENGTH}}}\.(nii|nii\.gz|nrrd)$")
ALLOWED_TOP = {"package.json", "reader_protocol.json", "worklists", "images"}


@dataclass(frozen=True)
class Leak:
    """One way the package could unblind a reader: ``kind`` (name, header, dtype, size, order, text,
    key, file), ``where`` (file or group) and ``what``."""

    kind: str
    where: str
    what: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.where}: {self.what}"


def _image_bytes(path: Path, count: int) -> tuple[bytes, dict]:
    """The first ``count`` bytes of the (decompressed) image and facts about its gzip wrapper."""
    with open(path, "rb") as handle:
        raw = handle.read(count)
    facts = {}
    if raw[:2] == b"\x1f\x8b":
        flags, mtime = raw[3], struct.unpack("<I", raw[4:8])[0]
        facts = {"gzip_name": bool(flags & 0x08), "gzip_comment": bool(flags & 0x10), "gzip_mtime": mtime}
        with gzip.open(path, "rb") as handle:
            raw = handle.read(count)
    return raw, facts


def nifti_header(path: Path) -> dict:
    """Header fields of a NIfTI-1 file that matter for blinding."""
    data, facts = _image_bytes(path, 352)
    if len(data) < 348 or struct.unpack("<i", data[:4])[0] != 348:
        raise ValueError("not a little-endian NIfTI-1 file")
    text = lambda a, b: data[a:b].split(b"\x00")[0].decode("latin-1")  # noqa: E731
    dims = struct.unpack("<8h", data[40:56])
    pixdim = struct.unpack("<8f", data[76:108])
    return {
        **facts,
        "db_name": text(14, 32), "descrip": text(148, 228), "aux_file": text(228, 252),
        "intent_name": text(328, 344), "datatype": struct.unpack("<h", data[70:72])[0],
        "bitpix": struct.unpack("<h", data[72:74])[0], "vox_offset": struct.unpack("<f", data[108:112])[0],
        "scl": struct.unpack("<2f", data[112:120]), "xyzt_units": data[123],
        "cal": struct.unpack("<2f", data[124:132]), "qform_code": struct.unpack("<h", data[252:254])[0],
        "sform_code": struct.unpack("<h", data[254:256])[0], "extension": len(data) >= 352 and data[348] != 0,
        "dims": dims[1:1 + max(0, min(dims[0], 7))], "pixdim": tuple(round(p, 4) for p in pixdim[1:4]),
        "magic": data[344:348],
    }


def nrrd_header(path: Path) -> dict:
    """Keys, comments and key-value pairs of a NRRD header."""
    data, facts = _image_bytes(path, 65536)
    head = data.split(b"\n\n", 1)[0].decode("latin-1")
    fields, comments = {}, []
    for line in head.splitlines()[1:]:
        if line.startswith("#"):
            comments.append(line[1:].strip())
        elif ":=" in line:
            key, value = line.split(":=", 1)
            fields[f"{key}:="] = value
        elif ":" in line:
            key, value = line.split(":", 1)
            fields[key.strip()] = value.strip()
    return {**facts, "fields": fields, "comments": comments, "datatype": fields.get("type"),
            "dims": fields.get("sizes"), "pixdim": fields.get("space directions")}


def _header_leaks(name: str, header: dict, kind: str) -> list[Leak]:
    leaks = []
    if header.get("gzip_name") or header.get("gzip_comment"):
        leaks.append(Leak("header", name, "the gzip wrapper stores an original file name or comment"))
    if header.get("gzip_mtime"):
        leaks.append(Leak("header", name, "the gzip wrapper stores a write time"))
    if kind == "nifti":
        for field in ("descrip", "aux_file", "intent_name", "db_name"):
            if header[field].strip():
                leaks.append(Leak("header", name, f"NIfTI {field} is not empty: {header[field]!r}"))
        if header["extension"]:
            leaks.append(Leak("header", name, "NIfTI header extensions present (may carry DICOM or other text)"))
    else:
        extra = sorted(set(header["fields"]) - NRRD_GEOMETRY_KEYS)
        if extra:
            leaks.append(Leak("header", name, f"NRRD keys beyond geometry: {', '.join(extra)}"))
        texts = [c for c in header["comments"] if "teem.sourceforge.net" not in c and "NRRD file format" not in c]
        if texts:
            leaks.append(Leak("header", name, f"NRRD comments: {texts[0]!r}"))
    return leaks


def _signature(header: dict, kind: str) -> tuple:
    """How an image was written, apart from its grid (which differs between patients)."""
    if kind == "nifti":
        return ("nifti", header["datatype"], header["bitpix"], header["vox_offset"], header["scl"],
                header["xyzt_units"], header["cal"], header["qform_code"], header["sform_code"], header["magic"],
                "gz" if "gzip_mtime" in header else "raw")
    return ("nrrd", header["datatype"], header["fields"].get("encoding"), header["fields"].get("endian"),
            tuple(sorted(header["fields"])), "gz" if "gzip_mtime" in header else "raw")


def _text_leaks(name: str, text: str, secrets_: set[str], words: bool = True) -> list[Leak]:
    lower = text.lower()
    leaks = []
    for secret in sorted(secrets_):
        if secret and re.search(rf"(?<![A-Za-z0-9]){re.escape(secret.lower())}(?![A-Za-z0-9])", lower):
            leaks.append(Leak("text", name, f"contains the identifier {secret!r}"))
    if words:
        for word in REVEALING_WORDS:
            if word in lower:
                leaks.append(Leak("text", name, f"contains the revealing word {word!r}"))
                break
    return leaks


def _reader_protocol_leaks(path: Path, secrets_: set[str]) -> list[Leak]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError):
        return [Leak("file", path.name, "not readable JSON")]
    leaks = [Leak("text", path.name, f"holds {key!r} (readers must not see it)")
             for key in ("cases", "truth", "seed") if key in data]
    questions = data.pop("questions", [])
    leaks += _text_leaks(path.name, json.dumps(data), secrets_)
    # the Turing question legitimately says "synthetic": only identifiers are checked there
    leaks += _text_leaks(f"{path.name} questions", json.dumps(questions), secrets_, words=False)
    return leaks


def _order_leaks(worklists: dict[str, list[str]], key: PackageKey) -> list[Leak]:
    """Orders that follow the cases or the modalities: in one long worklist (where chance cannot explain it)
    or in most of the worklists together."""
    leaks, sorted_lists, separated_lists, counted = [], [], [], 0
    for where, codes in worklists.items():
        items = [key.items[c] for c in codes if c in key.items and not key.items[c]["training"]]
        case_ids = [i["case_id"] for i in items]
        modalities = [i["modality"] for i in items]
        if len(items) < 3:
            continue
        counted += 1
        if len(set(case_ids)) == len(case_ids) and case_ids in (sorted(case_ids), sorted(case_ids)[::-1]):
            sorted_lists.append(where)
            if len(case_ids) >= 8:
                leaks.append(Leak("order", where, "items are in case-id order"))
        if len(set(modalities)) == 2 and sum(a != b for a, b in zip(modalities, modalities[1:])) == 1:
            separated_lists.append(where)
            if min(modalities.count("real"), modalities.count("synthetic")) >= 5:
                leaks.append(Leak("order", where, f"all {modalities[0]} images come before all the others"))
    if counted >= 2 and len(sorted_lists) > counted / 2:
        leaks.append(Leak("order", "worklists", f"{len(sorted_lists)} of {counted} worklists are in case-id order"))
    if counted >= 2 and len(separated_lists) > counted / 2:
        leaks.append(Leak("order", "worklists", f"{len(separated_lists)} of {counted} worklists show all images of "
                          "one modality before the other"))
    return leaks


def _keyed_leaks(headers: dict[str, dict], sizes: dict[str, int], key: PackageKey, root: Path) -> list[Leak]:
    leaks = []
    by_case = defaultdict(lambda: defaultdict(list))
    for code, item in key.items.items():
        if code in headers:
            by_case[item["case_id"]][item["modality"]].append(code)
    size_sign = []
    for case_id, groups in sorted(by_case.items()):
        if not groups.get("real") or not groups.get("synthetic"):
            continue
        real, synthetic = groups["real"][0], groups["synthetic"][0]
        for field in ("dims", "pixdim"):
            if headers[real].get(field) != headers[synthetic].get(field):
                leaks.append(Leak("size", f"case {case_id}", f"real and synthetic copies differ in {field}"))
        if sizes[real] != sizes[synthetic]:
            size_sign.append(sizes[synthetic] > sizes[real])
            if "gzip_mtime" not in headers[real]:
                leaks.append(Leak("size", f"case {case_id}", "real and synthetic copies differ in file size"))
    if len(size_sign) >= 4 and (all(size_sign) or not any(size_sign)):
        leaks.append(Leak("size", "images", "compressed synthetic copies are consistently "
                          f"{'larger' if size_sign[0] else 'smaller'} than real ones"))
    ranges = defaultdict(set)
    for code, item in key.items.items():
        path = next((p for p in (root / "images").glob(f"{code}.*")), None)
        if path is not None and headers.get(code, {}).get("datatype") is not None and path.suffix == ".nii":
            import numpy as np

            header = headers[code]
            dtype = {4: np.int16, 16: np.float32, 2: np.uint8, 8: np.int32, 512: np.uint16}.get(header["datatype"])
            if dtype is not None:
                voxels = np.memmap(path, dtype=dtype, mode="r", offset=int(header["vox_offset"]))
                ranges[item["modality"]].add((float(voxels.min()), float(voxels.max())))
    for end, label in ((0, "minimum"), (1, "maximum")):
        real = {r[end] for r in ranges["real"]}
        synthetic = {r[end] for r in ranges["synthetic"]}
        if len(ranges["real"]) >= 2 and len(ranges["synthetic"]) >= 2 and len(real) == 1 and len(synthetic) == 1 \
                and real != synthetic:
            leaks.append(Leak("dtype", "images", f"every real copy has {label} {real.pop():g} HU, every synthetic "
                              f"copy {synthetic.pop():g} HU"))
    codes = sorted(c for c in key.items if c in headers)
    cases = [key.items[c]["case_id"] for c in codes]
    if len(set(cases)) >= 6 and len(set(cases)) == len(cases) and cases == sorted(cases):
        leaks.append(Leak("name", "images", "sorting the codes sorts the cases: codes are derived from case ids"))
    return leaks


def audit_package(folder: str | Path, *, key: PackageKey | str | Path | None = None,
                  protocol: Protocol | None = None) -> list[Leak]:
    """Every leak found in the package at ``folder`` (an empty list means none found)."""
    root = Path(folder)
    if isinstance(key, (str, Path)):
        key = PackageKey.load(key)
    secrets_: set[str] = set()
    if key is not None:
        secrets_ |= {i["case_id"] for i in key.items.values()}
    if protocol is not None:
        for case in protocol.cases:
            secrets_ |= {case["id"], case.get("patient_id", "")}
            secrets_ |= {Path(case[k]).name.split(".")[0] for k in ("real_cta", "synthetic_cta", "ncct") if k in case}
    secrets_.discard("")
    leaks: list[Leak] = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.name.startswith("."):
            leaks.append(Leak("file", relative, "hidden file"))
        elif relative.split("/")[0] not in ALLOWED_TOP:
            leaks.append(Leak("file", relative, "unexpected file in the package"))
        if path.is_file() and path.suffix in (".json", ".txt", ".csv", ".yaml", ".yml", ".md", ".html"):
            if path.name == "reader_protocol.json" and path.parent == root:
                leaks += _reader_protocol_leaks(path, secrets_)
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            if '"modality"' in text or '"case_id"' in text:
                leaks.append(Leak("key", relative, "looks like the unblinding key: it belongs with the lead only"))
            leaks += _text_leaks(relative, text if path.parent.name != "worklists" else
                                 text.replace(path.stem, ""), secrets_)

    headers: dict[str, dict] = {}
    sizes: dict[str, int] = {}
    signatures = defaultdict(list)
    mtimes = defaultdict(list)
    for path in sorted((root / "images").glob("*")) if (root / "images").is_dir() else []:
        name = f"images/{path.name}"
        if not CODE_NAME.match(path.name):
            leaks.append(Leak("name", name, "file name is not a random code (8 letters/digits)"))
        leaks += _text_leaks(name, path.name, secrets_)
        kind = "nrrd" if ".nrrd" in path.name else "nifti"
        try:
            header = nrrd_header(path) if kind == "nrrd" else nifti_header(path)
        except (ValueError, OSError, struct.error, EOFError) as error:
            leaks.append(Leak("file", name, f"cannot read the image header ({error})"))
            continue
        code = path.name.split(".")[0]
        headers[code], sizes[code] = header, path.stat().st_size
        leaks += _header_leaks(name, header, kind)
        signatures[_signature(header, kind)].append(code)
        mtimes[int(path.stat().st_mtime)].append(code)
    if len(signatures) > 1:
        groups = sorted(signatures.values(), key=len)
        leaks.append(Leak("dtype", "images", f"images are written {len(signatures)} different ways (data type, "
                          f"scaling or layout), e.g. {groups[0][0]} differs from {groups[-1][0]}"))
    if len(mtimes) > 1:
        leaks.append(Leak("order", "images", "file times differ between images: they reveal the writing order"))

    manifest = root / "package.json"
    listed = json.loads(manifest.read_text()).get("images", []) if manifest.is_file() else []
    if not manifest.is_file():
        leaks.append(Leak("file", "package.json", "missing"))
    elif sorted(listed) != sorted(headers):
        leaks.append(Leak("file", "package.json", "its image list does not match images/"))
    elif listed != sorted(listed):
        leaks.append(Leak("order", "package.json", "images are listed in a non-alphabetical (revealing?) order"))
    if key is not None:
        leaks += _keyed_leaks(headers, sizes, key, root)
        worklists = {}
        for path in sorted((root / "worklists").glob("*.json")) if (root / "worklists").is_dir() else []:
            try:
                sessions = json.loads(path.read_text())["sessions"]
            except (ValueError, KeyError, TypeError):
                leaks.append(Leak("file", f"worklists/{path.name}", "not a worklist"))
                continue
            worklists.update({f"worklists/{path.name} {s}": codes for s, codes in sessions.items()})
        leaks += _order_leaks(worklists, key)
    return leaks
