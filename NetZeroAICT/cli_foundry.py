"""CLI commands of the paired-data foundry and of evaluation:
``foundry phantom|dataset|virtual-ncct|register`` and ``evaluate``."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def register(subparsers) -> None:
    foundry = subparsers.add_parser("foundry", help="paired NCCT/CTA data: phantoms, datasets, virtual NCCT, registration",
                                    description="Make paired NCCT/CTA training and test data.")
    commands = foundry.add_subparsers(dest="foundry_command", required=True, metavar="COMMAND")

    phantom = commands.add_parser("phantom", help="write one synthetic NCCT/CTA phantom pair with masks and ground truth")
    phantom.add_argument("--indication", required=True)
    phantom.add_argument("--seed", type=int, required=True)
    phantom.add_argument("--out", required=True, help="case folder to write")
    _grid_arguments(phantom)
    phantom.add_argument("--pathology", default="random", help="random (default), none, or a pathology name")
    phantom.set_defaults(func=_phantom)

    dataset = commands.add_parser("dataset", help="write a dataset of phantom pairs (resumable) with a manifest and split")
    dataset.add_argument("--indication", required=True)
    dataset.add_argument("--cases", type=int, required=True)
    dataset.add_argument("--out", required=True)
    dataset.add_argument("--first-seed", type=int, default=0)
    _grid_arguments(dataset)
    dataset.add_argument("--quiet", action="store_true", help="no progress bar")
    dataset.set_defaults(func=_dataset)

    vnc = commands.add_parser("virtual-ncct", help="virtual non-contrast CT from a contrast-enhanced CT")
    vnc.add_argument("cta", help="contrast-enhanced CT (file or DICOM folder)")
    vnc.add_argument("--out", required=True, help="output volume (.nii.gz, .nrrd, .mha)")
    vnc.add_argument("--lumen", help="mask of the enhanced lumen (found automatically when absent)")
    vnc.add_argument("--mask-out", help="also write the blood mask used")
    vnc.set_defaults(func=_virtual_ncct)

    reg = commands.add_parser("register", help="register a CTA onto its NCCT (rigid, then B-spline)")
    reg.add_argument("--fixed", required=True, help="the NCCT (its grid is kept)")
    reg.add_argument("--moving", required=True, help="the CTA")
    reg.add_argument("--out", required=True, help="registered CTA on the NCCT's grid")
    reg.add_argument("--rigid-only", action="store_true")
    reg.add_argument("--grid-mm", type=float, default=50.0, help="B-spline control point spacing (mm)")
    reg.set_defaults(func=_register)

    evaluate = subparsers.add_parser("evaluate", help="metrics of synthetic CTAs against reference CTAs",
                                     description="MAE/RMSE (body, lumen, outside vessels), PSNR, 3D SSIM, lumen Dice, "
                                                 "max-diameter error; for dataset folders one row per case and a "
                                                 "summary with bootstrap 95 % CIs.")
    evaluate.add_argument("--pred", required=True, help="synthetic CTA file, or a folder of predictions")
    evaluate.add_argument("--ref", required=True, help="reference CTA file, a case folder, or a dataset folder")
    evaluate.add_argument("--lumen", help="lumen mask (files only; case folders bring their own)")
    evaluate.add_argument("--ncct", help="the NCCT (files only), to leave bone and calcium out of the lumen Dice")
    evaluate.add_argument("--csv", help="write the per-case table here (default: print it)")
    evaluate.add_argument("--json", action="store_true", help="print per-case rows and the summary as JSON")
    evaluate.set_defaults(func=_evaluate)


def _grid_arguments(parser) -> None:
    parser.add_argument("--shape", type=int, nargs=3, metavar=("I", "J", "K"), help="voxels along i j k (default per indication)")
    parser.add_argument("--spacing", type=float, help="isotropic voxel size in mm (default per indication)")


def _phantom(args) -> int:
    from .foundry import make_pair

    pair = make_pair(args.indication, args.seed, args.shape, args.spacing, pathology=args.pathology)
    folder = pair.save(args.out)
    print(json.dumps({"out": str(folder), **{k: pair.case[k] for k in ("indication", "seed", "abnormal", "pathology",
                                                                          "max_diameter_mm", "stenosis_percent", "location")}}))
    return 0


def _dataset(args) -> int:
    from .foundry.dataset import build_dataset

    manifest = build_dataset(args.indication, args.cases, args.out, args.first_seed, args.shape, args.spacing,
                             progress=not args.quiet)
    print(json.dumps({"out": args.out, "made": manifest["made"], "skipped": manifest["skipped"],
                      **{name: len(cases) for name, cases in manifest["split"].items()}}))
    return 0


def _virtual_ncct(args) -> int:
    from .foundry.vnc import virtual_non_contrast
    from .volume_io import read_volume, write_volume

    cta = read_volume(args.cta)
    lumen = read_volume(args.lumen, label=True) if args.lumen else None
    vnc, mask = virtual_non_contrast(cta, lumen)
    write_volume(vnc, args.out, description=vnc.metadata["description"])
    if args.mask_out:
        write_volume(mask, args.mask_out)
    blood = mask.voxels > 0
    print(json.dumps({"out": args.out, "blood_voxels": int(blood.sum()),
                      "blood_hu_before": round(float(cta.voxels[blood].mean()), 1) if blood.any() else None,
                      "blood_hu_after": round(float(vnc.voxels[blood].mean()), 1) if blood.any() else None}))
    return 0


def _register(args) -> int:
    from .foundry.registration import register as register_pair
    from .volume_io import read_volume, write_volume

    result = register_pair(read_volume(args.fixed), read_volume(args.moving), not args.rigid_only, args.grid_mm)
    write_volume(result.moved, args.out, description="CTA registered to its NCCT")
    print(json.dumps({"out": args.out, "rigid_metric": result.rigid_metric, "deformable_metric": result.deformable_metric}))
    return 0


def _evaluate(args) -> int:
    import pandas as pd

    from .metrics import evaluate_paths, summarise

    rows = evaluate_paths(args.pred, args.ref, args.lumen, args.ncct)
    summary = summarise(rows)
    table = pd.DataFrame(rows)
    if args.csv:
        Path(args.csv).parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.csv, index=False)
    if args.json:
        print(json.dumps({"cases": rows, "summary": summary}, indent=2, default=float))
    else:
        if not args.csv:
            table.to_csv(sys.stdout, index=False)
        for metric, s in summary.items():
            print(f"{metric:26s} {s['mean']:10.3f}  95% CI [{s['ci_low']:.3f}, {s['ci_high']:.3f}]  n={s['n']}",
                  file=sys.stderr if not args.csv else sys.stdout)
    return 0
