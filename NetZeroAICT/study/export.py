"""The tidy answer export the analysis reads: one row per final answer, unblinded with the lead's key.

Columns (:data:`TIDY_COLUMNS`): ``study_id, reader_id, session_id, session_kind, case_id,
modality (real|synthetic), question_id, question_type, role, value (JSON text), truth (JSON text or empty),
duration_s (reading time of the case, s), submitted_at (ISO 8601 UTC), training (bool)``. Only answers of
submitted readings are final, so only those are exported.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ValidationError
from .package import PackageKey
from .protocol import Protocol

TIDY_COLUMNS = ["study_id", "reader_id", "session_id", "session_kind", "case_id", "modality", "question_id",
                "question_type", "role", "value", "truth", "duration_s", "submitted_at", "training"]


def tidy_answers(store, protocol: Protocol, key: PackageKey):
    """The final answers of ``protocol``'s study in ``store`` as a pandas DataFrame with :data:`TIDY_COLUMNS`."""
    import pandas as pd

    if key.study_id != protocol.study_id:
        raise ValidationError(f"the key is for study {key.study_id!r}, the protocol for {protocol.study_id!r}",
                              where="key", hint="give the key written with this protocol's package")
    questions = {q["id"]: q for q in protocol.questions}
    sessions = {s["id"]: s for s in protocol.sessions}
    rows = []
    for answer in store.answers(protocol.study_id):
        if answer["submitted_at"] is None:
            continue
        item = key.items.get(answer["item_code"])
        if item is None:
            raise ValidationError(f"item {answer['item_code']!r} is not in the key", where="key",
                                  hint="give the key of the package these answers were made with")
        question = questions.get(answer["question_id"])
        if question is None:
            raise ValidationError(f"question {answer['question_id']!r} is not in the protocol", where="protocol",
                                  hint="give the protocol the store was made with")
        truth = protocol.truth_for(item["case_id"], question, item["modality"])
        rows.append({
            "study_id": answer["study_id"], "reader_id": answer["reader_id"], "session_id": answer["session_id"],
            "session_kind": sessions[answer["session_id"]]["kind"], "case_id": item["case_id"],
            "modality": item["modality"], "question_id": question["id"], "question_type": question["type"],
            "role": question.get("role", ""), "value": json.dumps(answer["value"]),
            "truth": "" if truth is None else json.dumps(truth), "duration_s": float(answer["duration_s"]),
            "submitted_at": answer["submitted_at"], "training": bool(item["training"]),
        })
    return pd.DataFrame(rows, columns=TIDY_COLUMNS)


def export_answers(store, protocol: Protocol, key: PackageKey, out_path: str | Path) -> Path:
    """Write :func:`tidy_answers` to ``out_path`` (.csv, or .parquet where pyarrow is installed)."""
    out_path = Path(out_path)
    frame = tidy_answers(store, protocol, key)
    if out_path.suffix == ".parquet":
        try:
            frame.to_parquet(out_path, index=False)
        except ImportError:
            raise ValidationError("writing parquet needs pyarrow, which is not installed", where=str(out_path),
                                  hint="export to .csv, or `pip install pyarrow`") from None
    elif out_path.suffix == ".csv":
        frame.to_csv(out_path, index=False)
    else:
        raise ValidationError("unknown export format", where=str(out_path), hint="use a .csv or .parquet file name")
    return out_path
