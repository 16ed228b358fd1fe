"""Indications for use: which arteries a synthetic CT angiogram is made for.

One :class:`Indication` per supported examination. Everything that differs between indications and is
not learned (body regions, vessels of interest, the enhanced-lumen HU a good CTA shows, display preset)
lives here, so the foundry, the synthesis engine, input safety and the modules agree.
HU references: arterial-phase aorta 250–490; CTPA main PA > 250; intracranial CTA ICA ≈ 460, MCA ≈ 405.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import NetZeroAICTError

#: Body regions, head to feet, as used by characterisation and coverage checks.
BODY_REGIONS = ("head", "neck", "chest", "abdomen", "pelvis", "legs")


@dataclass(frozen=True)
class Indication:
    """One indication for use.

    Attributes:
        name: identifier used in files, CLIs and model folders (``aorta``).
        label: human-readable name (``Aorta``).
        regions: body regions whose vessels the indication covers.
        vessels: vessels of interest, as a radiologist names them.
        lumen_hu: (low, high) mean HU of the enhanced lumen in a diagnostic arterial-phase CTA.
        default_spacing_mm: isotropic spacing the phantoms and models use by default.
        window_hu: (width, level) display preset for the angiogram.
    """

    name: str
    label: str
    regions: tuple[str, ...]
    vessels: tuple[str, ...]
    lumen_hu: tuple[float, float]
    default_spacing_mm: float
    window_hu: tuple[float, float]


INDICATIONS: dict[str, Indication] = {
    ind.name: ind
    for ind in (
        Indication("aorta", "Aorta", ("chest", "abdomen", "pelvis"),
                   ("thoracic aorta", "abdominal aorta", "celiac trunk", "superior mesenteric artery",
                    "renal arteries", "common iliac arteries"),
                   (250.0, 490.0), 1.0, (700.0, 200.0)),
        Indication("pulmonary", "Pulmonary artery", ("chest",),
                   ("pulmonary trunk", "left and right pulmonary arteries", "lobar and segmental arteries"),
                   (250.0, 500.0), 1.0, (700.0, 150.0)),
        Indication("neck_brain", "Neck and brain arteries", ("neck", "head"),
                   ("common and internal carotid arteries", "vertebral arteries", "basilar artery",
                    "circle of Willis", "middle cerebral arteries"),
                   (350.0, 550.0), 0.7, (600.0, 200.0)),
        Indication("limb", "Limb arteries", ("pelvis", "legs"),
                   ("common femoral arteries", "superficial femoral arteries", "popliteal arteries",
                    "tibial arteries"),
                   (250.0, 450.0), 1.0, (700.0, 200.0)),
        Indication("coronary", "Coronary arteries", ("chest",),
                   ("left main", "left anterior descending", "circumflex", "right coronary artery"),
                   (300.0, 550.0), 0.5, (800.0, 250.0)),
    )
}


def get_indication(name: str) -> Indication:
    """Return the indication called ``name`` or raise a clear error listing the known ones."""
    try:
        return INDICATIONS[name]
    except KeyError:
        raise NetZeroAICTError(
            f"unknown indication {name!r}", where="indication",
            hint=f"choose one of: {', '.join(INDICATIONS)}") from None
