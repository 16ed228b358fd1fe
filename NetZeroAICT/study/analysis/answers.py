"""The study's tidy answer export → a prepared table the analyses read.

Export columns (one row per final answer): ``study_id, reader_id, session_id, session_kind, case_id,
modality (real|synthetic), question_id, question_type, role, value (JSON text), truth (JSON text or empty),
duration_s, submitted_at (ISO 8601), training (bool)``.

Preparation: parses ``value`` and ``truth`` from JSON, drops training cases, and replaces reader ids by
pseudonyms ("Reader 1", … in sorted id order) so no result or report shows who read.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from .common import AnalysisError

EXPORT_COLUMNS = ("study_id", "reader_id", "session_id", "session_kind", "case_id", "modality", "question_id",
                  "question_type", "role", "value", "truth", "duration_s", "submitted_at", "training")
_MEASUREMENT_KEYS = ("value", "diameter_mm", "length_mm", "mm", "measurement_mm")


def read_answers(path: str | Path) -> pd.DataFrame:
    """Read a tidy answer export (.csv, or .parquet with pyarrow) as text columns; refuse a file without the
    export's columns."""
    path = Path(path)
    if not path.exists():
        raise AnalysisError("file not found", where=str(path), hint="give the tidy answer export (CSV)")
    try:
        if path.suffix.lower() == ".parquet":
            table = pd.read_parquet(path).astype(str)
        else:
            table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except ImportError as error:
        raise AnalysisError("reading parquet needs pyarrow, which is not installed", where=str(path),
                            hint="export the answers as .csv") from error
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise AnalysisError(f"cannot read the answer export ({error})", where=str(path)) from error
    check_columns(table, str(path))
    return table


def check_columns(table: pd.DataFrame, where: str = "answers") -> None:
    needed = ("reader_id", "session_kind", "case_id", "modality", "question_id", "role", "value")
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise AnalysisError(f"missing column(s) {', '.join(missing)}", where=where,
                            hint="use the study's tidy answer export (python -m NetZeroAICT study export)")


def parse_json(text):
    """JSON text → Python value; empty → None; text that is not JSON is kept as the string."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return None
    if not isinstance(text, str):
        return text
    if text.strip() == "":
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def as_number(value) -> float:
    """A numeric answer (number, numeric text, bool, or a measurement object) → float, else NaN."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return math.nan
    if isinstance(value, dict):
        for key in _MEASUREMENT_KEYS:
            if key in value:
                return as_number(value[key])
    return math.nan


def as_abnormal(truth) -> bool | None:
    """Ground truth "case is abnormal" from a truth cell (bool, 0/1, text, or {"abnormal": …}); None if absent."""
    if isinstance(truth, dict):
        truth = truth.get("abnormal")
    if isinstance(truth, bool):
        return truth
    if isinstance(truth, (int, float)) and not (isinstance(truth, float) and math.isnan(truth)):
        return bool(truth)
    if isinstance(truth, str):
        text = truth.strip().lower()
        if text in ("true", "1", "yes", "abnormal"):
            return True
        if text in ("false", "0", "no", "normal"):
            return False
    return None


def _as_bool(text) -> bool:
    return str(text).strip().lower() in ("true", "1", "yes", "t")


def pseudonyms(reader_ids) -> dict[str, str]:
    """Reader id → "Reader N" (sorted id order, zero-padded so the names sort)."""
    ids = sorted({str(r) for r in reader_ids})
    width = len(str(len(ids)))
    return {reader: f"Reader {i + 1:0{width}d}" for i, reader in enumerate(ids)}


def prepare_answers(tidy: pd.DataFrame, protocol: dict | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Parsed, pseudonymised answers without training cases, and notes on what was left out.

    Adds columns ``reader`` (pseudonym), ``case``, ``answer`` (parsed value), ``number`` (numeric value or
    NaN), ``abnormal`` (ground truth from the truth cell, else from the protocol's case truth).
    """
    check_columns(tidy)
    table = tidy.copy()
    notes = []
    if "training" in table.columns:
        training = table["training"].map(_as_bool)
        if training.any():
            notes.append(f"{int(training.sum())} answer(s) on training cases were left out.")
        table = table[~training]
    if table.empty:
        raise AnalysisError("no answers to analyse (after leaving out training cases)", where="answers")
    names = pseudonyms(table["reader_id"])
    table["reader"] = table["reader_id"].astype(str).map(names)
    table = table.drop(columns=[c for c in ("reader_id", "reader_name") if c in table.columns])
    table["case"] = table["case_id"].astype(str)
    table["modality"] = table["modality"].astype(str).str.strip().str.lower()
    table["role"] = table["role"].fillna("").astype(str).str.strip().str.lower()
    table["session_kind"] = table["session_kind"].fillna("").astype(str).str.strip().str.lower()
    table["answer"] = table["value"].map(parse_json)
    table["number"] = table["answer"].map(as_number)
    truth = table["truth"].map(parse_json) if "truth" in table.columns else pd.Series(None, index=table.index)
    abnormal = truth.map(as_abnormal)
    case_truth = _protocol_truth(protocol)
    if case_truth:
        fallback = table["case"].map(case_truth)
        abnormal = abnormal.where(abnormal.notna(), fallback)
    table["abnormal"] = abnormal
    table["truth_value"] = truth
    return table.reset_index(drop=True), notes


def _protocol_truth(protocol: dict | None) -> dict[str, bool]:
    out = {}
    for case in (protocol or {}).get("cases", []) or []:
        value = as_abnormal((case.get("truth") or {}).get("abnormal"))
        if value is not None and "id" in case:
            out[str(case["id"])] = value
    return out


def question_label(protocol: dict | None, question_id: str) -> str:
    """The question's text from the protocol, else its id."""
    for question in (protocol or {}).get("questions", []) or []:
        if str(question.get("id")) == str(question_id):
            return str(question.get("text") or question_id)
    return str(question_id)


def question_spec(protocol: dict | None, question_id: str) -> dict:
    for question in (protocol or {}).get("questions", []) or []:
        if str(question.get("id")) == str(question_id):
            return question
    return {}


def case_matrix(rows: pd.DataFrame, column: str = "number") -> pd.DataFrame:
    """(reader × case) table of one modality's answers (NaN where missing)."""
    return rows.pivot_table(index="reader", columns="case", values=column, aggfunc="first")


def to_float_matrix(frame: pd.DataFrame) -> np.ndarray:
    return frame.to_numpy(dtype=float)
