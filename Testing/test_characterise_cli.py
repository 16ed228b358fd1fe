"""``python -m NetZeroAICT classify``: one volume, and folder mode over the real data plus broken files."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys

import pytest

from .conftest import REPO, shared_path


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "NetZeroAICT", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True)


def test_classify_one_dicom_series_json_and_exit_code(cect_dicom_path):
    result = run_cli("classify", cect_dicom_path, "--indication", "aorta", "--json")
    assert result.returncode == 4, result.stderr  # warnings need confirmation
    out = json.loads(result.stdout)
    assert out["characterisation"]["phase"] == "venous_or_later"
    assert out["check"]["status"] == "warn"
    assert "already contrast-enhanced" in out["check"]["warnings"][0]


def test_classify_plain_text_for_a_person(ncct_abdomen_path):
    result = run_cli("classify", ncct_abdomen_path)
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith("CT, non-contrast") and "abdomen, pelvis" in first
    assert "suggested          aorta" in result.stdout


def test_classify_refuses_non_ct_with_exit_3(tmp_path):
    import numpy as np

    from NetZeroAICT import Volume, write_volume

    path = write_volume(Volume(np.random.default_rng(0).uniform(0, 255, (20, 32, 32)).round().astype(np.float32),
                               (1, 1, 1)), tmp_path / "picture.nii.gz")
    result = run_cli("classify", path, "--indication", "aorta")
    assert result.returncode == 3
    assert "8-bit picture" in result.stdout


def test_classify_bad_path_is_one_line(tmp_path):
    result = run_cli("classify", tmp_path / "nothing.nii.gz")
    assert result.returncode == 2 and result.stderr.startswith("error:") and "Traceback" not in result.stderr


def test_folder_mode_over_real_data_with_corrupt_and_non_image_files(tmp_path):
    root = tmp_path / "data"
    shutil.copytree(shared_path("ct"), root / "ct")
    (root / "corrupt.nii.gz").write_bytes(b"\x1f\x8b\x08\x00 this is not a gzip stream of a NIfTI")
    (root / "notes.txt").write_text("a note that is not an image\n")
    (root / "broken").mkdir()
    (root / "broken" / "slice.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00\x10\x00garbage" * 8)
    csv_path = tmp_path / "inventory.csv"
    result = run_cli("classify", root, "--inventory", csv_path, "--no-progress")
    assert result.returncode == 0, result.stderr
    rows = {row["path"]: row for row in csv.DictReader(open(csv_path))}

    assert rows["ct/ncct_abdomen_3mm.nii.gz"]["phase"] == "non_contrast"
    assert rows["ct/ncct_abdomen_3mm.nii.gz"]["regions"] == "abdomen;pelvis"
    assert rows["ct/cect_abdomen_dicom"]["phase"] == "venous_or_later"
    assert rows["ct/cect_abdomen_dicom"]["files"] == "20"
    assert rows["ct/cect_abdomen_dicom"]["contrast_agent"] == "APPLIED"
    assert rows["ct/ncct_head_ge_dicom"]["regions"] == "head"
    assert rows["ct/ncct_head_ge_dicom"]["manufacturer"] == "GE MEDICAL SYSTEMS"
    assert rows["corrupt.nii.gz"]["status"] == "error" and rows["corrupt.nii.gz"]["error"]
    assert rows["broken/slice.dcm"]["status"] == "error"
    assert rows["ct/ct_small_contrast.dcm"]["status"] == "error"
    assert "single slice" in rows["ct/ct_small_contrast.dcm"]["error"]
    assert rows["notes.txt"]["status"] == "skipped"
    assert rows["ct/ncct_head_ge_dicom/LICENSE.dcm_qa_ct"]["status"] == "skipped"
    assert "unreadable: corrupt.nii.gz" in result.stdout

    sidecar = json.loads((csv_path.parent / rows["ct/cect_abdomen_dicom"]["sidecar"]).read_text())
    assert sidecar["@type"] == "Dataset" and sidecar["identifier"] == "sha256:" + rows["ct/cect_abdomen_dicom"]["sha256"]
    assert sidecar["characterisation"]["phase"] == "venous_or_later"
    assert sidecar["acquisition"]["dicom"]["kernel"].startswith("Br38f")
    assert "PatientName" not in json.dumps(sidecar) and "patient_id" not in json.dumps(sidecar)
    assert sidecar["provenance"]["software"] == "NetZeroAICT characterise"


def test_folder_without_series_asks_for_inventory(tmp_path):
    result = run_cli("classify", tmp_path)
    assert result.returncode == 2 and "--inventory" in result.stderr


@pytest.mark.parametrize("argv", [["classify", "--help"]])
def test_help_is_fast_and_mentions_inventory(argv):
    result = run_cli(*argv)
    assert result.returncode == 0 and "--inventory" in result.stdout
