"""Blinded packages: real and synthetic copies written identically under random codes, the key kept out,
and an audit that finds nothing in our packages but catches every kind of planted leak."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from NetZeroAICT.study import Protocol, make_design
from NetZeroAICT.study.audit import audit_package, nifti_header
from NetZeroAICT.study.package import PACKAGE_FILE_TIME, PackageKey, build_package, write_blinded_image
from NetZeroAICT.volume import Volume
from NetZeroAICT.volume_io import read_volume, write_volume
from Testing.study_fixtures import study_protocol, write_case_images


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A 6-case, 4-reader study with its clean package (built once for the module)."""
    root = tmp_path_factory.mktemp("study")
    cases_dir = root / "cases"
    cases_dir.mkdir()
    protocol = Protocol.from_dict(study_protocol(write_case_images(cases_dir)), base_dir=cases_dir, check_files=True)
    design = make_design(protocol)
    key = build_package(protocol, design, root / "package", root / "lead" / "key.json")
    return {"root": root, "protocol": protocol, "design": design, "key": key, "package": root / "package",
            "key_path": root / "lead" / "key.json"}


def _copy(study, tmp_path) -> Path:
    target = tmp_path / "leaky"
    shutil.copytree(study["package"], target)  # copy2 keeps the file times
    return target


def _code(study, case_id: str, modality: str, session: str = "d1") -> str:
    return next(c for c, i in study["key"].items.items()
                if (i["case_id"], i["modality"], i["session_id"]) == (case_id, modality, session))


def _kinds(leaks) -> set[str]:
    return {leak.kind for leak in leaks}


def test_package_is_clean_and_blinded(study):
    package, key = study["package"], study["key"]
    assert audit_package(package, key=key, protocol=study["protocol"]) == []
    assert not (package / "key.json").exists() and study["key_path"].exists()
    # 6 cases × 2 modalities × 3 sessions (codes differ per session) = 36 images under 8-character random codes
    assert len(key.items) == 36 and len(list((package / "images").iterdir())) == 36
    headers = {code: nifti_header(package / "images" / f"{code}.nii") for code in key.items}
    assert {(h["datatype"], h["descrip"], h["aux_file"]) for h in headers.values()} == {(4, "", "")}  # int16
    for case in study["protocol"].cases:
        real, synthetic = _code(study, case["id"], "real"), _code(study, case["id"], "synthetic")
        assert headers[real]["dims"] == headers[synthetic]["dims"] == (16, 16, 12)  # synthetic put on the real grid
        assert (package / "images" / f"{real}.nii").stat().st_size == (package / "images" / f"{synthetic}.nii").stat().st_size
    assert {int((package / "images" / f"{c}.nii").stat().st_mtime) for c in key.items} == {PACKAGE_FILE_TIME}
    everything = " ".join(p.read_text() for p in package.rglob("*.json"))
    # every identifier the protocol holds stays out (the random codes may themselves contain e.g. "PAT")
    for case in study["protocol"].cases:
        for identifier in (case["id"], case["patient_id"], case["real_cta"]):
            assert identifier not in everything, identifier
    assert "cta" not in everything
    volume = read_volume(package / "images" / f"{_code(study, 'case001', 'synthetic')}.nii")
    assert "description" not in volume.metadata and volume.voxels.min() >= -1024
    worklist = json.loads((package / "worklists" / "r0.json").read_text())["sessions"]
    assert [key.items[c]["case_id"] for c in worklist["d1"]] == [r.case_id for r in study["design"].for_reader("r0", "d1")]


def test_codes_never_spell_a_revealing_word(monkeypatch):
    """A code is 8 random characters; one that spells e.g. NCCT or SYNTH is drawn again (seen in a real run: the
    code KU3PAT9F shows how readable chance can be)."""
    from NetZeroAICT.study import package as package_module

    draws = iter("XNCCT4KP" + "SYNTHABC" + "KU3PAT9F" + "ABCDEFGH")
    monkeypatch.setattr(package_module.secrets, "choice", lambda alphabet: next(draws))
    taken = {"ABCDEFGH"}
    assert package_module.new_code(taken) == "KU3PAT9F" and "KU3PAT9F" in taken


def test_key_must_stay_outside_the_package(study, tmp_path):
    from NetZeroAICT.errors import ValidationError

    with pytest.raises(ValidationError, match="inside the package"):
        build_package(study["protocol"], study["design"], tmp_path / "pkg", tmp_path / "pkg" / "key.json")


def _rewrite(path: Path, voxels: np.ndarray, **kwargs):
    volume = Volume(voxels, (0.8, 0.8, 1.5))
    write_volume(volume, path.with_name("tmp.nii"), compress=False, **kwargs)
    os.replace(path.with_name("tmp.nii"), path)
    os.utime(path, (PACKAGE_FILE_TIME, PACKAGE_FILE_TIME))


