"""Virtual non-contrast on a real contrast CT, registration of a known deformation, datasets on disk, metrics."""

import json
import subprocess
import sys

import numpy as np
import pytest
import SimpleITK as sitk

from NetZeroAICT import read_volume
from NetZeroAICT.errors import NetZeroAICTError
from NetZeroAICT.foundry import load_case, make_pair
from NetZeroAICT.foundry.dataset import build_dataset, read_manifest, split_of
from NetZeroAICT.foundry.registration import displacement_error_mm, register
from NetZeroAICT.foundry.vnc import virtual_non_contrast
from NetZeroAICT.metrics import bootstrap_ci, evaluate_pair, summarise
from NetZeroAICT.volume import Volume

from .conftest import REPO


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "NetZeroAICT", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True)


# -- virtual non-contrast -------------------------------------------------------------------------------
def test_virtual_ncct_on_real_contrast_ct(cect_dicom_path):
    cta = read_volume(cect_dicom_path)
    vnc, blood = virtual_non_contrast(cta)
    before, after, mask = cta.voxels, vnc.voxels, blood.voxels > 0
    assert mask.sum() > 5000 and before[mask].mean() > 120          # it found the enhanced blood …
    assert 30 <= after[mask].mean() <= 60                            # … and brought it to unenhanced HU
    # the aorta, found here independently: the roundest bright blob in front of the spine in the middle slice
    k = before.shape[0] // 2
    from scipy import ndimage
    smooth = ndimage.gaussian_filter(before[k], 1.5)
    labels, n = ndimage.label((smooth > 150) & (smooth < 400))
    sizes = ndimage.sum(np.ones_like(labels), labels, range(1, n + 1))
    candidates = [i + 1 for i, s in enumerate(sizes) if 200 < s < 2500]
    def roundness(i):
        ys, xs = np.nonzero(labels == i)
        return len(ys) / (np.pi * max(np.ptp(ys), np.ptp(xs)) ** 2 / 4 + 1)
    aorta = ndimage.binary_erosion(labels == max(candidates, key=roundness), iterations=2)
    aorta &= ~ndimage.binary_dilation(before[k] > 350, iterations=2)     # its wall calcification stays as scanned
    assert before[k][aorta].mean() > 150 and 30 <= after[k][aorta].mean() <= 60
    # bone and air exactly as scanned; noise kept (not smoothed away)
    for region in (before > 600, before < -500):
        assert np.array_equal(before[region], after[region])
    liver_like = (after > 20) & (after < 90) & mask
    assert after[liver_like].std() > 5
    assert vnc.metadata["synthetic"] is True


def test_virtual_ncct_with_a_given_lumen_mask():
    pair = make_pair("aorta", 2, shape_ijk=(96, 96, 64), spacing_mm=3.0, pathology="none")
    vnc, _ = virtual_non_contrast(pair.cta, pair.masks["lumen"])
    lumen = pair.masks["lumen"].voxels > 0
    assert 30 <= vnc.voxels[lumen].mean() <= 60
    bone = pair.cta.voxels > 350
    assert bone.sum() > 100 and np.array_equal(vnc.voxels[bone], pair.cta.voxels[bone])


@pytest.mark.parametrize("seed, shape, spacing", [(7, (96, 96, 64), 3.0), (3, (160, 160, 128), 2.0)])
def test_virtual_ncct_of_an_arterial_lumen_above_bone_density(seed, shape, spacing):
    """An arterial-phase lumen (here 357–381 HU) is denser than the 350 HU that marks bone and calcium: it is
    still found as blood and brought to unenhanced HU, while cortical bone and calcium stay as scanned."""
    pair = make_pair("aorta", seed, shape_ijk=shape, spacing_mm=spacing)
    lumen = pair.masks["lumen"].voxels > 0
    tissue, labels = pair.masks["tissue"].voxels, pair.case["tissue_labels"]
    ct = pair.cta.voxels
    assert np.median(ct[lumen]) > 350
    vnc, blood = virtual_non_contrast(pair.cta)
    assert (blood.voxels[lumen] > 0).mean() > 0.9 and vnc.voxels[lumen].mean() < 80
    checked = 0
    for name, most in (("cortical_bone", 0.01), ("calcium", 0.05)):   # calcium: a few partial-volume voxels
        region = tissue == labels[name]
        if region.any():     # not every phantom has wall calcium
            assert (vnc.voxels[region] != ct[region]).mean() < most, name
            checked += 1
    assert checked >= 1 + (seed == 3)


