"""Small reader studies for the ReaderStudy tests: protocol questions of every type, tiny CTA pairs.

The images here are TEST PHANTOMS (a body, a spine and a contrast-filled tube, abnormal cases with an
aneurysm), small enough that a package of a few cases is built in a second. The end-to-end demo study uses the
data foundry and the synthesis engine instead.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "ReaderStudy") not in sys.path:
    sys.path.insert(0, str(REPO / "ReaderStudy"))  # ReaderStudyLib, as Slicer puts it on the path

ALL_TYPES_QUESTIONS = [
    {"id": "diagnosis", "type": "bool", "text": "Is an aortic pathology present?", "required": True,
     "role": "diagnosis"},
    {"id": "confidence", "type": "likert", "text": "Confidence that the case is abnormal", "required": True,
     "anchors": {"1": "definitely normal", "3": "uncertain", "5": "definitely abnormal"}, "role": "confidence"},
    {"id": "finding", "type": "single_choice", "text": "Main finding", "required": False,
     "choices": ["none", "aneurysm", "dissection", "stenosis", "thrombus"]},
    {"id": "segments", "type": "multiple_choice", "text": "Segments involved", "required": False,
     "choices": ["ascending", "arch", "descending", "abdominal"]},
    {"id": "quality", "type": "likert", "text": "Image quality", "required": True, "role": "quality",
     "anchors": {"1": "non-diagnostic", "2": "poor", "3": "adequate", "4": "good", "5": "excellent"}},
    {"id": "stenosis", "type": "number", "text": "Worst stenosis", "required": False, "min": 0, "max": 100,
     "unit": "%", "help": "Diameter reduction relative to the normal segment."},
    {"id": "diameter", "type": "measurement", "text": "Maximum aortic diameter", "required": True, "min": 5,
     "max": 120, "unit": "mm", "role": "diameter",
     "help": "Outer wall to outer wall, perpendicular to the vessel axis."},
    {"id": "comment", "type": "text", "text": "Comments", "required": False},
]
TURING_QUESTIONS = [
    {"id": "turing", "type": "single_choice", "role": "turing", "required": True,
     "text": "Is this angiogram real or synthetic?", "choices": ["real", "synthetic"]},
    {"id": "turing_confidence", "type": "likert", "role": "turing_confidence", "required": True,
     "text": "How sure are you?", "anchors": {"1": "guessing", "3": "fairly sure", "5": "certain"}},
]


def tube_phantom(abnormal: bool, seed: int, shape_kji=(24, 48, 48), spacing_mm=(1.5, 1.5, 2.0),
                 synthetic: bool = False) -> "Volume":
    """A TEST PHANTOM CTA: water body, bone block, a 300 HU tube along k (ø 10 mm, 22 mm where abnormal)."""
    from NetZeroAICT.volume import Volume

    rng = np.random.default_rng(seed * 2 + int(synthetic))
    nk, nj, ni = shape_kji
    k, j, i = np.meshgrid(np.arange(nk), np.arange(nj), np.arange(ni), indexing="ij")
    x, y = (i - ni / 2) * spacing_mm[0], (j - nj / 2) * spacing_mm[1]
    hu = np.full(shape_kji, -1000.0, np.float32)
    hu[(x / 32) ** 2 + (y / 26) ** 2 <= 1] = 40.0
    hu[(np.abs(x) < 8) & (y > 10) & (y < 22)] = 700.0
    radius = np.where(abnormal & (np.abs(k - nk / 2) < nk / 4), 11.0, 5.0)
    hu[(x - 2) ** 2 + (y + 4) ** 2 <= radius ** 2] = 300.0 if not synthetic else 290.0
    hu += rng.normal(0, 12 if not synthetic else 8, shape_kji).astype(np.float32)
    return Volume(hu, spacing_mm, origin_lps=(-36.0, -36.0, 100.0 + seed))


def write_small_study(folder: Path, n_cases: int = 4, readers=("R1", "R2", "R3"), turing: bool = True,
                      answer_policy: str = "lock_on_submit", washout_days: float = 14,
                      hanging: dict | None = None, questions=None) -> Path:
    """Write phantom cases and a valid protocol into ``folder``; returns the protocol path."""
    from NetZeroAICT.study import save_protocol, validate_protocol
    from NetZeroAICT.volume_io import write_volume

    folder.mkdir(parents=True, exist_ok=True)
    cases = []
    for index in range(n_cases):
        case_id, abnormal = f"case-{index + 1:03d}", index % 2 == 1
        case_dir = folder / "cases" / case_id
        case_dir.mkdir(parents=True, exist_ok=True)
        write_volume(tube_phantom(abnormal, index), case_dir / "real_cta.nii.gz")
        write_volume(tube_phantom(abnormal, index, synthetic=True), case_dir / "synthetic_cta.nii.gz",
                     description="SYNTHETIC digital contrast (aorta) test phantom")
        cases.append({"id": case_id, "patient_id": f"PAT{7000 + index}",
                      "real_cta": f"cases/{case_id}/real_cta.nii.gz",
                      "synthetic_cta": f"cases/{case_id}/synthetic_cta.nii.gz",
                      "truth": {"abnormal": abnormal, "diameter": 22.0 if abnormal else 10.0}})
    sessions = [{"id": "s1", "kind": "diagnostic", "washout_days": 0},
                {"id": "s2", "kind": "diagnostic", "washout_days": washout_days}]
    if turing:
        sessions.append({"id": "t", "kind": "turing", "washout_days": 0})
    data = {"study_id": "phantom-study", "indication": "aorta", "seed": 7, "cases": cases,
            "readers": [{"id": r} for r in readers],
            "questions": list(questions or ALL_TYPES_QUESTIONS) + (TURING_QUESTIONS if turing else []),
            "sessions": sessions, "answer_policy": answer_policy,
            "hanging_protocol": hanging or {"layout": "four_up", "linked": True, "mip_slab_mm": 0,
                                            "window_presets": [{"name": "angio", "window": 700, "level": 200},
                                                               {"name": "soft tissue", "window": 400,
                                                                "level": 40}]}}
    problems = validate_protocol(data, base_dir=folder)
    assert not problems, problems
    return save_protocol(data, folder / "protocol.yaml")


def build_small_package(tmp_path: Path, **kwargs):
    """(protocol, design, package folder, key) of a small phantom study built with the study core."""
    from NetZeroAICT.study import build_package, load_protocol, make_design

    protocol = load_protocol(write_small_study(tmp_path / "study", **kwargs))
    design = make_design(protocol)
    key = build_package(protocol, design, tmp_path / "package", tmp_path / "lead" / "key.json")
    return protocol, design, tmp_path / "package", key


class SteppingClock:
    """A clock for the store that moves ``step_s`` seconds per call; ``jump(days)`` for washouts."""

    def __init__(self, step_s: float = 20.0):
        from datetime import datetime, timezone

        self.now = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
        self.step_s = step_s

    def __call__(self):
        from datetime import timedelta

        self.now += timedelta(seconds=self.step_s)
        return self.now

    def jump(self, days: float) -> None:
        from datetime import timedelta

        self.now += timedelta(days=days)


@pytest.fixture
def scene(mrml_scene):
    """The shared headless MRML scene, with the layout and slice logics released before it is cleared
    (clearing a scene that headless layout/slice logics still observe crashes slicer-core)."""
    pytest.importorskip("slicer")
    from NetZeroAICT.mrml.hanging import release_headless_views

    yield mrml_scene
    release_headless_views(mrml_scene)
