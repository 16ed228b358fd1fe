"""Characterisation of SYNTHETIC paired phantoms (foundry): every indication, without and with contrast.

Phantoms are rendered at half their default resolution (twice the spacing, same field of view) to keep
the suite fast; characterisation works on about 4 mm voxels anyway.
"""

from __future__ import annotations

import functools

import pytest

from NetZeroAICT.characterise import characterise, check_input
from NetZeroAICT.foundry import default_grid, make_pair

#: Regions each indication's phantom shows (its field of view), which characterisation must find.
SHOWN_REGIONS = {"aorta": {"chest", "abdomen"}, "pulmonary": {"chest"}, "coronary": {"chest"},
                 "neck_brain": {"head", "neck"}, "limb": {"legs"}}


@functools.lru_cache(maxsize=None)
def phantom(indication: str, seed: int):
    shape, spacing = default_grid(indication)
    pair = make_pair(indication, seed, shape_ijk=tuple(n // 2 for n in shape), spacing_mm=2 * spacing)
    return characterise(pair.ncct), characterise(pair.cta)


@pytest.mark.parametrize("indication", sorted(SHOWN_REGIONS))
def test_phantom_pair_right_phase_and_region(indication):
    ncct, cta = phantom(indication, 1)
    assert ncct.is_ct and cta.is_ct
    assert ncct.phase == "non_contrast", ncct.phase_evidence
    assert cta.phase == "arterial", cta.phase_evidence
    assert SHOWN_REGIONS[indication] <= set(ncct.regions), ncct.region_extent_mm
    assert set(cta.regions) == set(ncct.regions)  # contrast does not change the anatomy found
    assert check_input(cta, indication).warnings[0].startswith("The image is already contrast-enhanced")
    assert not any("contrast" in w for w in check_input(ncct, indication).warnings)


@pytest.mark.parametrize("indication", sorted(SHOWN_REGIONS))
def test_no_phantom_angiogram_passes_as_non_contrast(indication):
    # the hazard: a contrast-enhanced input taken for a non-contrast CT (checked on further seeds)
    for seed in (2, 3, 4):
        cta = phantom(indication, seed)[1]
        assert cta.phase != "non_contrast", (seed, cta.phase_evidence)
