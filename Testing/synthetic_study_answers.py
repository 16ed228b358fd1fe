"""SYNTHETIC reader-study answers in the tidy export format (NetZeroAICT.study.export.TIDY_COLUMNS), for the analysis tests.

Nothing here was read by a person: ratings come from a seeded binormal model. ``make_answers`` returns one
row per final answer with the export's columns, ``value``/``truth`` as JSON text.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd

COLUMNS = ["study_id", "reader_id", "session_id", "session_kind", "case_id", "modality", "question_id",
           "question_type", "role", "value", "truth", "duration_s", "submitted_at", "training"]

PROTOCOL = {
    "study_id": "SYNTHETIC-aorta-01", "indication": "aorta",
    "questions": [
        {"id": "confidence", "type": "likert", "role": "confidence", "text": "Confidence that an aneurysm is present",
         "anchors": {1: "definitely absent", 5: "definitely present"}},
        {"id": "aneurysm", "type": "bool", "role": "diagnosis", "text": "Aneurysm present?"},
        {"id": "quality", "type": "likert", "role": "quality", "text": "Diagnostic image quality"},
        {"id": "diameter", "type": "measurement", "role": "diameter", "text": "Maximum aortic diameter", "unit": "mm"},
        {"id": "origin", "type": "single_choice", "role": "turing", "text": "Is this image real or synthetic?",
         "choices": ["real", "synthetic"]},
    ],
}


def make_answers(n_readers: int = 4, n_cases: int = 40, seed: int = 0, synthetic_shift: float = 0.0,
                 turing_accuracy: float = 0.55, diameter_bias_mm: float = 0.5,
                 reader_ids: list[str] | None = None, with_training: bool = True) -> pd.DataFrame:
    """A SYNTHETIC tidy answer export: diagnostic session (confidence 1–5, diagnosis, quality 1–5, diameter)
    on real and synthetic images of every case, and a Turing session (real|synthetic calls)."""
    rng = np.random.default_rng(seed)
    readers = reader_ids or [f"dr-{name}" for name in ("ahmed", "brown", "chen", "diaz", "evans", "fischer",
                                                       "garcia", "hansen")][:n_readers]
    cases = [f"case-{k:03d}" for k in range(n_cases)]
    abnormal = np.arange(n_cases) % 5 < 2
    diameter = np.where(abnormal, rng.normal(55, 6, n_cases), rng.normal(28, 3, n_cases))
    case_effect = rng.normal(0, 0.6, n_cases)
    start = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
    rows = []

    def add(reader, session, kind, case, modality, question, qtype, role, value, truth, training=False):
        rows.append({"study_id": PROTOCOL["study_id"], "reader_id": reader, "session_id": session,
                     "session_kind": kind, "case_id": case, "modality": modality, "question_id": question,
                     "question_type": qtype, "role": role, "value": json.dumps(value),
                     "truth": "" if truth is None else json.dumps(truth),
                     "duration_s": round(float(rng.uniform(20, 120)), 1),
                     "submitted_at": (start + timedelta(minutes=len(rows))).isoformat(), "training": training})

    for r, reader in enumerate(readers):
        skill = rng.normal(1.6, 0.2)
        for k, case in enumerate(cases):
            for modality in ("real", "synthetic"):
                shift = synthetic_shift if modality == "synthetic" else 0.0
                latent = (skill + shift) * abnormal[k] + case_effect[k] + rng.normal(0, 0.7)
                confidence = int(np.clip(np.digitize(latent, [-0.2, 0.5, 1.1, 1.7]) + 1, 1, 5))
                add(reader, "S1", "diagnostic", case, modality, "confidence", "likert", "confidence", confidence,
                    bool(abnormal[k]))
                add(reader, "S1", "diagnostic", case, modality, "aneurysm", "bool", "diagnosis", bool(latent > 0.8),
                    bool(abnormal[k]))
                base = 4.2 - (0.4 if modality == "synthetic" else 0.0)
                quality = int(np.clip(np.rint(base + rng.normal(0, 0.8)), 1, 5))
                add(reader, "S1", "diagnostic", case, modality, "quality", "likert", "quality", quality, None)
                bias = diameter_bias_mm if modality == "synthetic" else 0.0
                measured = round(float(diameter[k] + bias + rng.normal(0, 1.5)), 1)
                add(reader, "S1", "diagnostic", case, modality, "diameter", "measurement", "diameter",
                    {"value": measured, "unit": "mm"}, round(float(diameter[k]), 1))
                correct = rng.random() < turing_accuracy
                call = modality if correct else ("real" if modality == "synthetic" else "synthetic")
                add(reader, "S2", "turing", case, modality, "origin", "single_choice", "turing", call, modality)
        if with_training:
            add(reader, "S1", "diagnostic", "training-001", "real", "confidence", "likert", "confidence", 5, True,
                training=True)
    return pd.DataFrame(rows, columns=COLUMNS)
