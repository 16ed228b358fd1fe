"""Held-out metrics of a synthesis model on phantom cases: lumen Dice, lumen MAE, non-vessel MAE, PSNR, false
contrast.

Definitions (volumes on the phantom's own grid, HU):
- lumen Dice: Dice of {synthetic > 150 HU} and {true CTA > 150 HU} over the voxels whose NCCT is not above
  150 HU (150 HU: between unenhanced blood ≈ 40 HU and diagnostic lumen ≥ 250 HU), leaving out the voxels of
  enhancing organs whose true CTA is 100 HU or more (renal cortex, cardiac blood pool, myocardium: whether they
  cross 150 HU is not a question of the lumen). An organ that enhances little (liver, most of the spleen) stays
  in: a synthetic voxel above 150 HU there is a false lumen and counts against the Dice;
- lumen MAE: mean |synthetic − true CTA| inside the lumen mask;
- non-vessel MAE: mean |synthetic − true CTA| over the body outside the lumen mask grown by one voxel
  (enhancing organs included: their enhancement has to be synthesised too);
- PSNR: :func:`NetZeroAICT.metrics.psnr` over the body: 10·log10(4095² / MSE), both images clipped to
  −1024…3071 HU;
- tissue MAE: the non-vessel MAE without the enhancing organs (tissue that must stay as it is);
- false contrast: millilitres of the body outside the lumen grown by one voxel where the synthetic CTA is more
  than 100 HU brighter than the true CTA (a bright blob in a fatty liver, an enhanced vein). The non-vessel MAE
  averages such a blob over the whole body, so it can hide one of a hundred millilitres;
- false contrast by tissue: where the phantom has a tissue label map, the same millilitres split by its labels
  (heart blood pool, myocardium, liver, vein…), since a heart drawn arterial at the wrong contrast level and a
  bright patch in a liver read very differently.

The same metrics are also taken on each case as a scan with voxels of about 3 mm would show it
(:func:`thick_voxels`: the phantom's NCCT, CTA and masks averaged over blocks of :func:`thick_voxel_factor`³
voxels, e.g. 2³ at 1.5 mm), since routine non-contrast CT often comes in 3–5 mm slices.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .. import metrics
from ..volume import Volume

DICE_THRESHOLD_HU = 150.0
#: Enhancing-organ voxels whose true CTA is at least this are left out of the Dice.
ORGAN_EXCLUDED_FROM_HU = 100.0
#: A voxel outside the lumen counts as false contrast where the synthetic CTA exceeds the truth by more than this.
FALSE_CONTRAST_HU = 100.0
TARGETS = {"lumen_dice": (">=", 0.90), "lumen_mae_hu": ("<=", 30.0), "nonvessel_mae_hu": ("<=", 10.0),
           "psnr_db": (">=", 35.0)}


def case_metrics(synthetic: np.ndarray, ncct: np.ndarray, cta: np.ndarray, lumen: np.ndarray, body: np.ndarray,
                 enhancing: np.ndarray | None = None, spacing_mm=(1.0, 1.0, 1.0), tissue: np.ndarray | None = None,
                 tissue_names: dict[int, str] | None = None) -> dict:
    """Metrics of one case; arrays share one grid (voxel edges ``spacing_mm``); masks are boolean/uint8. Built
    from :mod:`NetZeroAICT.metrics`; the Dice here looks at the whole volume (not only near the lumen), so
    enhancement synthesised where there is none counts against it. With a ``tissue`` label map (and
    ``tissue_names``: label → name; a label without one is named by its number) the row also has
    ``false_contrast_ml_by_tissue``: the false contrast's millilitres in each label that has any, largest first."""
    lumen, body = lumen > 0, body > 0
    enhancing = np.zeros_like(lumen) if enhancing is None else enhancing > 0
    pred, ref = metrics.lumen_masks(synthetic, cta, ncct=ncct, threshold_hu=DICE_THRESHOLD_HU)
    bright_organ = enhancing & (np.asarray(cta) >= ORGAN_EXCLUDED_FROM_HU)
    pred &= ~bright_organ
    ref &= ~bright_organ
    dice = metrics.dice(pred, ref)
    outside = body & ~ndimage.binary_dilation(lumen, iterations=1)
    excess = np.asarray(synthetic, np.float32) - np.asarray(cta, np.float32)
    voxel_ml = float(np.prod(spacing_mm)) / 1000.0
    false = outside & (excess > FALSE_CONTRAST_HU)
    row = {"lumen_dice": 1.0 if np.isnan(dice) else dice,
            "lumen_mae_hu": metrics.region_errors(synthetic, cta, lumen)[0] if lumen.any() else 0.0,
            "nonvessel_mae_hu": metrics.region_errors(synthetic, cta, outside)[0],
            "tissue_mae_hu": metrics.region_errors(synthetic, cta, outside & ~enhancing)[0],
            "psnr_db": metrics.psnr(synthetic, cta, body),
            "lumen_hu_true": float(cta[lumen].mean()) if lumen.any() else 0.0,
            "lumen_hu_synthetic": float(synthetic[lumen].mean()) if lumen.any() else 0.0,
            "false_contrast_ml": int(np.count_nonzero(false)) * voxel_ml}
    if tissue is not None:
        counts = np.bincount(np.asarray(tissue)[false].ravel().astype(np.int64))
        names = tissue_names or {}
        where = {names.get(label, str(label)): float(n) * voxel_ml for label, n in enumerate(counts) if n}
        row["false_contrast_ml_by_tissue"] = dict(sorted(where.items(), key=lambda item: -item[1]))
    return row


