"""CLI commands about volumes themselves: ``info`` and ``convert``."""

from __future__ import annotations

import json

from .indications import INDICATIONS
from .volume_io import read_volume, write_volume


def register(subparsers) -> None:
    info = subparsers.add_parser("info", help="show a volume's size, spacing, geometry and HU range",
                                 description="Show a volume's geometry and HU range, or list the indications.")
    info.add_argument("path", nargs="?", help="volume file or DICOM folder (omit to list the indications)")
    info.add_argument("--series", help="series instance UID when the folder holds several series")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(func=_info)

    convert = subparsers.add_parser("convert", help="convert a volume or DICOM series to NIfTI/NRRD/MHA",
                                    description="Read a volume (file or DICOM folder) and write it to another format.")
    convert.add_argument("source")
    convert.add_argument("destination", help="output .nii.gz, .nii, .nrrd or .mha")
    convert.add_argument("--series", help="series instance UID when the folder holds several series")
    convert.set_defaults(func=_convert)


def _info(args) -> int:
    if args.path is None:
        rows = {name: {"label": ind.label, "regions": ind.regions, "lumen_hu": ind.lumen_hu}
                for name, ind in INDICATIONS.items()}
        print(json.dumps(rows, indent=2) if args.json else
              "\n".join(f"{n:12s} {r['label']}" for n, r in rows.items()))
        return 0
    volume = read_volume(args.path, series_uid=args.series)
    facts = {
        "source": volume.metadata.get("source"), "shape_ijk": volume.shape_ijk,
        "spacing_mm": volume.spacing_mm, "origin_lps": volume.origin_lps,
        "direction_lps": volume.direction_lps.round(6).tolist(),
        "hu_min": float(volume.voxels.min()), "hu_max": float(volume.voxels.max()),
        "geometry_corrections": volume.metadata.get("geometry_corrections"),
    }
    if args.json:
        print(json.dumps(facts, indent=2))
    else:
        for key, value in facts.items():
            if value is not None:
                print(f"{key:22s} {value}")
    return 0


def _convert(args) -> int:
    volume = read_volume(args.source, series_uid=args.series)
    print(write_volume(volume, args.destination))
    return 0
