"""A reader-study protocol: load, validate, and ask it questions.

A protocol (YAML or JSON) names the study, its indication, the cases (real CTA, synthetic CTA, optional NCCT,
ground truth), the readers, the questions, the sessions with their washout, the hanging protocol and the
answer policy (fields and schema: :mod:`.schema`). :func:`load_protocol` checks it completely
and raises :class:`ProtocolError` listing every problem as ``file: field.path: what — what is allowed``.
"""

from __future__ import annotations

import copy
import functools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ValidationError
from ..indications import INDICATIONS
from .schema import PROTOCOL_SCHEMA

DEFAULT_HANGING_PROTOCOL = {"layout": "side_by_side", "linked": True, "mip_slab_mm": 0.0, "show_3d": False}
TURING_ROLES = ("turing", "turing_confidence")


class ProtocolError(ValidationError):
    """A protocol does not follow the schema or its rules; ``problems`` lists every one found."""

    def __init__(self, problems: list[str], source: str):
        self.problems = problems
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        super().__init__(problems[0] + more, where=source,
                         hint="fix the protocol; `python -m NetZeroAICT study validate FILE` lists every problem")


def field_path(parts) -> str:
    """``['cases', 2, 'truth']`` → ``cases[2].truth``."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


@functools.lru_cache(maxsize=1)
def _validator():
    import jsonschema

    return jsonschema.Draft202012Validator(PROTOCOL_SCHEMA)


def _schema_problems(data) -> list[str]:
    validator = _validator()
    problems = []
    for error in sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        allowed = ""
        if error.validator == "enum":
            allowed = f" — allowed: {', '.join(map(str, error.validator_value))}"
        elif error.validator == "pattern":
            allowed = " — allowed: letters, digits, '_', '.', '-' (start with a letter or digit, at most 64)"
        message = error.message if len(error.message) < 300 else error.message[:300] + "…"
        problems.append(f"{field_path(error.absolute_path)}: {message}{allowed}")
    return problems


def _duplicates(items, what: str, where: str) -> list[str]:
    seen, problems = set(), []
    for index, item in enumerate(items):
        if item["id"] in seen:
            problems.append(f"{where}[{index}].id: duplicate {what} id {item['id']!r} — ids must be unique")
        seen.add(item["id"])
    return problems


def _question_problems(index: int, q: dict) -> list[str]:
    where, kind, problems = f"questions[{index}]", q["type"], []
    if kind in ("single_choice", "multiple_choice"):
        choices = q.get("choices")
        if not choices:
            problems.append(f"{where}.choices: a {kind} question needs at least two choices")
        elif len(set(choices)) != len(choices):
            problems.append(f"{where}.choices: choices must be unique")
    elif "choices" in q:
        problems.append(f"{where}.choices: only choice questions have choices (type is {kind})")
    if kind == "likert":
        if not q.get("anchors"):
            problems.append(f"{where}.anchors: a likert question needs labelled anchors, e.g. {{1: poor, 5: excellent}}")
    elif "anchors" in q:
        problems.append(f"{where}.anchors: only likert questions have anchors (type is {kind})")
    if ("min" in q or "max" in q) and kind not in ("number", "measurement", "likert"):
        problems.append(f"{where}: min/max apply to number, measurement and likert questions only")
    for bound in ("min", "max"):
        if bound in q and not math.isfinite(q[bound]):
            problems.append(f"{where}.{bound}: must be a finite number")
    if "min" in q and "max" in q and q["min"] >= q["max"]:
        problems.append(f"{where}: min ({q['min']}) must be below max ({q['max']})")
    if kind == "measurement" and q.get("unit", "mm") != "mm":
        problems.append(f"{where}.unit: measurements are in mm — allowed: mm")
    role = q.get("role")
    needs = {"confidence": ("likert", "number"), "diagnosis": ("bool",), "quality": ("likert",),
             "diameter": ("measurement",), "turing": ("single_choice",), "turing_confidence": ("likert", "number")}
    if role and kind not in needs[role]:
        problems.append(f"{where}.type: role {role!r} needs a question of type {' or '.join(needs[role])}")
    if role == "turing" and sorted(q.get("choices") or []) != ["real", "synthetic"]:
        problems.append(f"{where}.choices: the turing question's choices must be exactly [real, synthetic]")
    return problems


def _truth_problems(protocol: dict) -> list[str]:
    from .answers import answer_problem

    questions = {q["id"]: q for q in protocol["questions"]}
    problems = []
    for index, case in enumerate(protocol["cases"]):
        for key, value in case["truth"].items():
            if key == "abnormal":
                continue
            if key not in questions:
                problems.append(f"cases[{index}].truth.{key}: no question has this id — allowed: abnormal, "
                                f"{', '.join(questions)}")
                continue
            problem = answer_problem(questions[key], value)
            if problem:
                problems.append(f"cases[{index}].truth.{key}: {problem}")
    return problems


def _session_problems(protocol: dict) -> list[str]:
    kinds = [s["kind"] for s in protocol["sessions"]]
    roles = {q.get("role") for q in protocol["questions"]}
    problems = []
    if kinds.count("diagnostic") not in (0, 2):
        problems.append(f"sessions: {kinds.count('diagnostic')} diagnostic session(s) — the crossover design needs "
                        "exactly 2 (each case read real in one and synthetic in the other), or none")
    if kinds.count("turing") > 1:
        problems.append("sessions: at most one turing session")
    if "turing" in kinds and "turing" not in roles:
        problems.append("questions: a turing session needs a question with role 'turing' (single_choice real|synthetic)")
    if "diagnostic" in kinds and not any(q.get("role") not in TURING_ROLES for q in protocol["questions"]):
        problems.append("questions: diagnostic sessions need at least one question without a turing role")
    if len([c for c in protocol["cases"] if not c.get("training")]) < 2:
        problems.append("cases: at least two cases that are not training cases are needed")
    for role in ("confidence", "diagnosis", "turing"):
        if sum(q.get("role") == role for q in protocol["questions"]) > 1:
            problems.append(f"questions: at most one question with role {role!r}")
    return problems


def _file_problems(protocol: dict, base: Path) -> list[str]:
    problems = []
    for index, case in enumerate(protocol["cases"]):
        for key in ("real_cta", "synthetic_cta", "ncct"):
            if key in case and not (base / case[key]).exists():
                problems.append(f"cases[{index}].{key}: file not found: {base / case[key]}")
    return problems


def validate_protocol(data, *, source: str = "protocol", base_dir: str | Path | None = None) -> list[str]:
    """Every problem with protocol ``data`` (a parsed dict), each as ``field.path: what``; [] when valid.

    ``base_dir``: when given, case file paths are resolved against it and must exist.
    """
    if not isinstance(data, dict):
        return [f"(top level): the protocol must be a mapping of fields (study_id, indication, cases, readers, "
                f"questions, sessions, …), not {type(data).__name__}"]
    problems = _schema_problems(data)
    if problems:
        return problems
    if data["indication"] not in INDICATIONS:
        problems.append(f"indication: unknown indication {data['indication']!r} — allowed: {', '.join(INDICATIONS)}")
    problems += _duplicates(data["cases"], "case", "cases")
    problems += _duplicates(data["readers"], "reader", "readers")
    problems += _duplicates(data["questions"], "question", "questions")
    problems += _duplicates(data["sessions"], "session", "sessions")
    for index, question in enumerate(data["questions"]):
        problems += _question_problems(index, question)
    if problems:
        return problems
    problems += _session_problems(data)
    problems += _truth_problems(data)
    if base_dir is not None:
        problems += _file_problems(data, Path(base_dir))
    return problems


def parse_protocol_text(text: str, source: str):
    """Parse YAML or JSON text (JSON is YAML); a syntax error names the file, line and column."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise ProtocolError([f"not valid YAML/JSON: {getattr(error, 'problem', None) or error}"], where) from None


