"""SIMULATED readers for the demo study: answers derived from the image a reader is shown, never from the truth.

A simulated reader is not a radiologist. It looks at the voxels of the case node in the scene (what the views
show), finds the contrast-filled aorta by a simple tracking heuristic, measures its widest inscribed diameter,
and answers the protocol's questions by role with reader-specific bias and noise:

* ``diameter`` — the measured diameter (mm) placed as a ruler, so the ruler → answer path is exercised;
* ``confidence`` (1–5) and ``diagnosis`` — from the lumen diameter against :data:`ANEURYSM_MM`;
* ``quality`` (1–5) — from the lumen's contrast over soft tissue (HU);
* ``turing`` / ``turing_confidence`` — "synthetic" when the lumen is not opacified or the image shows seams
  between axial slices (the ratio of through-plane to in-plane voxel differences).

Questions without a role are left unanswered (they must then be optional).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

LUMEN_HU = (200.0, 700.0)
ANEURYSM_MM = 26.0  # widest inscribed lumen diameter a simulated reader calls aneurysmal


@dataclass
class ImageFindings:
    """What a simulated reader sees in one image."""

    diameter_mm: float | None  # widest inscribed diameter of the tracked lumen; None: no opacified aorta
    lumen_hu: float | None  # mean HU of the tracked lumen
    tissue_hu: float  # median HU of soft tissue (-100…150 HU) in the body
    seam_ratio: float  # mean |Δ| between axial slices / mean |Δ| between rows (1 ≈ no seams)
    ends_ras: tuple | None  # two RAS points across the widest lumen section (where a ruler goes)


def find_lumen(hu: np.ndarray, spacing_mm, lumen_hu=LUMEN_HU, abdominal_fraction: float = 0.6):
    """The abdominal aorta's lumen as a reader finds it: (widest inscribed diameter mm, lumen mask, (k, j, i)).

    ``hu`` is (k, j, i) with k from feet to head; ``spacing_mm`` (i, j, k). Within the lower
    ``abdominal_fraction`` of the slices (below the heart), voxels in ``lumen_hu`` are grouped in 3D; the
    aorta is the group spanning the most slices (vertebral bodies are cut apart by their discs), the narrower
    one on a tie. Its widest inscribed circle over the slices is the diameter. (None, …) when nothing is
    opacified.
    """
    top = max(1, int(hu.shape[0] * abdominal_fraction))
    labels, count = ndimage.label((hu[:top] > lumen_hu[0]) & (hu[:top] < lumen_hu[1]))
    lumen = np.zeros(hu.shape, bool)
    if count == 0:
        return None, lumen, None
    spans = [((o[0].stop - o[0].start), -(o[1].stop - o[1].start), index + 1)
             for index, o in enumerate(ndimage.find_objects(labels))]
    lumen[:top] = labels == max(spans)[2]
    pixel_mm = (spacing_mm[0] + spacing_mm[1]) / 2
    widest = (None, None)
    for k in range(top):
        if not lumen[k].any():
            continue
        distance = ndimage.distance_transform_edt(lumen[k])
        diameter = float(distance.max() * 2 * pixel_mm)
        if widest[0] is None or diameter > widest[0]:
            j, i = np.unravel_index(np.argmax(distance), distance.shape)
            widest = (diameter, (k, int(j), int(i)))
    return widest[0], lumen, widest[1]


def look_at(node) -> ImageFindings:
    """What the image in a volume node shows (reads its voxels and geometry from MRML)."""
    import slicer
    import vtk

    hu = slicer.util.arrayFromVolume(node).astype(np.float32)
    spacing = node.GetSpacing()
    diameter, lumen, centre = find_lumen(hu, spacing)
    body = hu > -300
    tissue = hu[body & (hu > -100) & (hu < 150)]
    dk = np.abs(np.diff(hu, axis=0))[body[1:] & body[:-1]].mean()
    dj = np.abs(np.diff(hu, axis=1))[body[:, 1:] & body[:, :-1]].mean()
    ends = None
    if diameter is not None:
        matrix = vtk.vtkMatrix4x4()
        node.GetIJKToRASMatrix(matrix)
        k, j, i = centre
        half = diameter / 2 / ((spacing[0] + spacing[1]) / 2)
        ends = tuple(tuple(matrix.MultiplyPoint((i + s * half, j, k, 1.0))[:3]) for s in (-1, 1))
    return ImageFindings(diameter, float(hu[lumen].mean()) if lumen.any() else None,
                         float(np.median(tissue)) if tissue.size else 40.0, float(dk / max(dj, 1e-6)), ends)


@dataclass
class SimulatedReader:
    """A SIMULATED reader: ``skill`` scales its noise (1 = typical), ``seed`` makes it repeatable."""

    reader_id: str
    seed: int
    skill: float = 1.0

    def __post_init__(self):
        self.rng = np.random.default_rng(self.seed)

    def measured_diameter(self, findings: ImageFindings) -> float | None:
        if findings.diameter_mm is None:
            return None
        return max(1.0, findings.diameter_mm + self.rng.normal(0, 1.5 * self.skill))

    def answers(self, questions: list[dict], findings: ImageFindings, measured_mm: float | None) -> dict:
        """Answers by question id for ``questions`` (by role), given the findings and the ruler's length."""
        rng, skill = self.rng, self.skill
        opacified = findings.lumen_hu is not None
        contrast = (findings.lumen_hu - findings.tissue_hu) if opacified else 0.0
        suspicion = ((measured_mm - ANEURYSM_MM) / 4 if measured_mm else 0.0) + rng.normal(0, 0.5 * skill)
        seams = findings.seam_ratio - 1.15 + rng.normal(0, 0.08 * skill)
        says_synthetic = (not opacified) or seams > 0
        answers = {}
        for question in questions:
            role, qid = question.get("role"), question["id"]
            if role == "diameter" and measured_mm is not None:
                answers[qid] = round(float(measured_mm), 1)
            elif role == "confidence":
                answers[qid] = int(np.clip(np.rint(3 + suspicion), *self._scale(question)))
            elif role == "diagnosis":
                answers[qid] = bool(suspicion > 0)
            elif role == "quality":
                level = 1 + int(contrast > 60) + int(contrast > 120) + int(contrast > 200) + int(contrast > 300)
                answers[qid] = int(np.clip(level + rng.integers(-1, 2) * (rng.random() < 0.2 * skill),
                                           *self._scale(question)))
            elif role == "turing":
                answers[qid] = "synthetic" if says_synthetic else "real"
            elif role == "turing_confidence":
                strength = abs(seams) * 10 if opacified else 2.0
                answers[qid] = int(np.clip(np.rint(2 + strength + rng.normal(0, 0.5)), *self._scale(question)))
        return answers

    @staticmethod
    def _scale(question: dict) -> tuple[int, int]:
        from NetZeroAICT.study.answers import likert_range

        return likert_range(question) if question["type"] == "likert" else (1, 5)
