"""CLI command ``classify``: characterise one CT volume, or a whole folder tree into an inventory.

    python -m NetZeroAICT classify PATH [--indication X] [--json]
    python -m NetZeroAICT classify FOLDER --inventory inventory.csv [--sidecars DIR] [--no-progress]

With ``--indication`` the input check for synthesis is run too; the exit code is then 0 (ok), 4 (warnings a
person must confirm) or 3 (refused), as for ``synthesize``.
"""

from __future__ import annotations

import json
from pathlib import Path

EXIT_REFUSED = 3
EXIT_NEEDS_CONFIRMATION = 4


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "classify", help="characterise CT: modality, contrast phase, body regions, acquisition; or inventory a folder",
        description="Characterise one CT volume (file or DICOM series folder): is it CT, its contrast phase with "
                    "a confidence, the body regions covered, spacing and DICOM facts. With --inventory, scan a "
                    "folder tree and write a CSV inventory with a JSON sidecar per series.")
    parser.add_argument("path", help="volume file, DICOM series folder, or (with --inventory) a folder tree")
    parser.add_argument("--indication", help="also check the input for synthesis with this indication")
    parser.add_argument("--series", help="series instance UID when the folder holds several series")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--inventory", metavar="CSV", help="folder mode: write the inventory to this CSV file")
    parser.add_argument("--sidecars", metavar="DIR", help="folder for the JSON sidecars (default: <CSV stem>_sidecars)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=_classify)


def _print_characterisation(data: dict) -> None:
    rows = [("CT", "yes" if data["is_ct"] else "no"), ("phase", f"{data['phase']} (confidence {data['phase_confidence']:.2f})"),
            ("blood pool", f"{data['blood_pool_hu']} HU" if data["blood_pool_hu"] is not None else "not measured"),
            ("regions", ", ".join(data["regions"]) or "none recognised"),
            ("region extent", ", ".join(f"{k} {v:.0f} mm" for k, v in data["region_extent_mm"].items()) or "-"),
            ("spacing", " × ".join(f"{v:.3g}" for v in data["spacing_mm"]) + " mm"),
            ("slice thickness", f"{data['slice_thickness_mm']:.3g} mm")]
    rows += [(key.replace("_", " "), value) for key, value in data["dicom"].items()]
    rows += [("evidence", sentence) for sentence in data["phase_evidence"]]
    rows += [("problem", sentence) for sentence in data["problems"] + data["ct_evidence"].get("reasons", [])]
    for key, value in rows:
        print(f"{key:18s} {value}")


def _classify(args) -> int:
    from .characterise import characterise, check_input, suggest_indication
    from .errors import NetZeroAICTError

    if args.inventory:
        from .characterise.inventory import scan_folder, write_inventory

        items = scan_folder(args.path, progress=not args.no_progress)
        csv_path = write_inventory(items, args.inventory, args.path, args.sidecars)
        counts = {status: sum(i.status == status for i in items) for status in ("ok", "error", "skipped")}
        if args.json:
            print(json.dumps({"inventory": str(csv_path), **counts,
                              "errors": [{"path": i.path, "error": i.error} for i in items if i.status == "error"]},
                             indent=2))
        else:
            print(f"{csv_path}: {counts['ok']} characterised, {counts['error']} unreadable, "
                  f"{counts['skipped']} skipped (not images)")
            for item in items:
                if item.status == "error":
                    print(f"  unreadable: {item.path}: {item.error}")
        return 0

    path = Path(args.path)
    if path.is_dir() and not args.series:
        from .dicom_series import list_series

        if len(list_series(path)) == 0:
            raise NetZeroAICTError("no DICOM series directly in this folder", where=str(path),
                                   hint="to scan a folder tree use --inventory out.csv")
    result = characterise(path, series_uid=args.series)
    data = result.to_dict()
    data["suggested_indication"] = suggest_indication(result)
    check = check_input(result, args.indication) if args.indication else None
    if args.json:
        out = {"characterisation": data}
        if check is not None:
            out["check"] = {k: v for k, v in check.to_dict().items() if k != "characterisation"}
        print(json.dumps(out, indent=2, default=str))
    else:
        print(result.summary())
        _print_characterisation(data)
        print(f"{'suggested':18s} {data['suggested_indication'] or '-'}")
        if check is not None:
            print(f"check for {check.indication}: {check.status}")
            for reason in check.reasons:
                print(f"  - {reason}")
    if check is None or check.status == "ok":
        return 0
    return EXIT_REFUSED if check.status == "refuse" else EXIT_NEEDS_CONFIRMATION
