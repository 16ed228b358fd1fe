"""Input safety in front of synthesis: refuse what must not be processed, warn about what a person must confirm.

A synthetic angiogram made from an image that is not CT, already contrast-enhanced, or does not show the
vessels of the indication is a clinical hazard. :func:`check_input` says so in full sentences:

* **refuse** — not CT in HU, not a 3D volume, NaN/infinite voxels, a blank or constant image, a label map;
* **warn** — contrast already present (or the phase could not be measured), the field of view misses
  regions of the indication, slices thicker than :data:`MAX_SLICE_MM`, in-plane pixels larger than
  :data:`MAX_IN_PLANE_MM`, strongly anisotropic voxels, a synthetic image as input.
"""

from __future__ import annotations

from ..indications import BODY_REGIONS, INDICATIONS, get_indication
from .core import characterise
from .result import Characterisation, InputCheck

#: Thickest slice (slice spacing or reconstructed thickness) accepted without a warning, in mm.
MAX_SLICE_MM = 5.0
#: Largest in-plane pixel accepted without a warning, in mm.
MAX_IN_PLANE_MM = 1.5
#: Largest ratio of slice spacing to in-plane pixel size accepted without a warning.
MAX_ANISOTROPY = 6.0
#: Phase confidence below which a non-contrast reading is not trusted without confirmation.
MIN_PHASE_CONFIDENCE = 0.6
#: Preference among indications that cover a volume equally well.
_PREFERENCE = ("aorta", "pulmonary", "neck_brain", "limb", "coronary")


def _join(names) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _contrast_warnings(c: Characterisation) -> list[str]:
    if c.contrast_enhanced:
        blood = f" (blood pool {c.blood_pool_hu:.0f} HU)" if c.blood_pool_hu is not None else ""
        phase = "an arterial" if c.phase == "arterial" else "a venous or later"
        return [f"The image is already contrast-enhanced: it looks like {phase} phase{blood}, with confidence "
                f"{c.phase_confidence:.2f}; a synthetic angiogram is made from non-contrast CT only."]
    if c.phase == "unknown":
        return ["The contrast phase could not be measured (no aorta, skull contents or limb arteries were found); "
                "confirm that this is a non-contrast CT."]
    if c.phase_confidence < MIN_PHASE_CONFIDENCE:
        return [f"The image reads as non-contrast only with low confidence ({c.phase_confidence:.2f}); "
                "confirm that no contrast was given."]
    if c.dicom.get("contrast_agent") and c.phase == "non_contrast":
        from .acquisition import contrast_agent_stated
        if contrast_agent_stated(c.dicom):
            return [f"The DICOM header names a contrast agent ({c.dicom['contrast_agent']!r}) although the image "
                    "reads as non-contrast; confirm which is right."]
    return []


def _coverage_warnings(c: Characterisation, indication) -> list[str]:
    missing = [r for r in indication.regions if r not in c.regions]
    if not missing:
        return []
    found = _join(c.regions) if c.regions else "no recognisable body region"
    if len(missing) == len(indication.regions):
        return [f"The field of view does not cover the {indication.label.lower()} indication's regions "
                f"({_join(indication.regions)}): it shows {found}, so the vessels of interest "
                f"({_join(indication.vessels)}) are not in the image."]
    return [f"The field of view does not cover the {_join(missing)} (it shows {found}); the "
            f"{indication.label.lower()} vessels there will be missing from the synthetic angiogram."]


def _spacing_warnings(c: Characterisation) -> list[str]:
    warnings = []
    di, dj, dk = c.spacing_mm
    thickness = max(dk, c.slice_thickness_mm)
    if thickness > MAX_SLICE_MM:
        warnings.append(f"The slices are {thickness:.1f} mm thick (spacing {dk:.1f} mm); more than "
                        f"{MAX_SLICE_MM:.0f} mm blurs small vessels, so thin-slice reconstructions are preferred.")
    if max(di, dj) > MAX_IN_PLANE_MM:
        warnings.append(f"The in-plane pixels are {di:.2f} × {dj:.2f} mm; more than {MAX_IN_PLANE_MM} mm loses "
                        "vessel detail.")
    ratio = dk / max(min(di, dj), 1e-6)
    if ratio > MAX_ANISOTROPY:
        warnings.append(f"The voxels are strongly anisotropic: slices are {ratio:.1f} times further apart than "
                        "in-plane pixels, so vessels running through the slices look stepped.")
    return warnings


def check_input(volume, indication: str) -> InputCheck:
    """Check a volume (a :class:`Volume`, a path, or an existing :class:`Characterisation`) for ``indication``.

    Returns an :class:`InputCheck` with ``status`` 'refuse' (must not be processed), 'warn' (a person must
    confirm each warning) or 'ok'.
    """
    ind = get_indication(indication)
    c = volume if isinstance(volume, Characterisation) else characterise(volume)
    refusals = list(c.problems)
    if not c.problems and not c.is_ct:
        reasons = c.ct_evidence.get("reasons") or ["The image does not look like CT in Hounsfield units."]
        refusals += [f"This is not a CT in Hounsfield units: {reasons[0][0].lower()}{reasons[0][1:]}"] + reasons[1:]
    warnings: list[str] = []
    if not refusals:
        warnings += _contrast_warnings(c)
        warnings += _coverage_warnings(c, ind)
        warnings += _spacing_warnings(c)
        if c.synthetic:
            warnings.append("The image is marked SYNTHETIC: synthesising from a synthetic image compounds its errors.")
    status = "refuse" if refusals else "warn" if warnings else "ok"
    return InputCheck(status=status, reasons=refusals + warnings, refusals=refusals, warnings=warnings,
                      indication=ind.name, characterisation=c)


def suggest_indication(characterisation: Characterisation) -> str | None:
    """The indication whose regions the volume covers best, or None (not CT, or no region recognised).

    Score: regions of the indication covered, minus half a point for each missing one; ties go to the
    order aorta, pulmonary, neck_brain, limb, coronary (coronary CTA needs ECG gating, which a plain CT
    lacks).
    """
    c = characterisation
    if not c.is_ct or not c.regions:
        return None
    covered = set(c.regions) & set(BODY_REGIONS)
    best, best_score = None, 0.0
    for name in _PREFERENCE:
        regions = INDICATIONS[name].regions
        hits = sum(r in covered for r in regions)
        if hits == 0:
            continue
        score = hits - 0.5 * (len(regions) - hits)
        if best is None or score > best_score:
            best, best_score = name, score
    return best
