"""Characterisation of SYNTHETIC paired phantoms (foundry): every indication, without and with contrast.

Phantoms are rendered at two thirds of their default resolution (1.5 × the spacing, same field of view)
to keep the suite fast; characterisation works on about 4 mm voxels anyway. Measured on seeds 1–8 at this
size (5 indications × 8 seeds × 2 phases = 80 readings): 80 right in phase and region; at the default
(full) resolution, seeds 1–3: 30 of 30 right. In the neck and
brain angiograms the arteries of the neck fill 2.3–4.3 % of the soft tissue searched (enhanced from
0.12 %), in the non-contrast phantoms 0 %.
"""

from __future__ import annotations

import functools

import pytest

from NetZeroAICT.characterise import characterise, check_input
from NetZeroAICT.characterise.contrast import TUBES_ENHANCED_FRACTION, TUBES_PLAIN_FRACTION
from NetZeroAICT.foundry import default_grid, make_pair

#: Regions each indication's phantom shows (its field of view), which characterisation must find.
SHOWN_REGIONS = {"aorta": {"chest", "abdomen"}, "pulmonary": {"chest"}, "coronary": {"chest"},
                 "neck_brain": {"head", "neck"}, "limb": {"legs"}}
SEEDS = (1, 2, 3)


@functools.lru_cache(maxsize=None)
def phantom(indication: str, seed: int):
    shape, spacing = default_grid(indication)
    pair = make_pair(indication, seed, shape_ijk=tuple(int(n / 1.5) for n in shape), spacing_mm=1.5 * spacing)
    return characterise(pair.ncct), characterise(pair.cta)


@pytest.mark.parametrize("indication", sorted(SHOWN_REGIONS))
def test_phantom_pairs_right_phase_and_region(indication):
    right = 0
    for seed in SEEDS:
        ncct, cta = phantom(indication, seed)
        assert ncct.is_ct and cta.is_ct
        assert SHOWN_REGIONS[indication] <= set(ncct.regions), (seed, ncct.region_extent_mm)
        assert set(cta.regions) == set(ncct.regions)  # contrast does not change the anatomy found
        right += (ncct.phase == "non_contrast") + (cta.phase == "arterial")
    assert right >= 2 * len(SEEDS) - 1, f"{right} of {2 * len(SEEDS)} phases right"


@pytest.mark.parametrize("indication", sorted(SHOWN_REGIONS))
def test_no_phantom_angiogram_passes_as_non_contrast(indication):
    # the hazard: a contrast-enhanced input taken for a non-contrast CT
    for seed in SEEDS:
        ncct, cta = phantom(indication, seed)
        assert cta.phase != "non_contrast", (seed, cta.phase_evidence)
        check = check_input(cta, indication)
        assert check.status == "warn" and check.warnings[0].startswith("The image is already contrast-enhanced")


def _neck_artery_fraction(result) -> float:
    (neck,) = [m for m in result.blood_pool if m["site"] == "neck_arteries"]
    return neck["detail"]["enhanced_fraction_of_soft_tissue"]


def test_neck_arteries_are_seen_in_a_neck_angiogram():
    # the carotids pass through the skull base: joined to the skull in 3D, they must still count as arteries
    for seed in SEEDS:
        ncct, cta = phantom("neck_brain", seed)
        assert _neck_artery_fraction(cta) >= 2 * TUBES_ENHANCED_FRACTION, (seed, cta.phase_evidence)
        assert _neck_artery_fraction(ncct) <= TUBES_PLAIN_FRACTION, (seed, ncct.phase_evidence)
