"""Paired NCCT/CTA phantoms: one seed → one synthetic patient, rendered without and with arterial contrast.

    pair = make_pair("aorta", seed=7)              # default grid of the indication
    pair = make_pair("limb", 3, shape_ijk=(128, 96, 160), spacing_mm=2.0, pathology="occlusion")

The anatomy of each indication lives in ``anatomy/<indication>.py``; this module validates the request,
draws the case's tissues, paints the anatomy, adds one CT noise field to both phases and assembles masks
and ground truth. Every volume is labelled synthetic.
"""

from __future__ import annotations

import importlib
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..errors import NetZeroAICTError
from ..indications import get_indication
from ..volume import Volume
from .canvas import Canvas
from .noise import ct_noise
from .pair import PhantomPair
from .tissues import LABELS, MASK_LABELS, case_tissues

#: Bumped when any indication's phantoms change (2: fat and CSF around limb and neck/brain arteries;
#: 3: fatty livers; 4: oval inferior vena cava placed from the aorta, renal veins).
GENERATOR_VERSION = "4"
#: Largest grid a phantom may have (voxels) and the range of spacing (mm) accepted.
MAX_VOXELS = 512 * 512 * 512
SIDE_RANGE = (16, 1024)
SPACING_RANGE_MM = (0.2, 5.0)


def _anatomy(indication: str):
    return importlib.import_module(f"{__package__}.anatomy.{indication}")


def pathologies(indication: str) -> tuple[str, ...]:
    """The pathologies the phantom of ``indication`` can show (besides "none")."""
    return tuple(_anatomy(get_indication(indication).name).PATHOLOGIES)


def default_grid(indication: str) -> tuple[tuple[int, int, int], float]:
    """Default (shape_ijk, spacing_mm) of an indication's phantom."""
    module = _anatomy(get_indication(indication).name)
    return tuple(module.DEFAULT_SHAPE_IJK), float(module.DEFAULT_SPACING_MM)


def _check_grid(shape_ijk, spacing_mm) -> tuple[tuple[int, int, int], float]:
    try:
        shape = tuple(int(n) for n in shape_ijk)
    except (TypeError, ValueError):
        raise NetZeroAICTError(f"shape must be three integers, got {shape_ijk!r}", where="shape_ijk") from None
    if len(shape) != 3 or not all(SIDE_RANGE[0] <= n <= SIDE_RANGE[1] for n in shape) \
            or int(np.prod(shape, dtype=np.int64)) > MAX_VOXELS:
        raise NetZeroAICTError(f"phantom size {shape} is out of range", where="shape_ijk",
                               hint=f"give three sides of {SIDE_RANGE[0]}–{SIDE_RANGE[1]} voxels, "
                                    f"at most {MAX_VOXELS:,} voxels in all")
    try:
        spacing = float(spacing_mm)
    except (TypeError, ValueError):
        raise NetZeroAICTError(f"spacing must be a number of millimetres, got {spacing_mm!r}", where="spacing_mm") from None
    if not SPACING_RANGE_MM[0] <= spacing <= SPACING_RANGE_MM[1]:
        raise NetZeroAICTError(f"spacing {spacing} mm is out of range", where="spacing_mm",
                               hint=f"give {SPACING_RANGE_MM[0]}–{SPACING_RANGE_MM[1]} mm")
    return shape, spacing


