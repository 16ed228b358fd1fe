"""Characterisation and input safety on the real CT in ../shared/data and on damaged or non-CT images."""

from __future__ import annotations

import numpy as np
import pytest

from NetZeroAICT import Volume, read_volume
from NetZeroAICT.characterise import Characterisation, characterise, check_input, suggest_indication


@pytest.fixture(scope="module")
def ncct(request):
    from .conftest import shared_path

    return read_volume(shared_path("ct/ncct_abdomen_3mm.nii.gz"))


@pytest.fixture(scope="module")
def ncct_result(ncct):
    return characterise(ncct)


def test_real_ncct_is_non_contrast_abdomen_and_pelvis(ncct_result):
    c = ncct_result
    assert c.is_ct
    assert c.phase == "non_contrast" and c.phase_confidence >= 0.8
    assert 20.0 <= c.blood_pool_hu <= 80.0  # unenhanced blood ≈ 40 HU
    assert {"abdomen", "pelvis"} <= set(c.regions)
    assert not {"head", "neck", "legs"} & set(c.regions)
    assert suggest_indication(c) == "aorta"


def test_real_cect_dicom_is_contrast_enhanced_with_header_facts(cect_dicom_path):
    c = characterise(cect_dicom_path)
    assert c.is_ct and c.contrast_enhanced
    assert c.phase == "venous_or_later"  # portal-venous: liver ≈ 105 HU, aorta ≈ 150 HU
    assert c.blood_pool_hu > 120.0
    assert c.regions == ["abdomen"]
    assert c.dicom["manufacturer"] == "SIEMENS" and c.dicom["kvp"] == "120"
    assert c.dicom["contrast_agent"] == "APPLIED" and c.dicom["kernel"].startswith("Br38f")
    assert any("ContrastBolusAgent agrees" in e for e in c.phase_evidence)
    assert c.slice_thickness_mm == 3.0


def test_real_head_with_gantry_tilt_is_head_non_contrast(head_dicom_path):
    c = characterise(head_dicom_path)
    assert c.is_ct and c.phase == "non_contrast"
    assert c.regions == ["head"]
    assert c.geometry_corrections["gantry_tilt_deg"] == pytest.approx(18.5, abs=0.2)
    assert suggest_indication(c) == "neck_brain"
    check = check_input(c, "neck_brain")
    assert check.status == "warn"
    assert any("does not cover the neck" in r for r in check.warnings)
    assert not any("contrast-enhanced" in r for r in check.warnings)


def test_orientation_of_the_file_does_not_change_the_answer(ncct, ncct_result):
    # the same voxels stored head-first and with the rows reversed: geometry says so, anatomy must agree
    flipped = Volume(ncct.voxels[::-1, ::-1, :].copy(), ncct.spacing_mm, ncct.origin_lps,
                     ncct.direction_lps @ np.diag([1.0, -1.0, -1.0]))
    c = characterise(flipped)
    assert c.regions == ncct_result.regions and c.phase == ncct_result.phase
    assert c.blood_pool_hu == pytest.approx(ncct_result.blood_pool_hu, abs=5)


def test_check_input_on_real_ncct_warns_only_about_coverage_and_pixels(ncct_result):
    check = check_input(ncct_result, "aorta")
    assert check.status == "warn"
    assert not check.refusals
    assert any("does not cover the chest" in w for w in check.warnings)
    assert any("in-plane pixels are 3.00" in w for w in check.warnings)
    assert not any("contrast" in w for w in check.warnings)
    assert check_input(ncct_result, "limb").status == "warn"  # no legs
    assert all(r.endswith(".") and r[0].isupper() for r in check.reasons)


def test_check_input_warns_when_already_enhanced(cect_dicom_path):
    check = check_input(cect_dicom_path, "aorta")
    assert check.status == "warn"
    assert check.warnings[0].startswith("The image is already contrast-enhanced")


def test_mr_like_image_without_negative_values_is_refused(ncct):
    mr = ncct.with_voxels(np.clip(ncct.voxels + 1000.0, 0, None) * 0.5)  # positive intensities only
    check = check_input(mr, "aorta")
    assert check.status == "refuse"
    assert "not a CT in Hounsfield units" in check.refusals[0] and "no negative values" in check.refusals[0]


def test_ct_without_rescale_intercept_is_refused_with_the_fix(ncct):
    raw = ncct.with_voxels(np.clip(ncct.voxels + 1024.0, 0, None))
    check = check_input(raw, "aorta")
    assert check.status == "refuse" and "rescale intercept" in check.refusals[0]


def test_eight_bit_picture_and_dicom_mr_modality_are_refused(ncct):
    picture = ncct.with_voxels(np.clip((ncct.voxels + 160) / 400 * 255, 0, 255).round())
    assert "8-bit" in check_input(picture, "aorta").refusals[0]
    mr = ncct.with_voxels(ncct.voxels, dicom={"Modality": "MR"})
    check = check_input(mr, "aorta")
    assert check.status == "refuse" and any("'MR'" in r for r in check.refusals)


@pytest.mark.parametrize("make, words", [
    (lambda v: v.with_voxels(np.where(np.arange(v.voxels.size).reshape(v.voxels.shape) % 997 == 0, np.nan, v.voxels)),
     "NaN or infinite"),
    (lambda v: v.with_voxels(np.full(v.voxels.shape, -1000.0, dtype=np.float32)), "same value"),
    (lambda v: Volume(v.voxels[50:51], v.spacing_mm), "2D image"),
    (lambda v: v.with_voxels((v.voxels > 200).astype(np.uint8)), "label map"),
])
def test_damaged_or_degenerate_images_are_refused_with_a_reason(ncct, make, words):
    check = check_input(make(ncct), "aorta")
    assert check.status == "refuse"
    assert any(words in r for r in check.refusals), check.refusals


def test_spacing_checks(ncct):
    thick = Volume(ncct.voxels[::3], (0.8, 0.8, 9.0), ncct.origin_lps, ncct.direction_lps)
    warnings = check_input(thick, "aorta").warnings
    assert any("9.0 mm thick" in w for w in warnings)
    assert any("anisotropic" in w for w in warnings)


def test_synthetic_input_is_flagged(ncct):
    synthetic = ncct.with_voxels(ncct.voxels, description="SYNTHETIC digital contrast (aorta) m v1")
    assert any("SYNTHETIC" in w for w in check_input(synthetic, "aorta").warnings)


def _regions(*regions: str) -> Characterisation:
    return Characterisation(is_ct=True, ct_evidence={}, phase="non_contrast", phase_confidence=0.9,
                            blood_pool_hu=40.0, regions=list(regions), spacing_mm=(1, 1, 1), slice_thickness_mm=1)


@pytest.mark.parametrize("regions, expected", [
    (("chest",), "pulmonary"), (("chest", "abdomen", "pelvis"), "aorta"), (("abdomen",), "aorta"),
    (("head", "neck"), "neck_brain"), (("head",), "neck_brain"), (("pelvis", "legs"), "limb"), (("legs",), "limb"),
    ((), None),
])
def test_suggest_indication_follows_coverage(regions, expected):
    assert suggest_indication(_regions(*regions)) == expected


def test_result_is_json_serialisable(ncct_result):
    import json

    data = json.loads(json.dumps(ncct_result.to_dict()))
    assert data["phase"] == "non_contrast" and data["contrast_enhanced"] is False
    assert set(data) >= {"is_ct", "ct_evidence", "phase", "phase_confidence", "blood_pool_hu", "regions",
                         "spacing_mm", "slice_thickness_mm", "dicom"}
