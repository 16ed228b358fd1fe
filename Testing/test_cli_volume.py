"""The CLI's volume commands, run as a user runs them."""

import json
import subprocess
import sys

from .conftest import REPO


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "NetZeroAICT", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True)


def test_info_lists_indications():
    result = run_cli("info", "--json")
    assert result.returncode == 0
    assert set(json.loads(result.stdout)) == {"aorta", "pulmonary", "neck_brain", "limb", "coronary"}


def test_convert_dicom_to_nrrd_and_info(tmp_path, cect_dicom_path):
    out = tmp_path / "cect.nrrd"
    assert run_cli("convert", cect_dicom_path, out).returncode == 0
    info = json.loads(run_cli("info", out, "--json").stdout)
    assert info["shape_ijk"] == [512, 512, 20]


def test_bad_path_is_one_clear_line(tmp_path):
    result = run_cli("info", tmp_path / "missing.nii.gz")
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error:") and "missing.nii.gz" in result.stderr
    assert "Traceback" not in result.stderr
