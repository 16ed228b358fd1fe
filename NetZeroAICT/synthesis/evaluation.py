"""Held-out metrics of a synthesis model on phantom cases: lumen Dice, lumen MAE, non-vessel MAE, PSNR.

Definitions (volumes on the phantom's own grid, HU):
- lumen Dice: Dice of {synthetic ≥ 150 HU} and {true CTA ≥ 150 HU} over the voxels whose NCCT is below 150 HU
  and that are not enhancing organs (150 HU: between unenhanced blood ≈ 40 HU and diagnostic lumen ≥ 250 HU);
- lumen MAE: mean |synthetic − true CTA| inside the lumen mask;
- non-vessel MAE: mean |synthetic − true CTA| over the body outside the lumen mask grown by one voxel
  (enhancing organs included: their enhancement has to be synthesised too);
- PSNR: 20·log10(4095 / RMSE) over the body, data range 4095 HU (−1024 to 3071).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

DICE_THRESHOLD_HU = 150.0
PSNR_RANGE_HU = 4095.0
TARGETS = {"lumen_dice": (">=", 0.90), "lumen_mae_hu": ("<=", 30.0), "nonvessel_mae_hu": ("<=", 10.0),
           "psnr_db": (">=", 35.0)}


def case_metrics(synthetic: np.ndarray, ncct: np.ndarray, cta: np.ndarray, lumen: np.ndarray, body: np.ndarray,
                 enhancing: np.ndarray | None = None) -> dict:
    """Metrics of one case; arrays share one grid; masks are boolean/uint8."""
    lumen, body = lumen > 0, body > 0
    enhancing = np.zeros_like(lumen) if enhancing is None else enhancing > 0
    region = (ncct < DICE_THRESHOLD_HU) & ~enhancing
    pred, ref = (synthetic >= DICE_THRESHOLD_HU) & region, (cta >= DICE_THRESHOLD_HU) & region
    denominator = int(pred.sum() + ref.sum())
    dice = 2.0 * int((pred & ref).sum()) / denominator if denominator else 1.0
    error = np.abs(synthetic - cta)
    outside = body & ~ndimage.binary_dilation(lumen, iterations=1)
    rmse = float(np.sqrt(np.mean(np.square(error[body], dtype=np.float64))))
    return {"lumen_dice": dice, "lumen_mae_hu": float(error[lumen].mean()) if lumen.any() else 0.0,
            "nonvessel_mae_hu": float(error[outside].mean()),
            "tissue_mae_hu": float(error[outside & ~enhancing].mean()),
            "psnr_db": float(20 * np.log10(PSNR_RANGE_HU / max(rmse, 1e-6))),
            "lumen_hu_true": float(cta[lumen].mean()) if lumen.any() else 0.0,
            "lumen_hu_synthetic": float(synthetic[lumen].mean()) if lumen.any() else 0.0}


def summarise(rows: list[dict]) -> dict:
    """Mean, min and max of each metric over cases, and whether each target is met (on the mean)."""
    summary = {}
    for key in rows[0]:
        values = np.array([r[key] for r in rows], dtype=float)
        summary[key] = {"mean": round(float(values.mean()), 4), "min": round(float(values.min()), 4),
                        "max": round(float(values.max()), 4)}
    summary["targets_met"] = {key: bool(summary[key]["mean"] >= goal if op == ">=" else summary[key]["mean"] <= goal)
                              for key, (op, goal) in TARGETS.items()}
    return summary
