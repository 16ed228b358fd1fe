"""Visual Turing test: can readers tell synthetic from real angiograms?

Each answer (role ``turing``) is a reader's call ``real`` or ``synthetic`` on one image (case × modality);
it is correct when it names the image's true modality. Reported: accuracy per reader and pooled with Wilson
and Clopper–Pearson 95% CIs, a two-way (reader × case) cluster bootstrap CI of the pooled accuracy, an exact
binomial test against chance (0.5), the rate at which each modality is called real, and Fleiss' kappa of the
calls between readers. Accuracy near 0.5 means readers cannot tell the synthetic images apart.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from .agreement import fleiss
from .common import AnalysisError, StatisticsTable

CALLS = ("real", "synthetic")


def proportion(k: int, n: int, alpha: float = 0.05) -> dict:
    """k/n with Wilson and Clopper–Pearson (exact) CIs."""
    wilson = proportion_confint(k, n, alpha=alpha, method="wilson")
    exact = proportion_confint(k, n, alpha=alpha, method="beta")
    return {"k": int(k), "n": int(n), "value": k / n, "wilson": [float(wilson[0]), float(wilson[1])],
            "clopper_pearson": [float(exact[0]), float(exact[1])]}


def cluster_bootstrap(correct: np.ndarray, count: np.ndarray, n_boot: int = 2000, seed: int = 0,
                      alpha: float = 0.05) -> tuple[float, float]:
    """Percentile CI of pooled accuracy, resampling readers and cases independently (two-way bootstrap).

    ``correct``, ``count``: (n_readers, n_cases) numbers of correct calls and of calls per reader × case.
    """
    rng = np.random.default_rng(seed)
    n_r, n_c = correct.shape
    readers = rng.integers(0, n_r, size=(n_boot, n_r))
    cases = rng.integers(0, n_c, size=(n_boot, n_c))
    k = correct[readers[:, :, None], cases[:, None, :]].sum(axis=(1, 2))
    n = count[readers[:, :, None], cases[:, None, :]].sum(axis=(1, 2))
    accuracy = k[n > 0] / n[n > 0]
    return float(np.quantile(accuracy, alpha / 2)), float(np.quantile(accuracy, 1 - alpha / 2))


def turing_test(rows: pd.DataFrame, stats_table: StatisticsTable, section: str = "Visual Turing test",
                alpha: float = 0.05, n_boot: int = 2000) -> dict:
    """Analyse one Turing question's answers (prepared rows: reader, case, modality, answer)."""
    calls = rows["answer"].map(lambda v: str(v).strip().lower() if v is not None else "")
    unknown = sorted(set(calls) - set(CALLS))
    if unknown:
        raise AnalysisError(f"Turing answers must be 'real' or 'synthetic'; found {', '.join(map(repr, unknown[:5]))}",
                            where=section)
    bad_modality = sorted(set(rows["modality"]) - set(CALLS))
    if bad_modality:
        raise AnalysisError(f"image modality must be real or synthetic; found {', '.join(bad_modality)}",
                            where=section)
    data = rows.assign(call=calls, correct=(calls == rows["modality"]).astype(int))
    out = {"method": "accuracy = calls naming the true modality / calls; Wilson and Clopper–Pearson CIs; "
                     "two-way (reader × case) cluster bootstrap; exact binomial test against 0.5",
           "readers": [], "modalities": []}
    for reader, group in data.groupby("reader"):
        p = proportion(int(group["correct"].sum()), len(group), alpha)
        out["readers"].append({"reader": reader, **p})
        stats_table.add(section, "accuracy", p["value"], "Wilson score CI", lower=p["wilson"][0],
                        upper=p["wilson"][1], n=p["n"], reader=reader)
    pooled = proportion(int(data["correct"].sum()), len(data), alpha)
    binomial = stats.binomtest(pooled["k"], pooled["n"], 0.5)
    correct = data.pivot_table(index="reader", columns="case", values="correct", aggfunc="sum", fill_value=0)
    count = data.pivot_table(index="reader", columns="case", values="correct", aggfunc="count", fill_value=0)
    bootstrap = cluster_bootstrap(correct.to_numpy(float), count.to_numpy(float), n_boot=n_boot, alpha=alpha)
    pooled.update(bootstrap=list(bootstrap), p_chance=float(binomial.pvalue))
    out["pooled"] = pooled
    stats_table.add(section, "pooled accuracy", pooled["value"], "Wilson score CI", lower=pooled["wilson"][0],
                    upper=pooled["wilson"][1], n=pooled["n"])
    stats_table.add(section, "pooled accuracy", pooled["value"], "Clopper–Pearson exact CI",
                    lower=pooled["clopper_pearson"][0], upper=pooled["clopper_pearson"][1], n=pooled["n"])
    stats_table.add(section, "pooled accuracy", pooled["value"],
                    f"two-way cluster bootstrap CI (readers and cases resampled, {n_boot} resamples, percentile)",
                    lower=bootstrap[0], upper=bootstrap[1], n=pooled["n"])
    stats_table.add(section, "accuracy vs chance (0.5)", pooled["value"],
                    "exact two-sided binomial test (treats calls as independent)", p=binomial.pvalue, n=pooled["n"])
    for modality, group in data.groupby("modality"):
        p = proportion(int((group["call"] == "real").sum()), len(group), alpha)
        out["modalities"].append({"modality": modality, "called_real": p})
        stats_table.add(section, "proportion called real", p["value"], "Wilson score CI", lower=p["wilson"][0],
                        upper=p["wilson"][1], n=p["n"], modality=modality)
    matrix = data.assign(item=data["case"] + "/" + data["modality"], code=(data["call"] == "real").astype(float))
    matrix = matrix.pivot_table(index="reader", columns="item", values="code", aggfunc="first")
    try:
        kappa = fleiss(matrix.to_numpy(float))
        out["fleiss_kappa"] = kappa
        stats_table.add(section, "Fleiss' kappa of the calls between readers", kappa["value"],
                        "Fleiss' kappa (statsmodels), images rated by every reader", n=kappa["n"])
    except AnalysisError as error:
        out["fleiss_kappa"] = {"estimable": False, "reason": str(error)}
        stats_table.not_estimable(section, "Fleiss' kappa of the calls between readers", str(error))
    return out