def case_rng(indication: str, seed: int) -> np.random.Generator:
    """The random generator of one case: fixed by (indication, seed) on every platform."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(indication.encode())])


def make_pair(indication: str, seed: int, shape_ijk: tuple | None = None, spacing_mm: float | None = None,
              pathology: str | None = "random") -> PhantomPair:
    """Render one synthetic case of ``indication`` without and with arterial contrast.

    Args:
        indication: aorta, pulmonary, neck_brain, limb or coronary.
        seed: fixes the anatomy, pathology, HU draws and noise: same seed → byte-identical volumes.
        shape_ijk: voxels along (i, j, k); default per indication (``default_grid``).
        spacing_mm: isotropic voxel size (mm); default per indication.
        pathology: "random" (drawn from the seed: about half the cases abnormal), "none", or one of
            :func:`pathologies`.
    Returns a :class:`PhantomPair` with float32 HU volumes centred on the LPS origin, uint8 masks and
    the ground truth in ``case``.
    """
    ind = get_indication(indication)
    module = _anatomy(ind.name)
    shape, spacing = _check_grid(module.DEFAULT_SHAPE_IJK if shape_ijk is None else shape_ijk,
                                 module.DEFAULT_SPACING_MM if spacing_mm is None else spacing_mm)
    if pathology not in ("random", "none", None, *module.PATHOLOGIES):
        raise NetZeroAICTError(f"unknown pathology {pathology!r} for {ind.name}", where="pathology",
                               hint=f"choose random, none or one of: {', '.join(module.PATHOLOGIES)}")
    rng = case_rng(ind.name, seed)
    tissues, hu_facts = case_tissues(ind, rng)
    drawn = module.draw_pathology(rng)
    chosen = drawn if pathology == "random" else (None if pathology in ("none", None) else pathology)
    canvas = Canvas(shape, spacing, rng)

    # the noise has its own generator, so it can be made in a second thread while the anatomy is painted
    noise_rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(ind.name.encode()), 1])
    noise_cfg = module.NOISE
    sigma = float(noise_rng.uniform(*noise_cfg["sigma_hu"])) * (noise_cfg["reference_mm"] / spacing) ** 1.5
    sigma = float(np.clip(sigma, 4.0, 60.0))
    cutoff = float(noise_rng.uniform(0.65, 0.9))
    z_correlation = float(noise_rng.uniform(0.4, 0.7))
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(ct_noise, canvas.shape, sigma, noise_rng, cutoff, z_correlation)
        truth = module.build(canvas, tissues, rng, chosen)
        noise = future.result()
    ncct = canvas.ncct
    ncct += noise
    del noise
    cta = ncct + canvas.enhancement
    np.maximum(ncct, -1024.0, out=ncct)
    np.maximum(cta, -1024.0, out=cta)
    np.rint(ncct, out=ncct)
    np.rint(cta, out=cta)

    origin = tuple(-(n - 1) / 2 * spacing for n in shape)
    grid = {"spacing_mm": (spacing,) * 3, "origin_lps": origin}
    meta = {"synthetic": True, "description": f"SYNTHETIC phantom ({ind.name}) seed {seed}"}
    masks = _masks(canvas, grid)
    case = {
        "indication": ind.name, "seed": int(seed), "synthetic": True, "generator_version": GENERATOR_VERSION,
        "abnormal": chosen is not None, "pathology": chosen,
        "max_diameter_mm": None, "stenosis_percent": None, "location": None,
        "shape_ijk": list(shape), "spacing_mm": spacing,
        "noise": {"sigma_hu": round(sigma, 2), "kernel_cutoff": round(cutoff, 3)},
        "hu": hu_facts, "tissue_labels": {name: LABELS[name] for name in sorted(LABELS, key=LABELS.get)},
        **truth,
    }
    return PhantomPair(Volume(ncct, metadata={**meta, "phase": "non_contrast"}, **grid),
                       Volume(cta, metadata={**meta, "phase": "arterial"}, **grid), masks, case)


def _masks(canvas: Canvas, grid: dict) -> dict[str, Volume]:
    labels = canvas.labels
    lut = {}
    for name, members in MASK_LABELS.items():
        table = np.zeros(256, np.uint8)
        table[[LABELS[m] for m in members]] = 1
        lut[name] = table
    enhancing = np.zeros(256, np.uint8)
    lumen_ids = {LABELS[m] for m in MASK_LABELS["lumen"]}
    for tissue in canvas.tissues.values():
        if tissue.enhancing and tissue.label not in lumen_ids:
            enhancing[tissue.label] = 1
    lut["enhancing"] = enhancing
    body = np.ones(256, np.uint8)
    body[[0, LABELS["table"]]] = 0
    lut["body"] = body
    masks = {name: Volume(table[labels], **grid) for name, table in lut.items()}
    # partial-volume rims and vessels thinner than a voxel enhance too: every voxel the contrast changes
    # belongs to the lumen or to the enhancing mask
    enhanced = (canvas.enhancement != 0) & (masks["lumen"].voxels == 0)
    masks["enhancing"].voxels |= enhanced.view(np.uint8)
    # the lesion itself (plaque, thrombus, emboli, flap, false lumen), not the true lumen running through it
    masks["pathology"] = Volume(canvas.pathology * (labels != LABELS["lumen"]).astype(np.uint8), **grid)
    masks["tissue"] = Volume(labels, **grid)
    return masks
