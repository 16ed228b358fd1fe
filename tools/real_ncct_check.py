"""Run a shipped model on a real non-contrast CT and print what changed: the blood pool's HU before and after
(as characterisation measures it), and how much of the tissue outside vessels was altered. Writes the preview.

Usage: python tools/real_ncct_check.py NCCT [--indication aorta] [--model DIR] [--out folder] [--lumen-hu HU]
                                      [--region NAME=S0:S1,P0:P1,L0:L1 ...]

``--region`` boxes are voxel ranges of the input in patient order (the order the network reads: superior,
posterior, left; ``NetZeroAICT.synthesis.grids.to_network_order``); their mean HU before and after is printed.
For ``../shared/data/ct/ncct_abdomen_3mm.nii.gz``, the abdominal aorta and the inferior vena cava at the level
of the kidneys: ``--region aorta=75:86,45:50,66:71 --region vena_cava=75:86,45:50,56:61``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None) -> int:
    from NetZeroAICT import read_volume
    from NetZeroAICT.characterise import characterise
    from NetZeroAICT.synthesis import synthesize_file
    from NetZeroAICT.synthesis.preview import write_preview

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ncct")
    parser.add_argument("--indication", default="aorta")
    parser.add_argument("--out", default="build/real-ncct-check")
    parser.add_argument("--lumen-hu", type=float)
    parser.add_argument("--model", help="a model folder other than the shipped one")
    parser.add_argument("--region", action="append", default=[], metavar="NAME=S0:S1,P0:P1,L0:L1",
                        help="a box (voxels, patient order) whose mean HU before and after is reported")
    args = parser.parse_args(argv)
    regions = {}
    for spec in args.region:
        try:
            name, ranges = spec.split("=")
            bounds = [tuple(int(v) for v in r.split(":")) for r in ranges.split(",")]
            if len(bounds) != 3:
                raise ValueError(spec)
            regions[name] = tuple(slice(a, b) for a, b in bounds)
        except ValueError:
            parser.error(f"--region {spec!r}: give NAME=S0:S1,P0:P1,L0:L1 (voxel ranges)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    record = synthesize_file(args.ncct, args.indication, out / "synthetic_cta.nii.gz", out / "uncertainty.nii.gz",
                             out / "run_record.json", device="cpu", accept_warnings=True, lumen_hu=args.lumen_hu,
                             model_dir=args.model)
    ncct, cta = read_volume(args.ncct), read_volume(out / "synthetic_cta.nii.gz")
    before, after = characterise(ncct), characterise(cta)
    delta = cta.voxels - ncct.voxels
    body = ncct.voxels > -400
    soft = (ncct.voxels >= 20) & (ncct.voxels <= 70)
    changed = delta != 0
    facts = {
        "blood_pool_hu_before": before.blood_pool_hu, "blood_pool_hu_after": after.blood_pool_hu,
        "phase_before": before.phase, "phase_after": after.phase,
        "contrast_level": record["contrast_level"],
        "body_voxels_changed_percent": round(100 * float(changed[body].mean()), 2),
        "mean_abs_change_over_body_hu": round(float(np.abs(delta[body]).mean()), 2),
        "soft_tissue_20_70_hu_changed_percent": round(100 * float(changed[soft].mean()), 2),
        "soft_tissue_20_70_hu_changed_over_50_hu_percent": round(100 * float((delta[soft] > 50).mean()), 2),
        "mean_change_in_changed_soft_tissue_hu": round(float(delta[soft & changed].mean()), 1)
        if (soft & changed).any() else 0.0,
        "seconds": record["timings_s"]["total"], "peak_rss_gb": record["peak_rss_gb"],
    }
    from NetZeroAICT.synthesis.grids import to_network_order

    uncertainty = read_volume(out / "uncertainty.nii.gz")
    # in patient order (superior, posterior, left): the columns' first half is the patient's right (the liver)
    before_sp, after_sp, unc_sp = (to_network_order(v.voxels, ncct.direction_lps) for v in (ncct, cta, uncertainty))
    raised = (before_sp >= 20) & (before_sp <= 70) & (after_sp - before_sp > 100)
    facts["soft_tissue_20_70_hu_raised_over_100_hu_voxels"] = {
        "patient_right_half": int(raised[..., : raised.shape[2] // 2].sum()), "all": int(raised.sum()),
        "mean_uncertainty_there_hu": round(float(unc_sp[raised].mean()), 1) if raised.any() else 0.0}
    if regions:
        facts["regions_mean_hu"] = {name: {"before": round(float(before_sp[box].mean()), 1),
                                           "after": round(float(after_sp[box].mean()), 1),
                                           "uncertainty": round(float(unc_sp[box].mean()), 1)}
                                    for name, box in regions.items()}
    write_preview(ncct, cta, uncertainty, out / "preview.png", args.indication,
                  title=f"{Path(args.ncct).name}: {cta.metadata['description']}")
    (out / "facts.json").write_text(json.dumps(facts, indent=2, default=str) + "\n")
    print(json.dumps(facts, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
