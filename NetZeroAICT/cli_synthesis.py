"""CLI: ``synthesize`` (NCCT → synthetic CTA) and ``demo`` (the main job on a phantom or your NCCT).

``synthesize --progress json`` prints one JSON object per line on stdout (for the Slicer module and batch
jobs): ``progress`` events, then ``done``; or ``error`` (exit 2), ``refused`` (exit 3),
``needs_confirmation`` (exit 4), ``cancelled`` (exit 130, on SIGTERM/SIGINT).
"""

from __future__ import annotations

import json
import signal
import sys
import threading

from .errors import NetZeroAICTError

EXIT_ERROR, EXIT_REFUSED, EXIT_NEEDS_CONFIRMATION, EXIT_CANCELLED = 2, 3, 4, 130


def register(subparsers) -> None:
    """Register ``synthesize`` and ``demo``, and the model commands of :mod:`NetZeroAICT.cli_models`."""
    from . import cli_models

    p = subparsers.add_parser(
        "synthesize", help="synthesise a CT angiogram (SYNTHETIC) from a non-contrast CT",
        description="Synthesise a CT angiogram from a non-contrast CT with the indication's model. The output is "
                    "marked SYNTHETIC. Research use only; not for clinical use.")
    p.add_argument("ncct", help="non-contrast CT: .nii.gz/.nrrd/.mha file or DICOM series folder")
    p.add_argument("--indication", required=True, help="aorta, pulmonary, neck_brain, limb or coronary")
    p.add_argument("--out", required=True, help="synthetic CTA file (.nii.gz, .nrrd, .mha)")
    p.add_argument("--uncertainty", help="uncertainty map file (TTA standard deviation, HU)")
    p.add_argument("--record", help="run record JSON file")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--model", help="model folder (model.json + model.safetensors) instead of the shipped one")
    p.add_argument("--progress", choices=["text", "json"], default="text", help="progress format")
    p.add_argument("--dicom-out", help="also write a derived DICOM series here (DICOM input only)")
    p.add_argument("--accept-warnings", action="store_true", help="go on despite input-safety warnings")
    p.add_argument("--lumen-hu", type=float, metavar="HU",
                   help="contrast level: mean HU of the synthetic arterial lumen, e.g. 350 (default: the model's, "
                        "the median of its training cases; the NCCT does not show how much contrast a scan would get)")
    _footprint_options(p)
    p.set_defaults(func=_synthesize)

    d = subparsers.add_parser(
        "demo", help="the main job: phantom (or your) NCCT → synthetic CTA, uncertainty, preview, run record",
        description="Generate an aorta phantom NCCT (or read --input), synthesise a CTA, and write the synthetic "
                    "CTA, the uncertainty map, a PNG preview and the run record into --out. Input-safety warnings "
                    "are printed and accepted; refusals stop the demo.")
    d.add_argument("--out", default="demo-output", help="output folder (created)")
    d.add_argument("--input", help="your non-contrast CT instead of the phantom")
    d.add_argument("--indication", default="aorta")
    d.add_argument("--model", help="model folder instead of the shipped one")
    d.add_argument("--seed", type=int, default=90001, help="phantom seed (held out from all training)")
    d.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    _footprint_options(d)
    d.set_defaults(func=_demo)
    cli_models.register(subparsers)


def _footprint_options(parser) -> None:
    parser.add_argument("--grid-intensity", type=float, metavar="G_PER_KWH",
                        help="grid carbon intensity, g CO2e per kWh (default 475, world average)")
    parser.add_argument("--exam-kg-co2e", type=float, help="footprint of the contrast-enhanced exam avoided, kg CO2e")


def _footprint_settings(args):
    from .synthesis.record import FootprintSettings

    settings = FootprintSettings()
    if args.grid_intensity is not None:
        settings.grid_g_co2e_per_kwh = args.grid_intensity
    if args.exam_kg_co2e is not None:
        settings.ct_exam_kg_co2e = args.exam_kg_co2e
    return settings


class _Emitter:
    """Prints progress as JSON lines (stdout) or as text (stderr)."""

    def __init__(self, mode: str):
        self.json = mode == "json"
        self._last = -1.0

    def event(self, **payload) -> None:
        if self.json:
            print(json.dumps(payload, default=str), flush=True)

    def progress(self, stage: str, fraction: float, message: str) -> None:
        if self.json:
            self.event(event="progress", stage=stage, fraction=round(fraction, 4), message=message)
        elif fraction - self._last >= 0.05 or stage != "inference":
            self._last = fraction
            print(f"[{100 * fraction:5.1f}%] {message}", file=sys.stderr, flush=True)


def _synthesize(args) -> int:
    from .synthesis import InputRefused, NeedsConfirmation, SynthesisCancelled, synthesize_file

    emit = _Emitter(args.progress)
    cancel = threading.Event()
    previous = {s: signal.signal(s, lambda *_: cancel.set()) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        record = synthesize_file(args.ncct, args.indication, args.out, args.uncertainty, args.record, args.device,
                                 args.model, emit.progress, args.accept_warnings, args.dicom_out, cancel=cancel,
                                 footprint_settings=_footprint_settings(args), lumen_hu=args.lumen_hu)
    except InputRefused as error:
        emit.event(event="refused", reasons=error.reasons)
        print(f"refused: {error}", file=sys.stderr)
        return EXIT_REFUSED
    except NeedsConfirmation as error:
        emit.event(event="needs_confirmation", warnings=error.warnings)
        print(f"needs confirmation: {error}", file=sys.stderr)
        return EXIT_NEEDS_CONFIRMATION
    except SynthesisCancelled:
        emit.event(event="cancelled", message="synthesis cancelled; nothing was written")
        print("cancelled", file=sys.stderr)
        return EXIT_CANCELLED
    except NetZeroAICTError as error:
        emit.event(event="error", message=str(error))
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    emit.event(event="done", out=record["output"]["cta"], uncertainty=record["output"].get("uncertainty"),
               record=record)
    if not emit.json:
        print(record["output"]["cta"])
        print(f"{record['description']}: {record['timings_s']['total']:.1f} s, peak {record['peak_rss_gb']:.2f} GB, "
              f"{record['energy']['wh']:.3f} Wh ≈ {record['co2e_g']:.2f} g CO2e; avoided "
              f"≈ {record['avoided']['contrast_enhanced_exam_kg_co2e']:g} kg CO2e and "
              f"{record['avoided']['iodine_g']:g} g iodine", file=sys.stderr)
    return 0


def _demo(args) -> int:
    from .synthesis.demo import run_demo

    summary = run_demo(args.out, input_path=args.input, indication=args.indication, model_dir=args.model,
                       seed=args.seed, device=args.device,
                       footprint_settings=_footprint_settings(args))
    for key, value in summary.items():
        print(f"{key:28s} {value}")
    return 0