def _plant_name(study, package):
    code = _code(study, "case002", "synthetic")
    os.rename(package / "images" / f"{code}.nii", package / "images" / "case002.nii")


def _plant_descrip(study, package):
    path = package / "images" / f"{_code(study, 'case003', 'synthetic')}.nii"
    _rewrite(path, read_volume(path).voxels.astype(np.int16), description="SYNTHETIC digital contrast (aorta)")


def _plant_aux_file(study, package):
    path = package / "images" / f"{_code(study, 'case003', 'real')}.nii"
    data = bytearray(path.read_bytes())
    data[228:235] = b"PAT0003"
    path.write_bytes(bytes(data))
    os.utime(path, (PACKAGE_FILE_TIME, PACKAGE_FILE_TIME))


def _plant_nrrd_key(study, package):
    path = package / "images" / f"{_code(study, 'case004', 'synthetic')}.nii"
    voxels = read_volume(path).voxels.astype(np.int16)
    path.unlink()
    target = path.with_suffix(".nrrd")
    write_volume(Volume(voxels, (0.8, 0.8, 1.5)), target, description="synthetic", compress=False)
    os.utime(target, (PACKAGE_FILE_TIME, PACKAGE_FILE_TIME))


def _plant_dtype(study, package):
    path = package / "images" / f"{_code(study, 'case005', 'synthetic')}.nii"
    _rewrite(path, read_volume(path).voxels.astype(np.float32))


def _plant_grid(study, package):
    path = package / "images" / f"{_code(study, 'case001', 'synthetic')}.nii"
    write_blinded_image(np.zeros((12, 8, 8), np.int16), (1.6, 1.6, 1.5), np.eye(3), path)


def _plant_value_range(study, package):
    for code, item in study["key"].items.items():
        if item["modality"] == "real":
            path = package / "images" / f"{code}.nii"
            voxels = read_volume(path).voxels.astype(np.int16)
            voxels[:, :, 0] = -2048
            write_blinded_image(voxels, (0.8, 0.8, 1.5), np.eye(3), path)


def _plant_case_order(study, package):
    for path in (package / "worklists").glob("*.json"):
        data = json.loads(path.read_text())
        for codes in data["sessions"].values():
            codes.sort(key=lambda c: study["key"].items[c]["case_id"])
        path.write_text(json.dumps(data))


def _plant_modality_order(study, package):
    for path in (package / "worklists").glob("*.json"):
        data = json.loads(path.read_text())
        for codes in data["sessions"].values():
            codes.sort(key=lambda c: study["key"].items[c]["modality"])
        path.write_text(json.dumps(data))


def _plant_file_time(study, package):
    os.utime(package / "images" / f"{_code(study, 'case002', 'real')}.nii", None)


def _plant_text(study, package):
    path = package / "reader_protocol.json"
    data = json.loads(path.read_text())
    data["hanging_protocol"]["note"] = "case003 first"
    path.write_text(json.dumps(data))


def _plant_revealing_word(study, package):
    path = package / "package.json"
    data = json.loads(path.read_text())
    data["format"] = "nii (synthetic set B)"
    path.write_text(json.dumps(data))


def _plant_key(study, package):
    shutil.copy(study["key_path"], package / "worklists" / "lead.json")


def _plant_gzip_name(study, package):
    path = package / "images" / f"{_code(study, 'case002', 'real', 't')}.nii"
    with open(path, "rb") as raw, gzip.open(str(path) + ".gz", "wb") as zipped:  # stores name and time
        zipped.write(raw.read())
    path.unlink()


def _plant_listing_order(study, package):
    path = package / "package.json"
    data = json.loads(path.read_text())
    data["images"].sort(key=lambda c: (study["key"].items[c]["modality"], study["key"].items[c]["case_id"]))
    path.write_text(json.dumps(data))


def _plant_extra_file(study, package):
    (package / "notes.txt").write_text("reading notes")


@pytest.mark.parametrize("plant, kind, words", [
    (_plant_name, "name", "not a random code"),
    (_plant_descrip, "header", "descrip"),
    (_plant_aux_file, "header", "aux_file"),
    (_plant_nrrd_key, "header", "NRRD keys"),
    (_plant_dtype, "dtype", "different ways"),
    (_plant_grid, "size", "differ in dims"),
    (_plant_value_range, "dtype", "minimum -2048"),
    (_plant_case_order, "order", "case-id order"),
    (_plant_modality_order, "order", "one modality before the other"),
    (_plant_file_time, "order", "file times"),
    (_plant_text, "text", "case003"),
    (_plant_revealing_word, "text", "synthetic"),
    (_plant_key, "key", "unblinding key"),
    (_plant_gzip_name, "header", "original file name"),
    (_plant_listing_order, "order", "listed"),
    (_plant_extra_file, "file", "unexpected file"),
])
def test_audit_catches_each_planted_leak(study, tmp_path, plant, kind, words):
    package = _copy(study, tmp_path)
    assert audit_package(package, key=study["key"], protocol=study["protocol"]) == []
    plant(study, package)
    leaks = audit_package(package, key=study["key"], protocol=study["protocol"])
    assert any(leak.kind == kind and words in str(leak) for leak in leaks), [str(x) for x in leaks]


