"""Shared pieces of the reader-study analysis: its error type, finite-number guards and the statistics table.

Every number the analysis reports passes through :class:`StatisticsTable`, which records it with the method
that produced it and refuses NaN/inf: a quantity that cannot be estimated is stored as ``None`` together with
the reason, so no report ever shows ``nan`` as a result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import NetZeroAICTError


class AnalysisError(NetZeroAICTError):
    """The data cannot support the analysis asked for (too few readers, one truth class, no variability …)."""


def finite(value: Any) -> float | None:
    """``float(value)`` if it is a finite number, else ``None``."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def to_jsonable(obj: Any) -> Any:
    """Recursively turn numpy scalars/arrays into plain Python; NaN/inf become ``None``."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return finite(obj)
    return obj


@dataclass
class StatisticsTable:
    """Flat list of every reported statistic, one row each, with the method that produced it.

    Row keys: ``section, quantity, value, lower, upper, p, df, n, modality, reader, method, note``.
    A value that is not estimable is ``None`` and its ``note`` says why.
    """

    rows: list[dict] = field(default_factory=list)

    def add(self, section: str, quantity: str, value: Any, method: str, *, lower: Any = None, upper: Any = None,
            p: Any = None, df: Any = None, n: Any = None, modality: str | None = None, reader: str | None = None,
            note: str | None = None) -> None:
        row = {"section": section, "quantity": quantity, "value": finite(value), "lower": finite(lower),
               "upper": finite(upper), "p": finite(p), "df": finite(df), "n": None if n is None else int(n),
               "modality": modality, "reader": reader, "method": method, "note": note}
        if row["value"] is None and value is not None and not note:
            row["note"] = "not estimable from these data"
        self.rows.append(row)

    def not_estimable(self, section: str, quantity: str, reason: str, method: str = "") -> None:
        self.rows.append({"section": section, "quantity": quantity, "value": None, "lower": None, "upper": None,
                          "p": None, "df": None, "n": None, "modality": None, "reader": None, "method": method,
                          "note": reason})