@dataclass
class Protocol:
    """A validated protocol. ``data`` is the document as written; ``base_dir`` resolves its relative paths."""

    data: dict
    base_dir: Path = field(default_factory=Path.cwd)
    source: str = "protocol"

    @classmethod
    def from_dict(cls, data, *, base_dir=None, source: str = "protocol", check_files: bool = False) -> "Protocol":
        """Validate ``data`` and wrap it; raises :class:`ProtocolError` listing every problem."""
        base = Path(base_dir) if base_dir is not None else Path.cwd()
        problems = validate_protocol(data, source=source, base_dir=base if check_files else None)
        if problems:
            raise ProtocolError(problems, source)
        return cls(copy.deepcopy(data), base, source)

    @property
    def study_id(self) -> str:
        return self.data["study_id"]

    @property
    def indication(self) -> str:
        return self.data["indication"]

    @property
    def cases(self) -> list[dict]:
        return self.data["cases"]

    @property
    def readers(self) -> list[dict]:
        return self.data["readers"]

    @property
    def questions(self) -> list[dict]:
        return self.data["questions"]

    @property
    def sessions(self) -> list[dict]:
        return self.data["sessions"]

    @property
    def answer_policy(self) -> str:
        return self.data.get("answer_policy", "lock_on_submit")

    @property
    def hanging_protocol(self) -> dict:
        defaults = dict(DEFAULT_HANGING_PROTOCOL)
        width, level = INDICATIONS[self.indication].window_hu
        defaults["window_presets"] = [{"name": "angio", "window": width, "level": level}]
        return {**defaults, **self.data.get("hanging_protocol", {})}

    def case(self, case_id: str) -> dict:
        return next(c for c in self.cases if c["id"] == case_id)

    def session(self, session_id: str) -> dict:
        return next(s for s in self.sessions if s["id"] == session_id)

    def questions_for(self, kind: str) -> list[dict]:
        """The questions asked in a session of ``kind``: turing roles in turing sessions, the rest otherwise."""
        turing = kind == "turing"
        return [q for q in self.questions if (q.get("role") in TURING_ROLES) == turing]

    def image_path(self, case_id: str, modality: str) -> Path:
        """Absolute path of the case's ``real`` or ``synthetic`` CTA."""
        case = self.case(case_id)
        return self.base_dir / case["real_cta" if modality == "real" else "synthetic_cta"]

    def truth_for(self, case_id: str, question: dict, modality: str):
        """Ground truth of ``question`` for the case (None when unknown): ``abnormal`` for confidence and
        diagnosis, the modality for the turing question, else the case's ``truth[question id]``."""
        case = self.case(case_id)
        role = question.get("role")
        if role in ("confidence", "diagnosis"):
            return case["truth"]["abnormal"]
        if role == "turing":
            return modality
        return case["truth"].get(question["id"])

    def reader_side(self) -> dict:
        """What readers may see: study id, indication, readers' ids, questions, sessions, hanging protocol and
        answer policy — no cases, no truth, no file paths."""
        return {
            "study_id": self.study_id, "indication": self.indication,
            "readers": [{"id": r["id"]} for r in self.readers],
            "questions": copy.deepcopy(self.questions),
            "sessions": [{"id": s["id"], "kind": s["kind"], "washout_days": s.get("washout_days", 0)}
                         for s in self.sessions],
            "hanging_protocol": self.hanging_protocol, "answer_policy": self.answer_policy,
        }


def load_protocol(path: str | Path, *, check_files: bool = True) -> Protocol:
    """Read and validate a protocol file (.yaml/.yml/.json); paths in it are relative to its folder."""
    path = Path(path)
    if not path.is_file():
        raise ValidationError("no such protocol file", where=str(path), hint="check the path")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ProtocolError(["not UTF-8 text"], str(path)) from None
    data = parse_protocol_text(text, str(path))
    return Protocol.from_dict(data, base_dir=path.parent, source=str(path), check_files=check_files)


def save_protocol(protocol: Protocol | dict, path: str | Path) -> Path:
    """Write a protocol as YAML (or JSON for a .json path)."""
    import yaml

    data = protocol.data if isinstance(protocol, Protocol) else protocol
    path = Path(path)
    text = json.dumps(data, indent=2) if path.suffix == ".json" else yaml.safe_dump(data, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path
