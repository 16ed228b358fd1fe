"""What the user asked for, as a plain dataclass, and the engine command line that does it."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

#: Device choices offered to the user, in the order the GUI lists them.
DEVICES = ("auto", "cpu", "cuda")
#: Contrast levels (mean lumen HU) the GUI offers; 0 in the GUI means the model's default.
LUMEN_HU_RANGE = (100.0, 1000.0)


@dataclass(frozen=True)
class SynthesisRequest:
    """One synthesis run as the user chose it.

    Attributes:
        indication: one of ``NetZeroAICT.indications.INDICATIONS`` (``aorta``, ``pulmonary``, …).
        device: ``auto`` (GPU when there is one), ``cpu`` or ``cuda``.
        uncertainty: also compute the uncertainty map (test-time augmentation spread, HU).
        accept_warnings: run although the input check warned (the user confirmed the warnings).
        dicom_out: folder for a DICOM copy of the synthetic series (derived, marked synthetic), or None.
        model_dir: a model folder to use instead of the shipped one, or None.
        lumen_hu: contrast level, mean HU of the synthetic arterial lumen (e.g. 350), or None for the model's
            default (the median of its training cases).
    """

    indication: str
    device: str = "auto"
    uncertainty: bool = True
    accept_warnings: bool = False
    dicom_out: str | None = None
    model_dir: str | None = None
    lumen_hu: float | None = None

    def __post_init__(self):
        from NetZeroAICT.indications import get_indication

        get_indication(self.indication)  # raises a readable error for an unknown name
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {self.device!r}")
        if self.lumen_hu is not None and not LUMEN_HU_RANGE[0] <= self.lumen_hu <= LUMEN_HU_RANGE[1]:
            raise ValueError(f"the lumen level must lie between {LUMEN_HU_RANGE[0]:g} and {LUMEN_HU_RANGE[1]:g} HU, "
                             f"got {self.lumen_hu:g}")

    def engine_arguments(self, ncct: Path, cta: Path, uncertainty: Path, record: Path) -> list[str]:
        """Arguments after ``python -m NetZeroAICT`` for this request (files in the run's work folder)."""
        args = ["synthesize", str(ncct), "--indication", self.indication, "--out", str(cta),
                "--record", str(record), "--device", self.device, "--progress", "json"]
        if self.uncertainty:
            args += ["--uncertainty", str(uncertainty)]
        if self.model_dir:
            args += ["--model", str(self.model_dir)]
        if self.dicom_out:
            args += ["--dicom-out", str(self.dicom_out)]
        if self.accept_warnings:
            args.append("--accept-warnings")
        if self.lumen_hu is not None:
            args += ["--lumen-hu", f"{self.lumen_hu:g}"]
        return args


def python_executable() -> str:
    """The Python that runs the engine: Slicer's ``PythonSlicer`` launcher when there is one (it sets up
    Slicer's environment), else the interpreter running this code."""
    return shutil.which("PythonSlicer") or sys.executable


def engine_environment(base: dict | None = None) -> dict:
    """Environment for the engine subprocess: ``NetZeroAICT`` importable, output unbuffered."""
    import NetZeroAICT

    env = dict(os.environ if base is None else base)
    package_root = str(Path(NetZeroAICT.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([package_root] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env["PYTHONUNBUFFERED"] = "1"
    return env
