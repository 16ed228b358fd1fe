"""A test double of ``python -m NetZeroAICT synthesize … --progress json``: it speaks the same JSON-lines
protocol and exit codes, so the module's runner can be tested on paths the real engine reaches only rarely
(a crash with a traceback, a run slow enough to cancel, refusals, warnings).

    python Testing/json_lines_engine.py MODE synthesize NCCT --indication X --out CTA [--uncertainty U] ...

MODE: ``copy`` (writes the input back as the "CTA" with +100 HU, a zero uncertainty map, exit 0), ``slow``
(progress every 0.1 s for 60 s), ``crash`` (a Python traceback, exit 1), ``refuse`` (exit 3), ``confirm``
(exit 4 unless --accept-warnings, then like ``copy``), ``silent`` (exit 0 without a ``done`` line).
It is not a synthesis engine and produces nothing synthetic.
"""

import argparse
import json
import sys
import time


def say(**event):
    print(json.dumps(event), flush=True)


def main(argv):
    mode, argv = argv[0], argv[1:]
    parser = argparse.ArgumentParser()
    parser.add_argument("command")
    parser.add_argument("ncct")
    parser.add_argument("--indication", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--uncertainty")
    parser.add_argument("--record")
    parser.add_argument("--device")
    parser.add_argument("--model")
    parser.add_argument("--progress")
    parser.add_argument("--dicom-out")
    parser.add_argument("--accept-warnings", action="store_true")
    args = parser.parse_args(argv)
    print("engine starting (a plain log line)", flush=True)
    say(event="progress", stage="load", fraction=0.1, message="reading the input")
    if mode == "slow":
        for step in range(600):
            say(event="progress", stage="infer", fraction=0.1 + step / 700, message=f"patch {step}")
            time.sleep(0.1)
    if mode == "crash":
        raise RuntimeError("the test double crashed on purpose")
    if mode == "refuse":
        say(event="refused", reasons=["The input is not a CT: its values are not Hounsfield units."])
        return 3
    if mode == "confirm" and not args.accept_warnings:
        say(event="needs_confirmation", warnings=["The input is already contrast-enhanced (aorta 180 HU)."])
        return 4
    if mode == "silent":
        return 0
    import numpy as np

    from NetZeroAICT.volume_io import read_volume, write_volume

    ncct = read_volume(args.ncct)
    say(event="progress", stage="infer", fraction=0.6, message="computing")
    write_volume(ncct.with_voxels(ncct.voxels + 100.0), args.out)
    if args.uncertainty:
        write_volume(ncct.with_voxels(np.zeros_like(ncct.voxels)), args.uncertainty)
    record = {"description": "test double output (not synthetic)", "indication": args.indication,
              "model": {"id": "test-double", "version": "0"}, "co2e_g": 0.01, "energy": {"wh": 0.02}}
    say(event="done", out=args.out, uncertainty=args.uncertainty, record=record)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
