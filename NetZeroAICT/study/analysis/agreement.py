"""Agreement statistics, wrapping statsmodels, pingouin and krippendorff.

Inputs are tables of one rating per rater × item: ``matrix`` (n_raters, n_items) float with NaN where a
rater did not rate an item. Each function returns a dict with ``value`` (and CI where the method gives one)
or raises :class:`AnalysisError` with the reason the statistic is undefined for these data.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .common import AnalysisError, finite


def weighted_kappa(a: np.ndarray, b: np.ndarray, weights: str | None = "quadratic") -> dict:
    """Cohen's kappa between two paired rating vectors (quadratic weights for ordinal scales; None = unweighted).

    Method: statsmodels ``cohens_kappa`` on the square contingency table over the categories seen.
    """
    from statsmodels.stats.inter_rater import cohens_kappa

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    if len(a) < 2:
        raise AnalysisError("needs at least 2 paired ratings")
    categories = np.unique(np.concatenate([a, b]))
    if len(categories) < 2:
        raise AnalysisError("every rating is the same category, so chance agreement is total and kappa is undefined")
    index = {c: i for i, c in enumerate(categories)}
    table = np.zeros((len(categories), len(categories)))
    for x, y in zip(a, b):
        table[index[x], index[y]] += 1
    wt = {"quadratic": "quadratic", "linear": "linear", None: None}[weights]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = cohens_kappa(table, wt=wt)
    value = finite(result.kappa)
    if value is None:
        raise AnalysisError("kappa is undefined for these ratings (no variation)")
    return {"value": value, "lower": finite(result.kappa_low), "upper": finite(result.kappa_upp),
            "n": int(len(a)), "weights": weights or "none"}


def fleiss(matrix: np.ndarray) -> dict:
    """Fleiss' kappa between raters over the items every rater rated (statsmodels ``fleiss_kappa``)."""
    from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

    complete = _complete_items(matrix)
    if complete.shape[0] < 2:
        raise AnalysisError("needs at least 2 raters")
    if complete.shape[1] < 2:
        raise AnalysisError("needs at least 2 items rated by every rater")
    counts, _ = aggregate_raters(complete.T)
    if counts.shape[1] < 2:
        raise AnalysisError("every rating is the same category, so Fleiss' kappa is undefined")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = finite(fleiss_kappa(counts, method="fleiss"))
    if value is None:
        raise AnalysisError("Fleiss' kappa is undefined for these ratings (no variation)")
    return {"value": value, "n": int(complete.shape[1]), "raters": int(complete.shape[0])}


def icc_2_1(matrix: np.ndarray) -> dict:
    """ICC(2,1): two-way random effects, absolute agreement, single rater (pingouin ``intraclass_corr``)."""
    import pingouin

    complete = _complete_items(matrix)
    if complete.shape[0] < 2 or complete.shape[1] < 3:
        raise AnalysisError("ICC needs at least 2 raters and 3 items rated by every rater")
    if np.allclose(complete, complete.flat[0]):
        raise AnalysisError("every rating is the same value, so the ICC is undefined")
    long = pd.DataFrame([{"target": i, "rater": r, "rating": complete[r, i]}
                         for r in range(complete.shape[0]) for i in range(complete.shape[1])])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = pingouin.intraclass_corr(long, targets="target", raters="rater", ratings="rating")
    table = table.set_index("Type")
    row = table.loc["ICC(A,1)" if "ICC(A,1)" in table.index else "ICC2"]  # pingouin ≥ 0.7 / older names
    value = finite(row["ICC"])
    if value is None:
        raise AnalysisError("the ICC is undefined for these ratings (no variation between items)")
    ci = row["CI95"] if "CI95" in row.index else row["CI95%"]
    return {"value": value, "lower": finite(ci[0]), "upper": finite(ci[1]), "p": finite(row["pval"]),
            "n": int(complete.shape[1]), "raters": int(complete.shape[0])}


def krippendorff_alpha(matrix: np.ndarray, level: str = "ordinal") -> dict:
    """Krippendorff's alpha (``krippendorff.alpha``), missing ratings allowed (NaN)."""
    import krippendorff

    matrix = np.asarray(matrix, dtype=float)
    pairable = (~np.isnan(matrix)).sum(axis=0) >= 2
    if matrix.shape[0] < 2 or pairable.sum() < 2:
        raise AnalysisError("needs at least 2 raters and 2 items rated by two or more of them")
    values = np.unique(matrix[:, pairable][~np.isnan(matrix[:, pairable])])
    if len(values) < 2:
        raise AnalysisError("every rating is the same value, so Krippendorff's alpha is undefined")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = finite(krippendorff.alpha(reliability_data=matrix[:, pairable], level_of_measurement=level))
    if value is None:
        raise AnalysisError("Krippendorff's alpha is undefined for these ratings")
    return {"value": value, "n": int(pairable.sum()), "level": level}


def _complete_items(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=float)
    return matrix[:, ~np.isnan(matrix).any(axis=0)]
