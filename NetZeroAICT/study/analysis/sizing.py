"""Study sizing for OR-MRMC non-inferiority (Hillis, Obuchowski & Berbaum 2011 style power).

From a pilot :class:`~.obuchowski_rockette.ORResult` (T = 2 modalities) take the OR variance components:
the modality × reader variance σ²_TR = max(MS(T×R) − Var + Cov1 + Cov2 − Cov3, 0) and the error
(co)variances Var, Cov1–3, which shrink as 1/(number of cases). For R readers and n cases:

    E[MS(T×R)] = σ²_TR + (Var − Cov1 − Cov2 + Cov3)·n₀/n,  D = E[MS(T×R)] + R·max(Cov2 − Cov3, 0)·n₀/n
    SE = √(2D/R),  ddf = D² / (E[MS(T×R)]² / (R − 1))

and the one-sided non-inferiority test of ``test − reference`` > −margin at level alpha has power
P(t'(ddf, (Δ + margin)/SE) > t_{1−alpha}(ddf)) for a true difference Δ (noncentral t).
The pilot's case mix (abnormal : normal) is assumed for the new study.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from .common import AnalysisError


def noninferiority_power(pilot, n_readers: int, n_cases: int, margin: float = 0.05,
                         true_difference: float = 0.0, alpha: float = 0.025) -> float:
    """Power of the RRRC non-inferiority test with ``n_readers`` readers and ``n_cases`` cases."""
    se, ddf = _se_ddf(pilot, n_readers, n_cases)
    if se == 0:
        return 1.0 if true_difference + margin > 0 else 0.0
    critical = stats.t.ppf(1 - alpha, ddf) if np.isfinite(ddf) else stats.norm.ppf(1 - alpha)
    ncp = (true_difference + margin) / se
    return float(stats.nct.sf(critical, ddf, ncp) if np.isfinite(ddf) else stats.norm.sf(critical - ncp))


def _se_ddf(pilot, n_readers: int, n_cases: float) -> tuple[float, float]:
    c = pilot.components
    scale = pilot.n_cases / n_cases
    sigma2_tr = max(c.ms_tr - c.var_error + c.cov1 + c.cov2 - c.cov3, 0.0)
    expected_ms_tr = sigma2_tr + max(c.var_error - c.cov1 - c.cov2 + c.cov3, 0.0) * scale
    denominator = expected_ms_tr + n_readers * max(c.cov2 - c.cov3, 0.0) * scale
    ddf = denominator ** 2 / (expected_ms_tr ** 2 / (n_readers - 1)) if expected_ms_tr > 0 else np.inf
    return float(np.sqrt(2 * denominator / n_readers)), float(ddf)


def cases_for_power(pilot, n_readers: int, margin: float = 0.05, power: float = 0.8,
                    true_difference: float = 0.0, alpha: float = 0.025, max_cases: int = 100_000) -> dict:
    """Smallest number of cases giving ``power`` for the RRRC non-inferiority test with ``n_readers``.

    Returns ``{"n_readers", "n_cases" (None when unreachable), "power", "reason"}``.
    """
    if len(pilot.modalities) != 2:
        raise AnalysisError("study sizing needs a pilot with exactly 2 modalities", where="pilot")
    if n_readers < 2:
        raise AnalysisError("study sizing for random readers needs at least 2 readers", where="n_readers")
    c = pilot.components
    if not (c.var_error > 1e-15 or c.ms_tr > 1e-15):
        raise AnalysisError("the pilot data show no variability, so they cannot predict a study's variance",
                            where="pilot", hint="size the study from a pilot with varied ratings")
    if true_difference <= -margin:
        return {"n_readers": n_readers, "n_cases": None, "power": None,
                "reason": "the assumed true difference is at or beyond the margin: no study shows non-inferiority"}
    if noninferiority_power(pilot, n_readers, max_cases, margin, true_difference, alpha) < power:
        return {"n_readers": n_readers, "n_cases": None, "power": None,
                "reason": f"not reachable with {n_readers} readers even with {max_cases} cases: reader "
                          "variability dominates, add readers"}
    low, high = 4, 4
    while noninferiority_power(pilot, n_readers, high, margin, true_difference, alpha) < power:
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        if noninferiority_power(pilot, n_readers, middle, margin, true_difference, alpha) >= power:
            high = middle
        else:
            low = middle
    return {"n_readers": n_readers, "n_cases": int(high), "reason": None,
            "power": noninferiority_power(pilot, n_readers, high, margin, true_difference, alpha)}


def sizing_table(pilot, reader_counts=(3, 5, 8, 10, 15, 20), margin: float = 0.05, power: float = 0.8,
                 true_difference: float = 0.0, alpha: float = 0.025) -> list[dict]:
    """:func:`cases_for_power` for several numbers of readers (and the pilot's own)."""
    counts = sorted(set(reader_counts) | {len(pilot.readers)} - {0, 1})
    return [cases_for_power(pilot, r, margin, power, true_difference, alpha) for r in counts]
