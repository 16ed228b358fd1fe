"""``study init``: a protocol from a CSV or a folder of cases, synthesising missing synthetic CTAs.

CSV columns: ``id``, ``real_cta``, ``abnormal`` (true/false/yes/no/1/0) required; ``synthetic_cta``,
``ncct``, ``training``, ``patient_id`` optional; ``truth.<question id>`` columns give further ground truth
(JSON values, e.g. ``truth.diameter`` = 54.5). Paths are relative to the CSV's folder.

Case folders (one sub-folder per case, e.g. a data-foundry dataset): the real CTA is ``real_cta.*`` or
``cta.*``, the synthetic ``synthetic_cta.*``, the NCCT ``ncct.*``; ``case.json`` gives ``abnormal`` and
``max_diameter_mm`` (→ truth of the diameter question).

Cases without a synthetic CTA but with an NCCT get one from the synthesis engine (``synthesize``, by
default :func:`NetZeroAICT.synthesis.synthesize_file`) written to ``synthetic/<case>.nii.gz`` beside the
protocol.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Callable

from ..errors import ValidationError
from ..volume_io import volume_suffix
from .protocol import Protocol, ProtocolError, save_protocol

DEFAULT_QUESTIONS = [
    {"id": "confidence", "type": "likert", "role": "confidence", "required": True,
     "text": "How confident are you that a pathology is present?",
     "anchors": {"1": "definitely absent", "2": "probably absent", "3": "uncertain", "4": "probably present",
                 "5": "definitely present"}},
    {"id": "diagnosis", "type": "bool", "role": "diagnosis", "required": True,
     "text": "Is a vascular pathology present (aneurysm, stenosis, occlusion, dissection, embolus)?"},
    {"id": "quality", "type": "likert", "role": "quality", "required": True, "text": "Overall image quality",
     "anchors": {"1": "non-diagnostic", "2": "poor", "3": "adequate", "4": "good", "5": "excellent"}},
    {"id": "diameter", "type": "measurement", "role": "diameter", "required": False, "unit": "mm", "min": 0,
     "max": 150, "text": "Maximum diameter of the main vessel of interest",
     "help": "Measure outer wall to outer wall, perpendicular to the centre line."},
    {"id": "turing", "type": "single_choice", "role": "turing", "required": True,
     "text": "Is this angiogram real or synthetic?", "choices": ["real", "synthetic"]},
    {"id": "turing_confidence", "type": "likert", "role": "turing_confidence", "required": True,
     "text": "How sure are you?", "anchors": {"1": "guessing", "3": "fairly sure", "5": "certain"}},
]

_TRUE, _FALSE = {"true", "yes", "1", "y", "t"}, {"false", "no", "0", "n", "f"}


def _flag(text: str, where: str) -> bool:
    value = str(text).strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValidationError(f"{text!r} is not true/false", where=where, hint="write true or false")


def cases_from_csv(path: Path) -> list[dict]:
    """Case rows from a CSV; paths made absolute."""
    cases = []
    with open(path, newline="", encoding="utf-8") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            where = f"{path}:{line}"
            for column in ("id", "real_cta", "abnormal"):
                if not (row.get(column) or "").strip():
                    raise ValidationError(f"column {column!r} is empty or missing", where=where,
                                          hint="columns: id, real_cta, abnormal (+ synthetic_cta, ncct, training)")
            case = {"id": row["id"].strip(), "real_cta": str(path.parent / row["real_cta"].strip()),
                    "truth": {"abnormal": _flag(row["abnormal"], f"{where} abnormal")}}
            for column in ("synthetic_cta", "ncct"):
                if (row.get(column) or "").strip():
                    case[column] = str(path.parent / row[column].strip())
            if (row.get("patient_id") or "").strip():
                case["patient_id"] = row["patient_id"].strip()
            if (row.get("training") or "").strip():
                case["training"] = _flag(row["training"], f"{where} training")
            for column, value in row.items():
                if column and column.startswith("truth.") and (value or "").strip():
                    try:
                        case["truth"][column[6:]] = json.loads(value)
                    except ValueError:
                        case["truth"][column[6:]] = value
            cases.append(case)
    return cases


def _find(folder: Path, stems: tuple[str, ...]) -> Path | None:
    for path in sorted(folder.iterdir()):
        suffix = volume_suffix(path)
        if suffix and path.name[: -len(suffix)] in stems:
            return path
    return None


def cases_from_folder(folder: Path) -> list[dict]:
    """Case rows from a folder of case folders."""
    cases = []
    for case_dir in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        real = _find(case_dir, ("real_cta", "cta"))
        if real is None:
            continue
        info_path = case_dir / "case.json"
        info = json.loads(info_path.read_text()) if info_path.is_file() else {}
        if "abnormal" not in info:
            raise ValidationError("no ground truth: case.json with \"abnormal\" is missing", where=str(case_dir),
                                  hint="add case.json {\"abnormal\": true|false}")
        case = {"id": case_dir.name, "real_cta": str(real), "truth": {"abnormal": bool(info["abnormal"])}}
        if info.get("max_diameter_mm") is not None:
            case["truth"]["diameter"] = float(info["max_diameter_mm"])
        for key, stems in (("synthetic_cta", ("synthetic_cta",)), ("ncct", ("ncct",))):
            found = _find(case_dir, stems)
            if found:
                case[key] = str(found)
        cases.append(case)
    if not cases:
        raise ValidationError("no case folders with a real CTA (cta.* or real_cta.*)", where=str(folder),
                              hint="one sub-folder per case, or give a CSV")
    return cases


def _default_synthesize(ncct_path, indication, out_path):
    try:
        from NetZeroAICT.synthesis import synthesize_file  # the engine loads only when a case needs it
    except ImportError as error:
        raise ValidationError(f"the synthesis engine is not available ({error})", where=str(ncct_path),
                              hint="give synthetic_cta for every case, or install the engine") from None
    return synthesize_file(str(ncct_path), indication, str(out_path))


def init_study(cases_source: str | Path, protocol_path: str | Path, *, study_id: str, indication: str,
               readers: list[str], seed: int = 0, washout_days: float = 28, turing: bool = True,
               answer_policy: str = "lock_on_submit",
               synthesize: Callable | None = None, allow_synthesis: bool = True, log=print) -> Protocol:
    """Write a validated protocol for the cases in ``cases_source`` (CSV or folder) to ``protocol_path``.

    ``synthesize(ncct_path, indication, out_path)`` makes missing synthetic CTAs (default: the engine)."""
    source, protocol_path = Path(cases_source), Path(protocol_path)
    if not source.exists():
        raise ValidationError("no such CSV or folder", where=str(source), hint="give a cases CSV or a folder of cases")
    cases = cases_from_folder(source) if source.is_dir() else cases_from_csv(source)
    base = protocol_path.resolve().parent
    base.mkdir(parents=True, exist_ok=True)
    for case in cases:
        if "synthetic_cta" in case:
            continue
        if "ncct" not in case:
            raise ValidationError("no synthetic CTA and no NCCT to make one from", where=f"case {case['id']}",
                                  hint="give synthetic_cta or ncct for every case")
        if not allow_synthesis:
            raise ValidationError("no synthetic CTA", where=f"case {case['id']}",
                                  hint="give synthetic_cta, or allow synthesis from the NCCT")
        out = base / "synthetic" / f"{case['id']}.nii.gz"
        if not out.exists():
            out.parent.mkdir(exist_ok=True)
            log(f"synthesising case {case['id']} from {case['ncct']}")
            (synthesize or _default_synthesize)(case["ncct"], indication, out)
        case["synthetic_cta"] = str(out)
    for case in cases:
        for key in ("real_cta", "synthetic_cta", "ncct"):
            if key in case:
                case[key] = os.path.relpath(Path(case[key]).resolve(), base)
    sessions = [{"id": "diagnostic_1", "kind": "diagnostic", "washout_days": 0},
                {"id": "diagnostic_2", "kind": "diagnostic", "washout_days": washout_days}]
    if turing:
        sessions.append({"id": "turing", "kind": "turing", "washout_days": 0})
    questions = [q for q in DEFAULT_QUESTIONS if turing or q["role"] not in ("turing", "turing_confidence")]
    data = {"study_id": study_id, "indication": indication, "seed": seed, "cases": cases,
            "readers": [{"id": r} for r in readers], "questions": questions, "sessions": sessions,
            "answer_policy": answer_policy}
    protocol = Protocol.from_dict(data, base_dir=base, source=str(protocol_path), check_files=True)
    save_protocol(protocol, protocol_path)
    return protocol


__all__ = ["DEFAULT_QUESTIONS", "ProtocolError", "cases_from_csv", "cases_from_folder", "init_study"]
