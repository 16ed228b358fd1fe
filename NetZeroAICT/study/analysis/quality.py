"""Image quality on a Likert scale, and agreement of ratings between modalities and between readers.

Quality (role ``quality``): per modality the median and interquartile range, the distribution over the
scale, the proportion rated diagnostic (≥ a threshold, Wilson CI), and a paired Wilcoxon signed-rank test of
synthetic vs real over cases (each case's ratings averaged over readers first).

Agreement (:func:`agreement_block`, used for quality and for binary diagnoses): weighted Cohen's kappa of
each reader's real vs synthetic ratings of the same cases, and, per modality, Fleiss' kappa, ICC(2,1) and
Krippendorff's alpha between readers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .agreement import fleiss, icc_2_1, krippendorff_alpha, weighted_kappa
from .answers import case_matrix
from .common import AnalysisError, StatisticsTable
from .turing import proportion

AGREEMENT_LABELS = {"fleiss_kappa": "Fleiss' kappa", "icc_2_1": "ICC(2,1)",
                    "krippendorff_alpha": "Krippendorff's alpha"}


def likert_quality(rows: pd.DataFrame, stats_table: StatisticsTable, section: str, threshold: float = 3,
                   alpha: float = 0.05, scale: list[float] | None = None) -> dict:
    """Likert quality summary and synthetic-vs-real comparison of one question's prepared rows.

    ``scale``: every level of the Likert scale (from the protocol), so unused levels show as 0 %; default
    1–5 when every rating lies in it.
    """
    rows = rows[rows["number"].notna()]
    if rows.empty:
        raise AnalysisError("no numeric quality ratings", where=section)
    if scale is None and rows["number"].between(1, 5).all() and (rows["number"] % 1 == 0).all():
        scale = [1.0, 2.0, 3.0, 4.0, 5.0]
    out = {"method": "median [IQR]; proportion ≥ threshold with Wilson CI; paired Wilcoxon signed-rank test "
                     "on per-case means over readers", "threshold": threshold, "modalities": []}
    levels = sorted(set(rows["number"].unique()) | set(scale or ()))
    out["levels"] = [float(v) for v in levels]
    for modality, group in rows.groupby("modality"):
        values = group["number"].to_numpy(float)
        q1, median, q3 = np.percentile(values, [25, 50, 75])
        diagnostic = proportion(int((values >= threshold).sum()), len(values), alpha)
        counts = {str(level): int((values == level).sum()) for level in levels}
        out["modalities"].append({"modality": modality, "n": len(values), "median": float(median),
                                  "q1": float(q1), "q3": float(q3), "counts": counts, "diagnostic": diagnostic})
        stats_table.add(section, "median rating", median, "median [IQR = lower, upper]", lower=q1, upper=q3,
                        n=len(values), modality=modality)
        stats_table.add(section, f"proportion rated diagnostic (≥ {threshold:g})", diagnostic["value"],
                        "Wilson score CI", lower=diagnostic["wilson"][0], upper=diagnostic["wilson"][1],
                        n=len(values), modality=modality)
    means = rows.pivot_table(index="case", columns="modality", values="number", aggfunc="mean")
    if {"real", "synthetic"} <= set(means.columns):
        paired = means[["real", "synthetic"]].dropna()
        difference = (paired["synthetic"] - paired["real"]).to_numpy()
        method = "Wilcoxon signed-rank test (two-sided) of synthetic − real per-case means over readers"
        if len(difference) < 2 or np.all(difference == 0):
            reason = ("every case has the same mean rating in both modalities" if len(difference) >= 2
                      else "needs at least 2 cases rated in both modalities")
            out["wilcoxon"] = {"estimable": False, "reason": reason}
            stats_table.not_estimable(section, "synthetic − real (paired)", reason, method)
        else:
            test = stats.wilcoxon(difference)
            out["wilcoxon"] = {"n_cases": len(difference), "median_difference": float(np.median(difference)),
                               "statistic": float(test.statistic), "p": float(test.pvalue)}
            stats_table.add(section, "median per-case difference synthetic − real", np.median(difference),
                            method, p=test.pvalue, n=len(difference))
    return out


def agreement_block(rows: pd.DataFrame, stats_table: StatisticsTable, section: str, ordinal: bool = True) -> dict:
    """Agreement statistics of one question's numeric answers (ordinal Likert or 0/1 calls)."""
    rows = rows[rows["number"].notna()]
    weights = "quadratic" if ordinal else None
    level = "ordinal" if ordinal else "nominal"
    out = {"kappa_real_vs_synthetic": [], "between_readers": []}
    kappa_method = (f"Cohen's kappa ({'quadratic weights' if ordinal else 'unweighted'}, statsmodels) of the "
                    "same reader's real and synthetic ratings of each case")
    for reader, group in rows.groupby("reader"):
        wide = group.pivot_table(index="case", columns="modality", values="number", aggfunc="first")
        if not {"real", "synthetic"} <= set(wide.columns):
            continue
        pairs = wide[["real", "synthetic"]].dropna()
        try:
            k = weighted_kappa(pairs["real"], pairs["synthetic"], weights)
            out["kappa_real_vs_synthetic"].append({"reader": reader, **k})
            stats_table.add(section, "kappa real vs synthetic", k["value"], kappa_method, lower=k["lower"],
                            upper=k["upper"], n=k["n"], reader=reader)
        except AnalysisError as error:
            out["kappa_real_vs_synthetic"].append({"reader": reader, "estimable": False, "reason": str(error)})
            stats_table.not_estimable(section, f"kappa real vs synthetic, {reader}", str(error), kappa_method)
    for modality, group in rows.groupby("modality"):
        matrix = case_matrix(group).to_numpy(float)
        entry = {"modality": modality}
        for key, function, method in (
                ("fleiss_kappa", fleiss, "Fleiss' kappa (statsmodels), cases rated by every reader"),
                ("icc_2_1", icc_2_1, "ICC(2,1), two-way random, absolute agreement, single rater (pingouin)"),
                ("krippendorff_alpha", lambda m: krippendorff_alpha(m, level),
                 f"Krippendorff's alpha, {level} (krippendorff package)")):
            try:
                value = function(matrix)
                entry[key] = value
                stats_table.add(section, f"{AGREEMENT_LABELS[key]} between readers", value["value"], method,
                                lower=value.get("lower"), upper=value.get("upper"), n=value.get("n"),
                                modality=modality)
            except AnalysisError as error:
                entry[key] = {"estimable": False, "reason": str(error)}
                stats_table.not_estimable(section, f"{AGREEMENT_LABELS[key]} between readers ({modality})",
                                          str(error), method)
        out["between_readers"].append(entry)
    return out
