"""Input checks before synthesis: the engine's own basic validation, then input safety where installed.

The basic validation refuses what can never be synthesised: fewer than 8 slices (a 2D image), NaN or
infinite voxels, images whose values look like 8-bit greyscale (0–255) rather than CT in HU, and flat
images. Where :mod:`NetZeroAICT.characterise` is present its ``check_input`` runs as well: its refusals stop
the run, its warnings need the user's confirmation (``accept_warnings``).
"""

from __future__ import annotations

import numpy as np

from ..errors import InputSafetyError, NetZeroAICTError
from ..volume import Volume

MIN_SLICES = 8


class InputRefused(InputSafetyError):
    """The input must not be synthesised; ``reasons`` holds one sentence per problem (CLI exit code 3)."""

    def __init__(self, reasons: list[str], where: str | None = None):
        self.reasons = list(reasons)
        super().__init__("input refused: " + " ".join(self.reasons), where=where,
                         hint="give a 3D non-contrast CT in Hounsfield units")


class NeedsConfirmation(NetZeroAICTError):
    """The input may be synthesised only after the user accepts ``warnings`` (CLI exit code 4)."""

    def __init__(self, warnings: list[str], where: str | None = None):
        self.warnings = list(warnings)
        super().__init__("input needs confirmation: " + " ".join(self.warnings), where=where,
                         hint="check the warnings; rerun with --accept-warnings (API: accept_warnings=True) to go on")


def basic_problems(volume: Volume) -> list[str]:
    """Sentences describing why ``volume`` cannot be synthesised at all (empty list when it can)."""
    voxels = volume.voxels
    problems = []
    if min(voxels.shape) < MIN_SLICES:
        problems.append(f"The image is {'×'.join(str(n) for n in volume.shape_ijk)} voxels: a 2D image or a slab "
                        f"of fewer than {MIN_SLICES} slices is not a CT volume.")
    if np.issubdtype(voxels.dtype, np.floating):
        finite = np.isfinite(voxels)
        if not finite.all():
            bad = int(voxels.size - np.count_nonzero(finite))
            problems.append(f"The image has {bad} NaN or infinite voxels; a CT in HU has a number in every voxel.")
            return problems
    low, high = float(voxels.min()), float(voxels.max())
    if high - low < 50:
        problems.append(f"The image is nearly flat (values {low:g} to {high:g}); it holds no anatomy.")
    elif low >= 0 and high <= 255:
        problems.append(f"The values span {low:g} to {high:g}, like an 8-bit greyscale picture, not a CT in "
                        "Hounsfield units (air ≈ −1000, water 0, bone > 300).")
    elif low > -200:
        problems.append(f"The lowest value is {low:g}: a CT in Hounsfield units shows air or fat well below "
                        "−200; this does not look like CT in HU.")
    return problems


def check_before_synthesis(volume: Volume, indication: str, accept_warnings: bool = False) -> dict:
    """Run the checks; return what was checked (for the run record) or raise.

    Raises:
        InputRefused: the image must not be synthesised.
        NeedsConfirmation: warnings exist and ``accept_warnings`` is False.
    """
    where = str(volume.metadata.get("source", "input"))
    problems = basic_problems(volume)
    if problems:
        raise InputRefused(problems, where=where)
    try:
        from ..characterise import check_input
    except ImportError:
        return {"status": "ok", "reasons": [], "method": "basic validation (input safety module not installed)"}
    check = check_input(volume, indication)
    summary = {"status": check.status, "reasons": list(check.reasons), "method": "NetZeroAICT.characterise.check_input"}
    if check.status == "refuse":
        raise InputRefused(check.reasons, where=where)
    if check.status == "warn" and not accept_warnings:
        raise NeedsConfirmation(check.reasons, where=where)
    summary["warnings_accepted"] = check.status == "warn"
    return summary