# -- registration ---------------------------------------------------------------------------------------
def test_registration_recovers_a_known_deformation():
    pair = make_pair("aorta", 4, shape_ijk=(64, 64, 48), spacing_mm=5.0, pathology="none")
    fixed = pair.ncct
    grid = fixed.to_sitk()
    rng = np.random.default_rng(0)
    bspline = sitk.BSplineTransformInitializer(grid, [2, 2, 2], 3)
    bspline.SetParameters(rng.normal(0, 3.0, len(bspline.GetParameters())).tolist())
    rigid = sitk.Euler3DTransform()
    rigid.SetCenter(grid.TransformContinuousIndexToPhysicalPoint([32, 32, 24]))
    rigid.SetRotation(0.03, -0.02, 0.04)
    rigid.SetTranslation((4.0, -3.0, 5.0))
    applied = sitk.CompositeTransform([rigid, bspline])
    moved_cta = sitk.Resample(sitk.Cast(pair.cta.to_sitk(), sitk.sitkFloat32), grid, applied, sitk.sitkLinear, -1024.0)
    moving = Volume(sitk.GetArrayFromImage(moved_cta), fixed.spacing_mm, fixed.origin_lps, fixed.direction_lps)
    result = register(fixed, moving, grid_spacing_mm=80.0)
    body = np.argwhere(pair.masks["body"].voxels[6:-6, 6:-6, 6:-6] > 0) + 6
    sample = body[rng.choice(len(body), 400, replace=False)]
    points = np.array([grid.TransformIndexToPhysicalPoint([int(i), int(j), int(k)]) for k, j, i in sample])
    before = displacement_error_mm(sitk.Euler3DTransform(), applied, points).mean()
    after = displacement_error_mm(result.transform, applied, points).mean()
    assert before > 5.0 / 2 and after <= 5.0, (before, after)              # ≤ 1 voxel (5 mm) mean error
    assert result.moved.same_grid(fixed)


# -- datasets -------------------------------------------------------------------------------------------
def test_dataset_is_resumable_and_split_by_seed(tmp_path):
    small = dict(shape_ijk=(48, 40, 48), spacing_mm=4.0, progress=False)
    first = build_dataset("limb", 3, tmp_path, **small)
    assert first["made"] == 3
    stamp = (tmp_path / "limb_00001" / "cta.nii.gz").stat().st_mtime_ns
    (tmp_path / "limb_00002" / "case.json").unlink()                     # an interrupted case
    again = build_dataset("limb", 5, tmp_path, **small)
    assert again["made"] == 3 and again["skipped"] == 2
    assert (tmp_path / "limb_00001" / "cta.nii.gz").stat().st_mtime_ns == stamp
    manifest = read_manifest(tmp_path)
    assert manifest["seeds"] == [0, 1, 2, 3, 4] and manifest["indication"] == "limb"
    names = sum(manifest["split"].values(), [])
    assert sorted(names) == [f"limb_{s:05d}" for s in range(5)]
    assert all(f"limb_{s:05d}" in manifest["split"][split_of(s)] for s in range(5))
    assert load_case(tmp_path / "limb_00004").case["seed"] == 4
    counts = {name: sum(split_of(s) == name for s in range(2000)) for name in ("train", "validation", "test")}
    assert 1500 < counts["train"] < 1700 and counts["validation"] > 150 and counts["test"] > 150


# -- metrics --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_pair():
    return make_pair("aorta", 6, shape_ijk=(96, 96, 64), spacing_mm=3.0, pathology="aneurysm")


def test_metrics_of_a_perfect_and_of_a_known_wrong_prediction(small_pair):
    ref, lumen, ncct = small_pair.cta, small_pair.masks["lumen"], small_pair.ncct
    perfect = evaluate_pair(ref, ref, lumen, ncct)
    assert perfect["mae_body_hu"] == 0 and perfect["lumen_dice"] == 1 and perfect["ssim"] == pytest.approx(1.0)
    assert perfect["psnr_db"] == float("inf") and perfect["max_diameter_error_mm"] == 0
    # the NCCT as a "prediction": the lumen is missing, tissue elsewhere is right
    no_contrast = evaluate_pair(ncct, ref, lumen, ncct)
    expected_lumen_mae = np.abs(small_pair.enhancement[lumen.voxels > 0]).mean()
    assert no_contrast["mae_lumen_hu"] == pytest.approx(expected_lumen_mae, rel=1e-4)
    assert no_contrast["lumen_dice"] < 0.1
    assert no_contrast["mae_outside_vessels_hu"] < 0.1 * no_contrast["mae_lumen_hu"]   # only organs enhance there
    assert no_contrast["max_diameter_error_mm"] < -10
    # a constant 10 HU offset: MAE 10 everywhere, PSNR = 20 log10(4095 / 10)
    shifted = evaluate_pair(ref.with_voxels(ref.voxels + 10.0), ref, lumen, ncct)
    assert shifted["mae_body_hu"] == pytest.approx(10.0, abs=0.01)
    assert shifted["psnr_db"] == pytest.approx(20 * np.log10(4095 / 10), abs=0.05)


