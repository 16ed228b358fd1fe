"""Measurements (role ``diameter``, mm): Bland–Altman agreement of synthetic vs real, and ICC.

Each case's measurement is averaged over readers per modality; the pairs (real, synthetic) give the bias
(mean of synthetic − real) with a t CI and the 95% limits of agreement bias ± 1.96·SD with the approximate
CIs of Bland & Altman (1986): SE(limit) = √(3·SD²/n), t on n − 1 df. ICC(2,1) of real vs synthetic
(absolute agreement) and, per modality, between readers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .agreement import icc_2_1
from .answers import case_matrix
from .common import AnalysisError, StatisticsTable


def bland_altman(real: np.ndarray, synthetic: np.ndarray, alpha: float = 0.05) -> dict:
    """Bias and limits of agreement of ``synthetic − real`` (paired arrays, same unit) with CIs."""
    real, synthetic = np.asarray(real, float), np.asarray(synthetic, float)
    difference = synthetic - real
    n = len(difference)
    if n < 3:
        raise AnalysisError(f"Bland–Altman needs at least 3 cases measured in both modalities; there are {n}")
    bias = float(difference.mean())
    sd = float(difference.std(ddof=1))
    q = stats.t.ppf(1 - alpha / 2, n - 1)
    z = stats.norm.ppf(0.975)
    bias_half = q * sd / np.sqrt(n)
    limit_half = q * np.sqrt(3 * sd ** 2 / n)
    lower, upper = bias - z * sd, bias + z * sd
    return {"n": n, "bias": bias, "bias_ci": [bias - bias_half, bias + bias_half], "sd": sd,
            "lower_limit": lower, "lower_limit_ci": [lower - limit_half, lower + limit_half],
            "upper_limit": upper, "upper_limit_ci": [upper - limit_half, upper + limit_half],
            "means": ((real + synthetic) / 2).tolist(), "differences": difference.tolist()}


def measurement_agreement(rows: pd.DataFrame, stats_table: StatisticsTable, section: str, unit: str = "mm",
                          alpha: float = 0.05) -> dict:
    """Bland–Altman and ICCs of one measurement question's prepared rows."""
    rows = rows[rows["number"].notna()]
    means = rows.pivot_table(index="case", columns="modality", values="number", aggfunc="mean")
    if not {"real", "synthetic"} <= set(means.columns):
        raise AnalysisError("needs measurements of both real and synthetic images", where=section)
    paired = means[["real", "synthetic"]].dropna()
    out = {"unit": unit, "method": "Bland–Altman on per-case means over readers (synthetic − real); limits of "
                                   "agreement CIs by Bland & Altman (1986); ICC(2,1) by pingouin"}
    try:
        ba = bland_altman(paired["real"].to_numpy(), paired["synthetic"].to_numpy(), alpha)
        out["bland_altman"] = ba
        method = "Bland–Altman, synthetic − real, per-case means over readers"
        stats_table.add(section, f"bias ({unit})", ba["bias"], method + "; t CI", lower=ba["bias_ci"][0],
                        upper=ba["bias_ci"][1], n=ba["n"])
        stats_table.add(section, f"lower limit of agreement ({unit})", ba["lower_limit"],
                        method + "; CI SE = √(3 SD²/n)", lower=ba["lower_limit_ci"][0],
                        upper=ba["lower_limit_ci"][1], n=ba["n"])
        stats_table.add(section, f"upper limit of agreement ({unit})", ba["upper_limit"],
                        method + "; CI SE = √(3 SD²/n)", lower=ba["upper_limit_ci"][0],
                        upper=ba["upper_limit_ci"][1], n=ba["n"])
    except AnalysisError as error:
        out["bland_altman"] = {"estimable": False, "reason": str(error)}
        stats_table.not_estimable(section, "Bland–Altman", str(error))
    icc_method = "ICC(2,1), two-way random, absolute agreement, single rater (pingouin)"
    try:
        icc = icc_2_1(paired.to_numpy(float).T)
        out["icc_real_vs_synthetic"] = icc
        stats_table.add(section, "ICC real vs synthetic (per-case means)", icc["value"], icc_method,
                        lower=icc["lower"], upper=icc["upper"], n=icc["n"])
    except AnalysisError as error:
        out["icc_real_vs_synthetic"] = {"estimable": False, "reason": str(error)}
        stats_table.not_estimable(section, "ICC real vs synthetic", str(error), icc_method)
    out["icc_between_readers"] = []
    for modality, group in rows.groupby("modality"):
        try:
            icc = icc_2_1(case_matrix(group).to_numpy(float))
            out["icc_between_readers"].append({"modality": modality, **icc})
            stats_table.add(section, "ICC between readers", icc["value"], icc_method, lower=icc["lower"],
                            upper=icc["upper"], n=icc["n"], modality=modality)
        except AnalysisError as error:
            out["icc_between_readers"].append({"modality": modality, "estimable": False, "reason": str(error)})
            stats_table.not_estimable(section, f"ICC between readers ({modality})", str(error), icc_method)
    return out
