"""Image-quality metrics of a synthetic CTA against a reference CTA, and dataset summaries with bootstrap CIs.

All functions take arrays (k, j, i) in HU (or :class:`Volume`s) on the same grid. Definitions, stated once:

- **MAE / RMSE** (HU) over a region: the body (reference > −500 HU, i.e. soft tissue and bone, lung and air
  left out), the lumen (the mask, or the reference lumen below), and the body outside the vessels (body
  minus the lumen grown by 2 voxels).
- **PSNR** (dB) = 10 log10(R² / MSE) with both images clipped to [−1024, 3071] HU and R = 4095 HU (the 12-bit
  CT range), over the body.
- **SSIM**: scikit-image's ``structural_similarity`` in 3D (7-voxel uniform window, the same data range),
  on the whole volume; volumes over 16 M voxels are evaluated on every n-th voxel along each axis (n stated
  in the result as ``ssim_stride``) to keep it to seconds.
- **Lumen Dice** at 150 HU: lumen = image > 150 HU, in prediction and reference alike; with a lumen mask
  only within two voxels of it (so enhancing organs do not count), and with the NCCT leaving out voxels
  already above 150 HU before contrast (bone, calcium).
- **Max diameter** (mm): twice the largest inscribed radius (Euclidean distance transform) of the lumen;
  the error is predicted − reference.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .errors import NetZeroAICTError
from .volume import Volume

BODY_HU = -500.0
LUMEN_THRESHOLD_HU = 150.0
CT_RANGE_HU = (-1024.0, 3071.0)
SSIM_MAX_VOXELS = 16_000_000


def _array(volume) -> np.ndarray:
    return volume.voxels if isinstance(volume, Volume) else np.asarray(volume)


def _check_same_grid(pred, ref, what: str = "prediction and reference") -> None:
    if isinstance(pred, Volume) and isinstance(ref, Volume):
        if not pred.same_grid(ref):
            raise NetZeroAICTError(f"{what} are not on the same grid ({pred.shape_ijk} vs {ref.shape_ijk} voxels, "
                                   f"spacing {pred.spacing_mm} vs {ref.spacing_mm} mm)",
                                   where=str(pred.metadata.get("source", "prediction")),
                                   hint="resample or register one onto the other first "
                                        "(python -m NetZeroAICT foundry register)")
    elif _array(pred).shape != _array(ref).shape:
        raise NetZeroAICTError(f"{what} differ in shape: {_array(pred).shape} vs {_array(ref).shape}",
                               hint="compare volumes on the same grid")


def _bbox(mask: np.ndarray, margin: int) -> tuple[slice, ...] | None:
    """Slices around the True voxels of ``mask`` grown by ``margin`` voxels (None when empty)."""
    slices = ndimage.find_objects(mask.astype(np.uint8, copy=False))
    if not slices or slices[0] is None:
        return None
    return tuple(slice(max(s.start - margin, 0), min(s.stop + margin, n)) for s, n in zip(slices[0], mask.shape))


def region_errors(pred, ref, mask: np.ndarray | None = None) -> tuple[float, float]:
    """(MAE, RMSE) in HU over ``mask`` (all voxels when None); NaN for an empty region."""
    p, r = _array(pred), _array(ref)
    if mask is not None:
        p, r = p[mask], r[mask]
    if p.size == 0:
        return float("nan"), float("nan")
    d = p.astype(np.float32) - r.astype(np.float32)
    return float(np.mean(np.abs(d), dtype=np.float64)), float(np.sqrt(np.mean(d * d, dtype=np.float64)))


def psnr(pred, ref, mask: np.ndarray | None = None, hu_range=CT_RANGE_HU) -> float:
    """PSNR (dB) with images clipped to ``hu_range`` and data range = its width, over ``mask``."""
    lo, hi = hu_range
    p, r = _array(pred), _array(ref)
    if mask is not None:
        p, r = p[mask], r[mask]
    d = np.clip(p, lo, hi) - np.clip(r, lo, hi)
    mse = float(np.mean(d.astype(np.float32) ** 2, dtype=np.float64))
    return float("inf") if mse == 0 else float(10.0 * np.log10((hi - lo) ** 2 / mse))


def ssim_3d(pred, ref, hu_range=CT_RANGE_HU, max_voxels: int = SSIM_MAX_VOXELS) -> tuple[float, int]:
    """3D SSIM (scikit-image) of the clipped images; returns (ssim, stride used)."""
    from skimage.metrics import structural_similarity

    lo, hi = hu_range
    p, r = _array(pred), _array(ref)
    stride = 1
    while p[::stride, ::stride, ::stride].size > max_voxels:
        stride += 1
    p = np.clip(p[::stride, ::stride, ::stride], lo, hi).astype(np.float32)
    r = np.clip(r[::stride, ::stride, ::stride], lo, hi).astype(np.float32)
    if min(p.shape) < 7:
        raise NetZeroAICTError(f"volume too small for a 7-voxel SSIM window: {p.shape}")
    return float(structural_similarity(p, r, data_range=hi - lo, win_size=7)), stride


def lumen_masks(pred, ref, lumen=None, ncct=None, threshold_hu: float = LUMEN_THRESHOLD_HU):
    """(predicted lumen, reference lumen) as boolean arrays: each image above ``threshold_hu``, within two
    voxels of the lumen mask when one is given, leaving out voxels already bright before contrast
    (NCCT above the threshold: bone, calcium) when the NCCT is given."""
    p, r = _array(pred), _array(ref)
    pred_lumen, ref_lumen = p > threshold_hu, r > threshold_hu
    keep = None
    if lumen is not None:
        mask = _array(lumen) > 0
        keep = np.zeros(mask.shape, bool)
        box = _bbox(mask, 3)
        if box is not None:
            keep[box] = ndimage.binary_dilation(mask[box], iterations=2)
    if ncct is not None:
        keep = ~(_array(ncct) > threshold_hu) if keep is None else keep & ~(_array(ncct) > threshold_hu)
    if keep is not None:
        pred_lumen &= keep
        ref_lumen &= keep
    return pred_lumen, ref_lumen


def dice(a: np.ndarray, b: np.ndarray) -> float:
    total = int(a.sum()) + int(b.sum())
    return float("nan") if total == 0 else 2.0 * int(np.logical_and(a, b).sum()) / total


def max_diameter_mm(mask: np.ndarray, spacing_mm) -> float:
    """Twice the largest inscribed radius (mm) of ``mask`` (0 when empty), spacing (i, j, k) in mm."""
    box = _bbox(mask, 2)
    if box is None:
        return 0.0
    distance = ndimage.distance_transform_edt(mask[box], sampling=tuple(reversed(spacing_mm)))
    return float(2.0 * distance.max())


def evaluate_pair(pred, ref, lumen=None, ncct=None, body=None, threshold_hu: float = LUMEN_THRESHOLD_HU) -> dict:
    """All metrics of one synthetic CTA against its reference (see the module docstring)."""
    _check_same_grid(pred, ref)
    for other, name in ((lumen, "lumen mask"), (ncct, "NCCT"), (body, "body mask")):
        if other is not None:
            _check_same_grid(other, ref, f"{name} and reference")
    p, r = _array(pred), _array(ref)
    spacing = ref.spacing_mm if isinstance(ref, Volume) else (1.0, 1.0, 1.0)
    body_mask = (_array(body) > 0) if body is not None else (r > BODY_HU)
    pred_lumen, ref_lumen = lumen_masks(p, r, lumen, ncct, threshold_hu)
    vessel = (_array(lumen) > 0) if lumen is not None else ref_lumen
    box = _bbox(vessel, 3)
    near_vessels = np.zeros(r.shape, bool)
    if box is not None:
        near_vessels[box] = ndimage.binary_dilation(vessel[box], iterations=2)
    outside = body_mask & ~near_vessels
    result = {}
    for name, mask in (("body", body_mask), ("lumen", vessel), ("outside_vessels", outside)):
        result[f"mae_{name}_hu"], result[f"rmse_{name}_hu"] = region_errors(p, r, mask)
    result["psnr_db"] = psnr(p, r, body_mask)
    result["ssim"], result["ssim_stride"] = ssim_3d(p, r)
    result["lumen_dice"] = dice(pred_lumen, ref_lumen)
    d_pred, d_ref = max_diameter_mm(pred_lumen, spacing), max_diameter_mm(ref_lumen, spacing)
    result.update(max_diameter_pred_mm=d_pred, max_diameter_ref_mm=d_ref, max_diameter_error_mm=d_pred - d_ref)
    result["lumen_threshold_hu"] = threshold_hu
    return result


def bootstrap_ci(values, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): the mean and its percentile-bootstrap confidence interval (NaNs dropped)."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return float("nan"), float("nan"), float("nan")
    if x.size == 1:
        return float(x[0]), float(x[0]), float(x[0])
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(n_boot, x.size))].mean(axis=1)
    alpha = (1 - level) / 2
    return float(x.mean()), float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))


def summarise(rows: list[dict], n_boot: int = 2000, seed: int = 0) -> dict:
    """Per-metric mean with 95 % bootstrap CI over cases: {metric: {mean, ci_low, ci_high, n}}."""
    summary = {}
    keys = [k for k in (rows[0] if rows else {}) if isinstance(rows[0][k], (int, float)) and not isinstance(rows[0][k], bool)]
    for key in keys:
        if key in ("lumen_threshold_hu", "ssim_stride"):
            continue
        values = [row.get(key) for row in rows]
        mean, low, high = bootstrap_ci([v for v in values if v is not None], n_boot, seed)
        summary[key] = {"mean": mean, "ci_low": low, "ci_high": high,
                        "n": int(np.isfinite(np.asarray(values, dtype=float)).sum())}
    return summary


def evaluate_paths(pred, ref, lumen=None, ncct=None) -> list[dict]:
    """Evaluate files, or dataset folders case by case; returns one row per case (``case`` = its name).

    Folders: ``ref`` holds case folders (``cta.nii.gz``, ``lumen.nii.gz``, ``ncct.nii.gz``); the prediction
    of case C is ``pred/C/cta.nii.gz`` or ``pred/C.nii.gz``.
    """
    from pathlib import Path

    from .volume_io import read_volume

    pred, ref = Path(pred), Path(ref)
    if ref.is_dir() and (ref / "cta.nii.gz").exists():
        ref_cases = [ref]
    elif ref.is_dir():
        ref_cases = sorted(p for p in ref.iterdir() if (p / "cta.nii.gz").exists())
        if not ref_cases:
            raise NetZeroAICTError("no case folders with cta.nii.gz in the reference folder", where=str(ref))
    else:
        row = evaluate_pair(read_volume(pred), read_volume(ref),
                            None if lumen is None else read_volume(lumen, label=True),
                            None if ncct is None else read_volume(ncct))
        return [{"case": ref.name, **row}]
    rows = []
    for case in ref_cases:
        candidates = [pred / case.name / "cta.nii.gz", pred / f"{case.name}.nii.gz"] if pred.is_dir() and pred != case \
            else [pred]
        found = next((p for p in candidates if p.exists()), None)
        if found is None:
            raise NetZeroAICTError(f"no prediction for case {case.name}", where=str(pred),
                                   hint=f"expected {candidates[0]} or {candidates[-1]}")
        lumen_path, ncct_path = case / "lumen.nii.gz", case / "ncct.nii.gz"
        row = evaluate_pair(read_volume(found), read_volume(case / "cta.nii.gz"),
                            read_volume(lumen_path, label=True) if lumen_path.exists() else None,
                            read_volume(ncct_path) if ncct_path.exists() else None)
        rows.append({"case": case.name, **row})
    return rows
