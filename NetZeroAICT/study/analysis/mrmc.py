"""Multi-reader multi-case (MRMC) analyses: ROC area from confidence ratings, sensitivity and specificity
from binary calls — each through the same Obuchowski–Rockette machinery (:mod:`.obuchowski_rockette`).

    result = or_mrmc(table)                  # long format: reader, modality, case, truth, rating
    result.analyses["RRRC"]["noninferiority"]
    print(result.format_text())
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .auc import check_truth, delong_covariance, empirical_auc, jackknife_auc, jackknife_covariance
from .common import AnalysisError
from .obuchowski_rockette import ORResult, obuchowski_rockette
from .ratings import CrossedRatings, cross_ratings

COVARIANCE_METHODS = ("jackknife", "delong")


def auc_covariance(ratings: np.ndarray, truth: np.ndarray, method: str = "jackknife") -> tuple[np.ndarray, np.ndarray]:
    """Empirical AUCs (T, R) and their error covariance (T·R, T·R) from ratings (T, R, N)."""
    n_t, n_r, n_c = ratings.shape
    flat = ratings.reshape(n_t * n_r, n_c)
    if method == "jackknife":
        covariance = jackknife_covariance(jackknife_auc(flat, truth))
    elif method == "delong":
        covariance = delong_covariance(flat, truth)
    else:
        raise AnalysisError(f"unknown covariance method {method!r}", where="covariance",
                            hint=f"use one of {', '.join(COVARIANCE_METHODS)}")
    return empirical_auc(ratings, truth), covariance


def or_mrmc_arrays(ratings: np.ndarray, truth: np.ndarray, modalities: list[str] | None = None,
                   readers: list[str] | None = None, *, covariance: str = "jackknife", margin: float = 0.05,
                   alpha: float = 0.05, reference: str | None = None, test: str | None = None) -> ORResult:
    """OR analysis of empirical AUCs from ratings (T modalities, R readers, N cases) and truth (N,) bool."""
    ratings = np.asarray(ratings, dtype=float)
    if ratings.ndim != 3:
        raise AnalysisError(f"ratings must have shape (modalities, readers, cases), got {ratings.shape}")
    truth = np.asarray(truth, dtype=bool)
    abnormal, normal = check_truth(truth)
    if np.all(ratings == ratings.reshape(-1)[0]):
        raise AnalysisError("every rating is the same value, so no reader separates abnormal from normal cases "
                            "(every AUC is 0.5 with no variability)", where="rating",
                            hint="check that the rating column holds the readers' confidence scores")
    n_t, n_r, _ = ratings.shape
    modalities = list(modalities) if modalities is not None else [str(t) for t in range(n_t)]
    readers = list(readers) if readers is not None else [str(r) for r in range(n_r)]
    fom, cov = auc_covariance(ratings, truth, covariance)
    result = obuchowski_rockette(fom, cov, modalities, readers, len(truth), reference=reference, test=test,
                                 margin=margin, alpha=alpha, figure_of_merit="AUC", covariance_method=covariance)
    result.case_counts = {"abnormal": len(abnormal), "normal": len(normal)}
    constant = [f"{m}/{r}" for t, m in enumerate(modalities) for r_i, r in enumerate(readers)
                if np.all(ratings[t, r_i] == ratings[t, r_i, 0])]
    if constant:
        result.notes.append(f"Constant ratings (AUC 0.5, no variability) for {', '.join(constant)}.")
    return result


def or_mrmc(ratings_df: pd.DataFrame, columns: dict[str, str] | None = None, *, covariance: str = "jackknife",
            margin: float = 0.05, alpha: float = 0.05, reference: str | None = None, test: str | None = None,
            drop_incomplete: bool = False) -> ORResult:
    """Obuchowski–Rockette MRMC analysis of empirical ROC areas from a long-format ratings table.

    ``ratings_df`` columns: reader, modality (or treatment), case, truth (1 = abnormal), rating (higher = more
    confident abnormal); ``columns`` maps other names. ``covariance``: ``jackknife`` (as the Iowa program) or
    ``delong``. Returns an :class:`ORResult` with the RRRC, FRRC and RRFC analyses and the non-inferiority
    test of ``test − reference`` at ``margin``.
    """
    crossed = cross_ratings(ratings_df, columns, drop_incomplete=drop_incomplete)
    result = or_mrmc_arrays(crossed.ratings, crossed.truth, crossed.modalities, crossed.readers,
                            covariance=covariance, margin=margin, alpha=alpha, reference=reference, test=test)
    result.notes[:0] = crossed.notes
    return result


def proportion_covariance(calls: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Proportions (T, R) of positive calls and their jackknife covariance over the N cases given.

    ``calls``: (T, R, N) 0/1. The jackknife of a proportion equals S/N, S the sample covariance of the calls.
    """
    n_t, n_r, n = calls.shape
    flat = calls.reshape(n_t * n_r, n).astype(float)
    total = flat.sum(axis=1, keepdims=True)
    leave_one_out = (total - flat) / (n - 1)
    return flat.mean(axis=1).reshape(n_t, n_r), jackknife_covariance(leave_one_out)


def binary_mrmc(crossed: CrossedRatings, *, margin: float = 0.05, alpha: float = 0.05,
                reference: str | None = None, test: str | None = None) -> dict[str, ORResult | str]:
    """Sensitivity (on abnormal cases) and specificity (on normal cases) of binary calls, OR-analysed.

    ``crossed.ratings`` hold 1 = called abnormal, 0 = called normal. Returns ``{"sensitivity": ORResult,
    "specificity": ORResult}``; an entry that cannot be computed holds the reason (str) instead.
    """
    calls = crossed.ratings
    if not np.isin(calls, (0.0, 1.0)).all():
        raise AnalysisError("binary answers must be 0/1 (false/true)", where="rating")
    out: dict[str, ORResult | str] = {}
    for name, mask, positive in (("sensitivity", crossed.truth, 1.0), ("specificity", ~crossed.truth, 0.0)):
        n = int(mask.sum())
        if n < 2:
            out[name] = f"needs at least 2 {'abnormal' if positive else 'normal'} cases; the data have {n}"
            continue
        fom, cov = proportion_covariance(calls[..., mask] == positive)
        result = obuchowski_rockette(fom, cov, crossed.modalities, crossed.readers, n, reference=reference,
                                     test=test, margin=margin, alpha=alpha, figure_of_merit=name,
                                     covariance_method="jackknife")
        result.case_counts = {"abnormal" if positive else "normal": n}
        result.notes[:0] = crossed.notes
        out[name] = result
    return out
