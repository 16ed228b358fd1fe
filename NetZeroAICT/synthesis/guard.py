"""Input checks before synthesis: the engine's own minimum size, then input safety.

Input safety is :func:`NetZeroAICT.characterise.check_input` (not CT in HU, NaN/infinite voxels, 8-bit
pictures, blank images, label maps, wrong phase or coverage…): its refusals stop the run, its warnings need
the user's confirmation (``accept_warnings``).
"""

from __future__ import annotations


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


def engine_problems(volume: Volume) -> list[str]:
    """What the engine itself cannot work with, beyond input safety: fewer than :data:`MIN_SLICES` voxels
    along an axis (the network needs a volume)."""
    if min(volume.voxels.shape) < MIN_SLICES:
        return [f"The image is {'×'.join(str(n) for n in volume.shape_ijk)} voxels: a 2D image or a slab of fewer "
                f"than {MIN_SLICES} slices is not a CT volume the synthesis can work on."]
    return []


def check_before_synthesis(volume: Volume, indication: str, accept_warnings: bool = False) -> dict:
    """Run the checks; return what was checked (for the run record) or raise.

    Raises:
        InputRefused: the image must not be synthesised.
        NeedsConfirmation: warnings exist and ``accept_warnings`` is False.
    """
    from ..characterise import check_input

    where = str(volume.metadata.get("source", "input"))
    problems = engine_problems(volume)
    if problems:
        raise InputRefused(problems, where=where)
    check = check_input(volume, indication)
    summary = {"status": check.status, "reasons": list(check.reasons), "method": "NetZeroAICT.characterise.check_input"}
    if check.status == "refuse":
        raise InputRefused(check.reasons, where=where)
    if check.status == "warn" and not accept_warnings:
        raise NeedsConfirmation(check.reasons, where=where)
    summary["warnings_accepted"] = check.status == "warn"
    return summary
