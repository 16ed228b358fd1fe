"""What an answer to a protocol question may be: the checks the scoring form shows as messages.

Plain Python (no Qt), so the rules are the same in the form, in tests and in batch use. A question is the
protocol's dict: ``{id, type, text, help?, required, choices?, anchors?, min?, max?, unit?, role?}`` with
``type`` one of :data:`QUESTION_TYPES`. Values are what the store keeps: ``bool`` for bool, the choice value
(str) for single choice, a list of choice values for multiple choice, an int for Likert, a float for number and
measurement (millimetres), a str for text; ``None`` means unanswered.
"""

from __future__ import annotations

import math
from typing import Any

QUESTION_TYPES = ("bool", "single_choice", "multiple_choice", "likert", "number", "text", "measurement")


def choice_items(question: dict) -> list[tuple[str, str]]:
    """(value, label) pairs of a choice question (the protocol's choices are their own labels)."""
    return [(str(choice), str(choice)) for choice in question.get("choices") or []]


def likert_points(question: dict) -> list[tuple[int, str]]:
    """(value, anchor label or "") for every point of a Likert scale, lowest first.

    The scale runs from ``min`` to ``max`` when given, else over the anchors' keys (default 1–5).
    """
    anchors = {int(k): str(v) for k, v in (question.get("anchors") or {}).items()}
    low = int(question["min"]) if question.get("min") is not None else min(anchors, default=1)
    high = int(question["max"]) if question.get("max") is not None else max(anchors, default=5)
    if high <= low:
        high = low + 4
    return [(value, anchors.get(value, "")) for value in range(low, high + 1)]


def range_text(question: dict) -> str:
    """The allowed range and unit as a person reads it, e.g. ``"0–100 mm"`` or ``"≥ 0 mm"``; "" if none."""
    low, high = question.get("min"), question.get("max")
    unit = question.get("unit") or ("mm" if question.get("type") == "measurement" else "")
    if low is not None and high is not None:
        text = f"{_number(low)}–{_number(high)}"
    elif low is not None:
        text = f"≥ {_number(low)}"
    elif high is not None:
        text = f"≤ {_number(high)}"
    else:
        return unit
    return f"{text} {unit}".strip()


def parse_number(text: str) -> float | None:
    """A number typed by a person (decimal comma accepted); None when empty; ValueError when not a number."""
    text = (text or "").strip().replace(",", ".")
    if not text:
        return None
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def is_unanswered(value: Any) -> bool:
    """True for None, "" (after stripping) and an empty list."""
    return value is None or (isinstance(value, str) and not value.strip()) or (isinstance(value, list) and not value)


def check_answer(question: dict, value: Any) -> str | None:
    """The message to show for ``value`` as the answer to ``question``, or None when it is acceptable.

    A missing required answer is reported here; everything else by the study's own answer rules
    (:func:`NetZeroAICT.study.answers.answer_problem`), so the form accepts exactly what the store accepts.
    """
    if is_unanswered(value):
        return "An answer is required." if question.get("required", False) else None
    from ..study.answers import answer_problem

    problem = answer_problem(question, value)
    return problem[0].upper() + problem[1:] if problem else None


def check_answers(questions: list[dict], answers: dict[str, Any]) -> dict[str, str]:
    """Messages by question id for every answer that is missing or not acceptable (empty dict: all fine)."""
    messages = {}
    for question in questions:
        message = check_answer(question, answers.get(question["id"]))
        if message:
            messages[question["id"]] = message
    return messages


def _number(value) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)
