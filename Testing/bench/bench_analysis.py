"""Reader-study analysis: OR-MRMC speed, Roe–Metz calibration, simulation check of study sizing.

OR-MRMC on 10 readers × 1,000 cases × 2 modalities; the RRRC test's rejection rate on 2,000 SYNTHETIC null
studies; the power of SYNTHETIC studies sized by :func:`cases_for_power`.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pandas as pd

from NetZeroAICT.study.analysis import or_mrmc, or_mrmc_arrays
from NetZeroAICT.study.analysis.auc import empirical_auc, jackknife_auc, jackknife_covariance
from NetZeroAICT.study.analysis.obuchowski_rockette import obuchowski_rockette, variance_components
from NetZeroAICT.study.analysis.simulation import null_rejection_rate, simulate_studies
from NetZeroAICT.study.analysis.sizing import cases_for_power


def _speed() -> list[dict]:
    ratings, truth = simulate_studies(1, n_readers=10, n_normal=500, n_abnormal=500, seed=1)
    ratings = ratings[0]
    n_t, n_r, n_c = ratings.shape
    t, r, c = np.meshgrid(np.arange(n_t), np.arange(n_r), np.arange(n_c), indexing="ij")
    table = pd.DataFrame({"reader": r.ravel(), "modality": np.array(["real", "synthetic"])[t.ravel()],
                          "case": c.ravel(), "truth": truth[c.ravel()].astype(int), "rating": ratings.ravel()})
    rows = []
    for covariance in ("jackknife", "delong"):
        start = time.perf_counter()
        or_mrmc(table, covariance=covariance)
        seconds = time.perf_counter() - start
        rows.append({"what": f"OR-MRMC from a 20,000-row table, 10 readers × 1,000 cases × 2 modalities, {covariance}",
                     "value": f"{seconds:.3f} s", "goal": "≤ 5 s"})
    start = time.perf_counter()
    or_mrmc_arrays(ratings, truth)
    rows.append({"what": "OR-MRMC on arrays (jackknife), same size", "value": f"{time.perf_counter() - start:.3f} s"})
    return rows


def _calibration() -> list[dict]:
    start = time.perf_counter()
    rates = null_rejection_rate(n_studies=2000, n_readers=5, n_normal=50, n_abnormal=50, seed=0)
    seconds = time.perf_counter() - start
    return [
        {"what": "Roe–Metz null (2,000 SYNTHETIC studies, 5 readers, 50+50 cases, mean AUC "
                 f"{rates['mean_auc']:.3f}): RRRC rejection rate at 5%", "value": f"{100 * rates['RRRC']:.2f}%",
         "goal": "3.5–6.5%"},
        {"what": "same studies, FRRC / RRFC rejection (readers and cases are random here, so these "
                 "conditional analyses are expected to reject more often)",
         "value": f"{100 * rates['FRRC']:.2f}% / {100 * rates['RRFC']:.2f}%"},
        {"what": "calibration simulation time", "value": f"{seconds:.1f} s"}]


def _sizing_check(n_pilot: int = 200, n_check: int = 500, n_readers: int = 10, margin: float = 0.05) -> list[dict]:
    """Size a study from averaged pilot variance components, then simulate it: power near 80%?"""
    half = 30
    ratings, truth = simulate_studies(n_pilot, n_readers, half, half, seed=2)
    aucs = empirical_auc(ratings, truth)
    covariances = jackknife_covariance(jackknife_auc(ratings.reshape(n_pilot, 2 * n_readers, -1), truth))
    components = [variance_components(a, c) for a, c in zip(aucs, covariances)]
    average = {f.name: float(np.mean([getattr(c, f.name) for c in components]))
               for f in dataclasses.fields(components[0]) if not f.name.endswith("modality")}
    pilot = obuchowski_rockette(aucs[0], covariances[0], ["real", "synthetic"], [str(r) for r in range(n_readers)],
                                2 * half)
    pilot.components = dataclasses.replace(pilot.components, **average)
    sized = cases_for_power(pilot, n_readers, margin=margin)
    n = sized["n_cases"]
    if n is None:
        return [{"what": f"sizing check with {n_readers} readers", "value": sized["reason"]}]
    ratings, truth = simulate_studies(n_check, n_readers, n // 2, n - n // 2, seed=3)
    aucs = empirical_auc(ratings, truth)
    covariances = jackknife_covariance(jackknife_auc(ratings.reshape(n_check, 2 * n_readers, -1), truth))
    shown = 0
    for a, c in zip(aucs, covariances):
        result = obuchowski_rockette(a, c, ["real", "synthetic"], [str(r) for r in range(n_readers)], n,
                                     margin=margin)
        shown += result.analyses["RRRC"]["noninferiority"]["non_inferior"]
    return [{"what": f"sizing: {n_readers} readers need {n} cases for 80% non-inferiority power (margin {margin}); "
                     f"simulated power of {n_check} SYNTHETIC studies of that size",
             "value": f"{100 * shown / n_check:.1f}%", "goal": "≈ 80% (±5%)"}]


def run() -> list[dict]:
    return _speed() + _calibration() + _sizing_check()