def test_mismatched_grids_are_a_clear_error(small_pair):
    other = Volume(small_pair.cta.voxels, (2.0, 2.0, 2.0))
    with pytest.raises(NetZeroAICTError, match="not on the same grid"):
        evaluate_pair(other, small_pair.cta)


def test_bootstrap_ci_and_summary():
    rng = np.random.default_rng(1)
    values = rng.normal(10.0, 2.0, 200)
    mean, low, high = bootstrap_ci(values)
    assert low < mean < high and high - low == pytest.approx(2 * 1.96 * 2.0 / np.sqrt(200), rel=0.2)
    summary = summarise([{"case": "a", "mae": 1.0}, {"case": "b", "mae": 3.0}])
    assert summary["mae"]["mean"] == 2.0 and summary["mae"]["n"] == 2


# -- command line ---------------------------------------------------------------------------------------
def test_cli_phantom_dataset_evaluate(tmp_path):
    result = run_cli("foundry", "phantom", "--indication", "coronary", "--seed", 3, "--out", tmp_path / "case",
                     "--shape", 64, 64, 48, "--spacing", 2.0, "--pathology", "soft_plaque")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["pathology"] == "soft_plaque"
    assert (tmp_path / "case" / "lumen.nii.gz").exists()
    result = run_cli("foundry", "dataset", "--indication", "pulmonary", "--cases", 2, "--out", tmp_path / "ds",
                     "--shape", 48, 48, 40, "--spacing", 5.0)
    assert result.returncode == 0 and json.loads(result.stdout)["made"] == 2
    assert "100%" in result.stderr                                            # the progress bar
    result = run_cli("evaluate", "--pred", tmp_path / "ds", "--ref", tmp_path / "ds", "--json",
                     "--csv", tmp_path / "metrics.csv")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert len(out["cases"]) == 2 and out["summary"]["lumen_dice"]["mean"] == 1.0
    assert (tmp_path / "metrics.csv").read_text().startswith("case,")


def test_cli_virtual_ncct_and_register(tmp_path):
    pair = make_pair("limb", 1, shape_ijk=(64, 48, 48), spacing_mm=4.0, pathology="none")
    pair.save(tmp_path / "case")
    result = run_cli("foundry", "virtual-ncct", tmp_path / "case" / "cta.nii.gz", "--out", tmp_path / "vnc.nii.gz",
                     "--lumen", tmp_path / "case" / "lumen.nii.gz")
    assert result.returncode == 0, result.stderr
    assert 30 <= json.loads(result.stdout)["blood_hu_after"] <= 60
    result = run_cli("foundry", "register", "--fixed", tmp_path / "case" / "ncct.nii.gz", "--moving",
                     tmp_path / "case" / "cta.nii.gz", "--out", tmp_path / "reg.nii.gz", "--rigid-only")
    assert result.returncode == 0, result.stderr
    assert read_volume(tmp_path / "reg.nii.gz").same_grid(pair.ncct)


@pytest.mark.parametrize("args, words", [
    (("foundry", "phantom", "--indication", "kidney", "--seed", 1, "--out", "x"), "unknown indication"),
    (("foundry", "phantom", "--indication", "aorta", "--seed", 1, "--out", "x", "--shape", 5000, 5, 5), "out of range"),
    (("foundry", "dataset", "--indication", "aorta", "--cases", 0, "--out", "x"), "out of range"),
])
def test_cli_bad_input_is_one_clear_line(args, words):
    result = run_cli(*args)
    assert result.returncode == 2 and words in result.stderr and "Traceback" not in result.stderr


def test_cli_evaluate_mismatched_grids(tmp_path):
    a = make_pair("limb", 1, shape_ijk=(40, 32, 32), spacing_mm=5.0)
    b = make_pair("limb", 1, shape_ijk=(40, 32, 36), spacing_mm=5.0)
    from NetZeroAICT import write_volume
    write_volume(a.cta, tmp_path / "a.nii.gz")
    write_volume(b.cta, tmp_path / "b.nii.gz")
    result = run_cli("evaluate", "--pred", tmp_path / "a.nii.gz", "--ref", tmp_path / "b.nii.gz")
    assert result.returncode == 2 and "same grid" in result.stderr and "Traceback" not in result.stderr