def test_audit_without_key_still_sees_package_level_leaks(study, tmp_path):
    package = _copy(study, tmp_path)
    assert audit_package(package) == []
    _plant_descrip(study, package)
    _plant_revealing_word(study, package)
    assert {"header", "text"} <= _kinds(audit_package(package))


def test_compressed_package_is_clean_and_sizes_are_checked(study, tmp_path):
    key = build_package(study["protocol"], study["design"], tmp_path / "pkg", tmp_path / "key.json", compress=True)
    leaks = audit_package(tmp_path / "pkg", key=key, protocol=study["protocol"])
    # gzip wrappers carry no name or time; compressed sizes of real vs synthetic are the one thing that may
    # differ systematically — the audit reports that honestly rather than calling the package clean
    assert not [leak for leak in leaks if leak.kind != "size"], [str(x) for x in leaks]
    header = nifti_header(next((tmp_path / "pkg" / "images").iterdir()))
    assert header["gzip_mtime"] == 0 and not header["gzip_name"]


def test_package_from_real_ct(ncct_abdomen_path, tmp_path):
    """A real CT (int32 HU, 3 mm) as the 'real' image and a synthetic one made the way the engine writes
    it (float32, another grid, SYNTHETIC description): in the package both are int16 on the same grid."""
    real = read_volume(ncct_abdomen_path)
    cases = []
    for index in range(4):
        case_dir = tmp_path / f"c{index}"
        case_dir.mkdir()
        shutil.copy(ncct_abdomen_path, case_dir / "cta.nii.gz")
        enhanced = real.voxels[:, ::2, ::2] + 250.0 * (real.voxels[:, ::2, ::2] > 30)
        synthetic = Volume(enhanced.astype(np.float32), (real.spacing_mm[0] * 2, real.spacing_mm[1] * 2,
                           real.spacing_mm[2]), real.origin_lps, real.direction_lps)
        write_volume(synthetic, case_dir / "synthetic_cta.nii.gz", description="SYNTHETIC digital contrast (aorta) m v1")
        cases.append({"id": f"c{index}", "real_cta": f"c{index}/cta.nii.gz",
                      "synthetic_cta": f"c{index}/synthetic_cta.nii.gz", "truth": {"abnormal": index % 2 == 0}})
    protocol = Protocol.from_dict(study_protocol(cases, n_readers=2), base_dir=tmp_path, check_files=True)
    key = build_package(protocol, make_design(protocol), tmp_path / "pkg", tmp_path / "key.json")
    assert audit_package(tmp_path / "pkg", key=key, protocol=protocol) == []
    code_real = next(c for c, i in key.items.items() if (i["case_id"], i["modality"]) == ("c1", "real"))
    code_syn = next(c for c, i in key.items.items() if (i["case_id"], i["modality"]) == ("c1", "synthetic"))
    a, b = (read_volume(tmp_path / "pkg" / "images" / f"{c}.nii") for c in (code_real, code_syn))
    assert a.voxels.shape == b.voxels.shape == real.voxels.shape and a.spacing_mm == b.spacing_mm
    assert np.allclose(a.voxels, np.clip(np.rint(real.voxels), -1024, 3071))
    assert "description" not in b.metadata
    assert PackageKey.load(tmp_path / "key.json").items == key.items


def test_one_package_per_reader_and_session(study, tmp_path):
    """A reader's session-1 package holds only their session-1 images, so they never hold the real and the
    synthetic image of one patient at once; the keys of several packages combine for the export."""
    protocol, design = study["protocol"], study["design"]
    keys = []
    for session in ("d1", "d2"):
        keys.append(build_package(protocol, design, tmp_path / f"r0_{session}", tmp_path / f"key_{session}.json",
                                  reader_ids=["r0"], session_ids=[session]))
        package = tmp_path / f"r0_{session}"
        assert [p.name for p in (package / "worklists").iterdir()] == ["r0.json"]
        assert len(list((package / "images").iterdir())) == 6
        cases = [keys[-1].items[c]["case_id"] for c in json.loads((package / "worklists" / "r0.json").read_text())["sessions"][session]]
        assert sorted(cases) == sorted(c["id"] for c in protocol.cases)  # each patient once
        assert audit_package(package, key=keys[-1], protocol=protocol) == []
    combined = PackageKey.combine(keys)
    assert len(combined.items) == 12
    assert {(i["case_id"], i["modality"]) for i in combined.items.values() if i["session_id"] == "d1"} == \
        {(r.case_id, r.modality) for r in design.for_reader("r0", "d1")}
