"""Paired phantoms: HU where radiology expects them, contrast only where blood goes, ground truth, determinism."""

import numpy as np
import pytest
from scipy import ndimage

from NetZeroAICT.errors import NetZeroAICTError
from NetZeroAICT.foundry import PhantomPair, load_case, make_pair, pathologies
from NetZeroAICT.foundry.tissues import LABELS
from NetZeroAICT.indications import INDICATIONS, get_indication

#: the pathology each indication's test case shows (one that puts thrombus or soft plaque in the image)
LESION = {"aorta": "aneurysm", "pulmonary": "embolism", "neck_brain": "occlusion", "limb": "occlusion",
          "coronary": "soft_plaque"}
NON_ENHANCING = ["fat", "muscle", "cortical_bone", "trabecular_bone", "marrow", "lung", "airway", "bowel_gas",
                 "bowel_fluid", "disc", "csf", "grey_matter", "white_matter", "cartilage", "skin"]


@pytest.fixture(scope="module", params=list(INDICATIONS))
def pair(request) -> PhantomPair:
    return make_pair(request.param, seed=11, pathology=LESION[request.param])


def core(mask: np.ndarray) -> np.ndarray:
    """The mask without its one-voxel rim (where partial volume mixes tissues), as an ROI is drawn."""
    eroded = ndimage.binary_erosion(mask > 0)
    return eroded if eroded.sum() >= 20 else mask > 0


def test_unenhanced_blood_and_enhanced_lumen_hu(pair):
    lumen = core(pair.masks["lumen"].voxels)
    low, high = get_indication(pair.case["indication"]).lumen_hu
    assert 30 <= pair.ncct.voxels[lumen].mean() <= 60
    assert low <= pair.cta.voxels[lumen].mean() <= high
    # the enhancement the case file states is the one in the image
    assert abs(np.median(pair.enhancement[lumen]) - (pair.case["hu"]["lumen_hu"] - pair.case["hu"]["blood_hu"])) < 40


def test_thrombus_and_soft_plaque_do_not_enhance(pair):
    lesion = (pair.masks["thrombus"].voxels | pair.masks["plaque"].voxels) > 0
    assert lesion.sum() > 0, "the test case must show thrombus or soft plaque"
    # away from the lumen (whose partial volume reaches one voxel into the lesion) nothing enhances
    inner = lesion & ~ndimage.binary_dilation(pair.masks["lumen"].voxels > 0)
    assert inner.sum() > 10
    assert abs(float(np.mean(pair.enhancement[inner]))) < 10 and np.median(pair.enhancement[inner]) == 0
    if pair.masks["thrombus"].voxels.any():
        assert 50 <= pair.ncct.voxels[core(pair.masks["thrombus"].voxels)].mean() <= 85


def test_contrast_changes_nothing_outside_vessels_and_enhancing_tissue(pair):
    labels = pair.masks["tissue"].voxels
    touched = (pair.masks["lumen"].voxels | pair.masks["enhancing"].voxels) > 0
    assert np.array_equal(pair.ncct.voxels[~touched], pair.cta.voxels[~touched])
    # independently of the masks: tissue that never enhances, three voxels away from anything that does or
    # that belongs to a vessel (sub-voxel lung vessels leave partial-volume contrast in lung: lung is left out)
    vascular = [LABELS[n] for n in ("lumen", "false_lumen", "blood_pool", "liver", "spleen", "kidney_cortex",
                                    "kidney_medulla", "myocardium", "gland", "pancreas", "lung_vessel", "wall",
                                    "thrombus", "calcium", "soft_plaque", "flap", "lung")]
    near = ndimage.maximum_filter(np.isin(labels, vascular).view(np.uint8), size=7) > 0
    still = np.isin(labels, [LABELS[n] for n in NON_ENHANCING if n != "lung"]) & ~near
    assert still.sum() > 0.2 * (labels > 0).sum()
    assert np.array_equal(pair.ncct.voxels[still], pair.cta.voxels[still])


def test_tissue_hu_look_like_ct(pair):
    labels = pair.masks["tissue"].voxels
    expected = {"fat": (-120, -60), "muscle": (35, 70), "lung": (-900, -750), "cortical_bone": (300, 1600),
                "grey_matter": (30, 48), "white_matter": (18, 36), "liver": (25, 70)}  # fatty livers: 28–47
    checked = 0
    for name, (low, high) in expected.items():
        region = core(labels == LABELS[name])
        if region.sum() > 200:
            assert low <= pair.ncct.voxels[region].mean() <= high, name
            checked += 1
    assert checked >= 3
    assert pair.ncct.voxels[labels == 0].mean() < -950        # air around the patient
    # CT-like noise: spatially correlated (neighbouring voxels in fat are not independent)
    fat = core(labels == LABELS["fat"]) if (labels == LABELS["fat"]).sum() > 1000 else core(labels == LABELS["muscle"])
    fat = fat & np.roll(fat, 1, axis=2)
    a = pair.ncct.voxels - ndimage.uniform_filter(pair.ncct.voxels, 7)
    r = np.corrcoef(a[fat], np.roll(a, 1, axis=2)[fat])[0, 1]
    assert -0.6 < r < 0.9 and abs(r) > 0.05