def summarise(rows: list[dict]) -> dict:
    """Mean, min and max of each metric over cases, and whether each target is met (on the mean). A metric that
    is a breakdown (a dict, e.g. ``false_contrast_ml_by_tissue``) gets the mean of each of its parts over all the
    cases (0 where a case has none of it), largest first; parts whose mean rounds to 0 are left out."""
    summary = {}
    for key in rows[0]:
        if isinstance(rows[0][key], dict):
            parts = {part for r in rows for part in r.get(key, {})}
            means = {part: round(sum(r.get(key, {}).get(part, 0.0) for r in rows) / len(rows), 4) for part in parts}
            summary[key] = {"mean": dict(sorted(((part, ml) for part, ml in means.items() if ml > 0),
                                                key=lambda item: (-item[1], item[0])))}
            continue
        values = np.array([r[key] for r in rows], dtype=float)
        summary[key] = {"mean": round(float(values.mean()), 4), "min": round(float(values.min()), 4),
                        "max": round(float(values.max()), 4)}
    summary["targets_met"] = {key: bool(summary[key]["mean"] >= goal if op == ">=" else summary[key]["mean"] <= goal)
                              for key, (op, goal) in TARGETS.items()}
    return summary


#: Voxel edge (mm) the thick-voxel evaluation aims at: routine non-contrast CT is often read in 3–5 mm slices.
THICK_VOXEL_MM = 3.0


def thick_voxel_factor(spacing_mm: float) -> int:
    """Block edge (voxels, at least 2) that brings a phantom's voxels nearest :data:`THICK_VOXEL_MM`: 2 at 1.5 and
    1.25 mm, 3 at 0.9 mm, 4 at 0.7 mm."""
    return max(2, int(round(THICK_VOXEL_MM / spacing_mm)))


def block_mean(array: np.ndarray, factor: int) -> np.ndarray:
    """Mean of ``array`` over blocks of ``factor``³ voxels (float32); a trailing part smaller than a block is
    left out."""
    k, j, i = (n // factor * factor for n in array.shape)
    blocks = np.asarray(array[:k, :j, :i], dtype=np.float32).reshape(k // factor, factor, j // factor, factor,
                                                                    i // factor, factor)
    return blocks.mean(axis=(1, 3, 5))


def thick_voxels(ncct: Volume, cta: np.ndarray, masks: dict[str, np.ndarray], factor: int = 2
                 ) -> tuple[Volume, np.ndarray, dict[str, np.ndarray]]:
    """A case as a scanner with ``factor`` × larger voxels would record it: NCCT and CTA averaged over blocks
    of ``factor``³ voxels (what a thicker slice and a larger pixel integrate), on a grid whose voxel centres are
    the block centres; a mask keeps the blocks at least half inside it (``enhancing``: any voxel inside)."""
    centre = ncct.ijk_to_lps() @ np.array([(factor - 1) / 2] * 3 + [1.0])
    coarse = Volume(block_mean(ncct.voxels, factor), tuple(s * factor for s in ncct.spacing_mm), tuple(centre[:3]),
                    ncct.direction_lps.copy(), {**ncct.metadata})
    small = {name: (block_mean(mask > 0, factor) > (0.0 if name == "enhancing" else 0.5)).astype(np.uint8)
             for name, mask in masks.items()}
    return coarse, block_mean(cta, factor), small
