"""What characterisation and input checking return: plain dataclasses with ``to_dict()`` for JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

#: Contrast phases a characterisation reports.
PHASES = ("non_contrast", "arterial", "venous_or_later", "unknown")


@dataclass
class Characterisation:
    """Measured facts about one volume.

    Attributes:
        is_ct: the image is CT in Hounsfield units.
        ct_evidence: the numbers that decision rests on (HU percentiles, air and tissue fractions, Modality)
            and, under ``"reasons"``, full sentences saying why it is not CT.
        phase: 'non_contrast', 'arterial', 'venous_or_later' or 'unknown'.
        phase_confidence: 0–1.
        blood_pool_hu: HU of the blood found (aortic lumen, enhanced vessels), None where none was measured.
        regions: body regions covered, head to feet (subset of head, neck, chest, abdomen, pelvis, legs).
        spacing_mm: voxel size along (i, j, k).
        slice_thickness_mm: DICOM SliceThickness where stated, else the slice spacing.
        dicom: header facts (manufacturer, model, kernel, kvp, contrast_agent, …); empty for other files.
        region_extent_mm: millimetres along the body's axis found of each region (also those too short to count).
        phase_evidence: sentences saying what the phase rests on.
        blood_pool: each blood-pool measurement (site, HU, support, spread, details).
        problems: sentences saying why the image cannot be characterised (not 3D, NaN, constant …).
        shape_ijk, field_of_view_mm, noise_hu, source, description, synthetic, geometry_corrections,
        elapsed_s: further facts.
    """

    is_ct: bool
    ct_evidence: dict
    phase: str
    phase_confidence: float
    blood_pool_hu: float | None
    regions: list[str]
    spacing_mm: tuple[float, float, float]
    slice_thickness_mm: float
    dicom: dict = field(default_factory=dict)
    region_extent_mm: dict = field(default_factory=dict)
    phase_evidence: list[str] = field(default_factory=list)
    blood_pool: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    shape_ijk: tuple[int, int, int] = (0, 0, 0)
    field_of_view_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)
    noise_hu: float | None = None
    source: str | None = None
    description: str | None = None
    synthetic: bool = False
    geometry_corrections: dict | None = None
    elapsed_s: float = 0.0

    @property
    def contrast_enhanced(self) -> bool:
        """True when the measured phase is arterial or later."""
        return self.phase in ("arterial", "venous_or_later")

    def to_dict(self) -> dict:
        data = asdict(self)
        data["contrast_enhanced"] = self.contrast_enhanced
        for key in ("spacing_mm", "shape_ijk", "field_of_view_mm"):
            data[key] = [round(v, 4) if isinstance(v, float) else v for v in data[key]]
        if self.blood_pool_hu is not None:
            data["blood_pool_hu"] = round(self.blood_pool_hu, 1)
        data["region_extent_mm"] = {k: round(v, 1) for k, v in self.region_extent_mm.items()}
        return data

    def summary(self) -> str:
        """One line for a person: modality, phase and confidence, regions."""
        if not self.is_ct:
            why = (self.problems or self.ct_evidence.get("reasons") or ["not CT"])[0]
            return f"not usable as CT: {why}"
        blood = f", blood pool {self.blood_pool_hu:.0f} HU" if self.blood_pool_hu is not None else ""
        regions = ", ".join(self.regions) or "no region recognised"
        return (f"CT, {self.phase.replace('_', '-')} (confidence {self.phase_confidence:.2f}{blood}); "
                f"regions: {regions}")


@dataclass
class InputCheck:
    """Whether a volume may go into synthesis for an indication.

    Attributes:
        status: 'ok', 'warn' (a person must confirm) or 'refuse'.
        reasons: refusals then warnings, each a full sentence.
        refusals, warnings: the two kinds separately.
        indication: the indication checked against.
        characterisation: what was measured.
    """

    status: str
    reasons: list[str]
    refusals: list[str]
    warnings: list[str]
    indication: str
    characterisation: Characterisation

    def to_dict(self) -> dict:
        return {"status": self.status, "indication": self.indication, "reasons": list(self.reasons),
                "refusals": list(self.refusals), "warnings": list(self.warnings),
                "characterisation": self.characterisation.to_dict()}