def test_some_livers_are_fatty():
    """About 30 % of cases have a fatty liver, as dark as unenhanced blood or darker; the rest 50–65 HU."""
    from NetZeroAICT.foundry.phantom import case_rng
    from NetZeroAICT.foundry.tissues import FATTY_LIVER_HU, NORMAL_LIVER_HU, case_tissues

    livers = np.array([case_tissues(get_indication("aorta"), case_rng("aorta", seed))[0]["liver"].hu
                       for seed in range(400)])
    fatty = livers < NORMAL_LIVER_HU[0]
    assert 0.22 < fatty.mean() < 0.38
    assert FATTY_LIVER_HU[0] <= livers.min() and livers[fatty].max() <= FATTY_LIVER_HU[1]
    assert NORMAL_LIVER_HU[0] <= livers[~fatty].min() and livers.max() <= NORMAL_LIVER_HU[1]
    # the liver still enhances a little in the arterial phase, fatty or not
    tissues = case_tissues(get_indication("aorta"), case_rng("aorta", 2))[0]
    assert tissues["liver"].hu < 40 and 10 <= tissues["liver"].cta_hu - tissues["liver"].hu <= 25


def test_ground_truth_describes_the_lesion(pair):
    case = pair.case
    assert case["synthetic"] is True and case["abnormal"] is True
    assert case["pathology"] == LESION[case["indication"]] and case["findings"]
    assert case["max_diameter_mm"] > 0 and case["location"]
    assert pair.masks["pathology"].voxels.any()
    if case["indication"] in ("limb", "coronary", "neck_brain"):
        assert 50 <= case["stenosis_percent"] <= 100
    assert pair.ncct.same_grid(pair.cta)
    assert all(m.voxels.dtype == np.uint8 and m.voxels.shape == pair.ncct.voxels.shape for m in pair.masks.values())


def test_aneurysm_diameter_matches_the_mask():
    pair = make_pair("aorta", 5, pathology="aneurysm")
    h = pair.ncct.spacing_mm[0]
    sac = (pair.masks["lumen"].voxels | pair.masks["thrombus"].voxels | pair.masks["wall"].voxels) > 0
    k = int(np.argmax(pair.masks["thrombus"].voxels.sum(axis=(1, 2))))
    labelled, _ = ndimage.label(ndimage.binary_opening(sac[k], iterations=3))    # branches cut off
    centre = np.round(np.mean(np.argwhere(pair.masks["thrombus"].voxels[k] > 0), axis=0)).astype(int)
    blob = labelled == labelled[tuple(centre)] if labelled[tuple(centre)] else labelled == np.bincount(labelled.ravel())[1:].argmax() + 1
    width = max(np.ptp(np.nonzero(blob)[0]), np.ptp(np.nonzero(blob)[1])) * h + h
    assert abs(width - pair.case["max_diameter_mm"]) < 0.2 * pair.case["max_diameter_mm"] + 2 * h


@pytest.mark.parametrize("indication", list(INDICATIONS))
def test_same_seed_same_bytes_other_seed_other_patient(indication):
    small = dict(shape_ijk=(64, 64, 48), spacing_mm=3.0)
    a, b = make_pair(indication, 7, **small), make_pair(indication, 7, **small)
    c = make_pair(indication, 8, **small)
    assert a.ncct.voxels.tobytes() == b.ncct.voxels.tobytes()
    assert a.cta.voxels.tobytes() == b.cta.voxels.tobytes()
    assert all(a.masks[n].voxels.tobytes() == b.masks[n].voxels.tobytes() for n in a.masks)
    assert a.case == b.case
    assert a.ncct.voxels.tobytes() != c.ncct.voxels.tobytes()


def test_every_pathology_can_be_asked_for_and_normal_is_normal():
    for indication in INDICATIONS:
        for name in pathologies(indication):
            pair = make_pair(indication, 2, shape_ijk=(48, 48, 40), spacing_mm=4.0, pathology=name)
            assert pair.case["pathology"] == name and pair.case["abnormal"]
        normal = make_pair(indication, 2, shape_ijk=(48, 48, 40), spacing_mm=4.0, pathology="none")
        assert normal.case["abnormal"] is False and not normal.masks["pathology"].voxels.any()


