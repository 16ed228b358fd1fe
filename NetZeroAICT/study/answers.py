"""Answer values: what each question type accepts, checked before anything reaches the store.

Values are JSON values: bool (``bool``), a choice string (``single_choice``), a list of distinct choice
strings (``multiple_choice``), an integer on the anchors' scale (``likert``), a finite number within
min/max (``number``), a finite non-negative diameter in mm within min/max (``measurement``), a string of at
most 10,000 characters (``text``).
"""

from __future__ import annotations

import math

from ..errors import ValidationError

MAX_TEXT = 10_000


def likert_range(question: dict) -> tuple[int, int]:
    """(lowest, highest) point of a Likert scale: min/max when given, else the anchors' extremes."""
    points = [int(k) for k in question.get("anchors", {})] or [1, 5]
    return int(question.get("min", min(points))), int(question.get("max", max(points)))


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _range_problem(question: dict, value: float) -> str | None:
    low, high = question.get("min"), question.get("max")
    if (low is not None and value < low) or (high is not None and value > high):
        unit = f" {question['unit']}" if question.get("unit") else ""
        return f"{value!r} is out of range — allowed: {low if low is not None else '-∞'} to " \
               f"{high if high is not None else '∞'}{unit}"
    return None


def answer_problem(question: dict, value) -> str | None:
    """What is wrong with ``value`` as an answer to ``question``, or None when it is acceptable."""
    kind = question["type"]
    if kind == "bool":
        return None if isinstance(value, bool) else f"{value!r} is not true/false — allowed: true, false"
    if kind == "single_choice":
        if isinstance(value, str) and value in question["choices"]:
            return None
        return f"{value!r} is not one of the choices — allowed: {', '.join(question['choices'])}"
    if kind == "multiple_choice":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return f"{value!r} is not a list of choices — allowed: a list drawn from {', '.join(question['choices'])}"
        unknown = [v for v in value if v not in question["choices"]]
        if unknown:
            return f"{unknown[0]!r} is not one of the choices — allowed: {', '.join(question['choices'])}"
        if len(set(value)) != len(value):
            return "a choice is given twice — give each choice at most once"
        return None
    if kind == "likert":
        low, high = likert_range(question)
        if _is_number(value) and float(value).is_integer() and low <= value <= high:
            return None
        return f"{value!r} is not a point of the scale — allowed: integers {low} to {high}"
    if kind in ("number", "measurement"):
        if not _is_number(value) or not math.isfinite(value):
            return f"{value!r} is not a finite number"
        if kind == "measurement" and value < 0:
            return f"{value!r} mm is negative — a diameter is ≥ 0 mm"
        return _range_problem(question, value)
    if kind == "text":
        if not isinstance(value, str):
            return f"{value!r} is not text"
        if len(value) > MAX_TEXT:
            return f"text of {len(value)} characters — allowed: at most {MAX_TEXT}"
        if "\x00" in value:
            return "text contains a NUL character"
        return None
    return f"unknown question type {kind!r}"


def check_answer(question: dict, value):
    """Return ``value`` in canonical form (likert → int, number → float) or raise :class:`ValidationError`."""
    problem = answer_problem(question, value)
    if problem:
        raise ValidationError(problem, where=f"question {question['id']!r}",
                              hint=question.get("help") or "give an answer this question accepts")
    if question["type"] == "likert":
        return int(value)
    if question["type"] in ("number", "measurement"):
        return float(value)
    return value
