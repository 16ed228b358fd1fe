"""The main job, end to end: an NCCT (a phantom from the foundry, or the user's) → synthetic CTA, uncertainty
map, PNG preview and run record in one folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..volume_io import read_volume, write_volume
from .preview import write_preview
from .run_file import synthesize_file


def run_demo(out_dir, input_path=None, indication: str = "aorta", model_dir=None, seed: int = 90001,
             device: str = "auto", footprint_settings=None) -> dict:
    """Run the demo; return a summary (paths and the numbers a person checks first).

    Input-safety refusals stop the demo; its warnings are accepted and listed in the summary (and the run
    record), since a demonstration should show the result rather than stop for confirmation.

    Without ``input_path`` a phantom NCCT of ``indication`` (seed ``seed``, never used in training) is generated
    and written as ``ncct_phantom.nii.gz`` beside its true contrast scan ``cta_phantom_truth.nii.gz``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    truth = None
    if input_path is None:
        from ..foundry import make_pair

        pair = make_pair(indication, seed)
        input_path = out / "ncct_phantom.nii.gz"
        write_volume(pair.ncct, input_path, description=f"SYNTHETIC phantom NCCT ({indication}, seed {seed})")
        write_volume(pair.cta, out / "cta_phantom_truth.nii.gz",
                     description=f"SYNTHETIC phantom true CTA ({indication}, seed {seed})")
        truth = pair
    cta_path, unc_path = out / "synthetic_cta.nii.gz", out / "uncertainty.nii.gz"
    record = synthesize_file(input_path, indication, cta_path, unc_path, out / "run_record.json", device=device,
                             model_dir=model_dir, accept_warnings=True,
                             footprint_settings=footprint_settings)
    ncct, cta, unc = read_volume(input_path), read_volume(cta_path), read_volume(unc_path)
    preview = write_preview(ncct, cta, unc, out / "preview.png", indication)
    changed = cta.voxels != ncct.voxels
    summary = {
        "input": str(input_path), "synthetic_cta": str(cta_path), "uncertainty": str(unc_path),
        "preview": str(preview), "run_record": str(out / "run_record.json"),
        "input_warnings": record["input_check"].get("reasons", []),
        "time_s": record["timings_s"]["total"], "peak_rss_gb": record["peak_rss_gb"],
        "energy_wh": record["energy"]["wh"], "co2e_g": record["co2e_g"],
        "voxels_changed_percent": round(100 * float(changed.mean()), 3),
        "mean_enhancement_where_changed_hu": round(float((cta.voxels - ncct.voxels)[changed].mean()), 1)
        if changed.any() else 0.0,
    }
    if truth is not None:
        lumen = truth.masks["lumen"].voxels > 0
        summary["phantom_lumen_hu_ncct/true/synthetic"] = (
            f"{ncct.voxels[lumen].mean():.0f} / {truth.cta.voxels[lumen].mean():.0f} / {cta.voxels[lumen].mean():.0f}")
        body = truth.masks["body"].voxels > 0 if "body" in truth.masks else np.ones_like(lumen)
        others = body & ~lumen
        if "enhancing" in truth.masks:
            others &= truth.masks["enhancing"].voxels == 0
        summary["phantom_nonvessel_change_mean_abs_hu"] = round(float(np.abs(cta.voxels - ncct.voxels)[others].mean()), 2)
    return summary