def test_save_and_load_round_trip(tmp_path):
    pair = make_pair("limb", 3, shape_ijk=(64, 48, 64), spacing_mm=3.0)
    folder = pair.save(tmp_path / "case")
    assert {"ncct.nii.gz", "cta.nii.gz", "lumen.nii.gz", "case.json"} <= {p.name for p in folder.iterdir()}
    back = load_case(folder)
    assert np.array_equal(back.ncct.voxels, pair.ncct.voxels) and np.array_equal(back.cta.voxels, pair.cta.voxels)
    assert np.array_equal(back.masks["lumen"].voxels, pair.masks["lumen"].voxels)
    assert back.ncct.same_grid(pair.ncct) and back.case == pair.case


@pytest.mark.parametrize("kwargs, words", [
    (dict(indication="kidney", seed=1), "unknown indication"),
    (dict(indication="aorta", seed=1, shape_ijk=(4000, 10, 10)), "out of range"),
    (dict(indication="aorta", seed=1, shape_ijk=(64, 64)), "out of range"),
    (dict(indication="aorta", seed=1, spacing_mm=0.0), "spacing"),
    (dict(indication="aorta", seed=1, pathology="embolism"), "unknown pathology"),
])
def test_bad_requests_are_clear_errors(kwargs, words):
    with pytest.raises(NetZeroAICTError, match=words):
        make_pair(**kwargs)


def test_load_case_names_what_is_missing(tmp_path):
    with pytest.raises(NetZeroAICTError, match="missing ncct.nii.gz"):
        load_case(tmp_path)


@pytest.mark.parametrize("indication, min_cnr", [("limb", 3.0), ("neck_brain", 1.0)])
def test_unopacified_arteries_show_on_the_ncct(indication, min_cnr):
    """What a model can learn from: on the NCCT the blood in an artery (≈ 40 HU) differs from what surrounds it
    (fat of the neurovascular bundle, CSF of the cisterns), by more than the noise. The limb
    arteries used to run through muscle of their own density (contrast-to-noise 0.08)."""
    for seed in (1, 2):
        pair = make_pair(indication, seed)
        lumen = pair.masks["lumen"].voxels > 0
        ncct = pair.ncct.voxels
        core = ndimage.binary_erosion(lumen)
        shell = ndimage.binary_dilation(lumen, iterations=2) & ~lumen
        contrast = abs(float(np.median(ncct[core])) - float(np.median(ncct[shell])))
        assert contrast / float(ncct[core].std()) > min_cnr, (indication, seed)


def test_aorta_phantom_vena_cava_is_an_unenhanced_oval_right_of_the_aorta():
    """Between the kidneys and the bifurcation the largest vein is the cava: right of the aorta (smaller column
    in LPS), often wider than deep, and not enhanced; the left renal vein crosses just in front of the aorta.
    A network can then tell the cava from the aorta by side and shape, not by its distance from the midline."""
    ratios = []
    for seed in (3, 4, 6):
        pair = make_pair("aorta", seed, pathology=None)
        vein = pair.masks["tissue"].voxels == LABELS["vein"]
        lumen = pair.masks["lumen"].voxels > 0
        assert abs(float((pair.cta.voxels - pair.ncct.voxels)[vein].mean())) < 2.0
        right, crossing = [], 0
        for k in range(int(vein.shape[0] * 0.3), int(vein.shape[0] * 0.6)):
            veins, n = ndimage.label(vein[k])
            arteries, m = ndimage.label(lumen[k])
            assert n and m, f"seed {seed}, slice {k}: no cava or no aorta"
            cava = np.nonzero(veins == np.bincount(veins.ravel())[1:].argmax() + 1)
            aorta = np.nonzero(arteries == np.bincount(arteries.ravel())[1:].argmax() + 1)
            right.append(cava[1].mean() < aorta[1].mean())
            ratios.append((np.ptp(cava[1]) + 1) / (np.ptp(cava[0]) + 1))
            front = vein[k, max(aorta[0].min() - 10, 0):aorta[0].min(), aorta[1].min():aorta[1].max() + 1]
            crossing += int(front.sum())
        assert np.mean(right) > 0.9, f"seed {seed}: the cava is not right of the aorta"
        assert crossing > 0, f"seed {seed}: no left renal vein in front of the aorta"
    assert np.median(ratios) > 1.2 and min(ratios) >= 0.8
