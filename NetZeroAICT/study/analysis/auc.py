"""Empirical (Wilcoxon) ROC area, its placement values, case-deletion jackknife and DeLong covariance.

Ratings are arrays of shape (..., n_cases) (typically (modalities, readers, n_cases)); ``truth`` is a bool
array (n_cases,) with True for abnormal (diseased) cases. Higher ratings mean "more likely abnormal"; ties
count one half. Everything is vectorised over the leading axes and costs O(n log n) per reader × modality:
the jackknife AUCs follow from the placement values, without recomputing the AUC n times.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from .common import AnalysisError


def check_truth(truth: np.ndarray, minimum_per_class: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Indices of abnormal and normal cases; refuse data with fewer than ``minimum_per_class`` of either."""
    truth = np.asarray(truth, dtype=bool)
    abnormal = np.flatnonzero(truth)
    normal = np.flatnonzero(~truth)
    if len(abnormal) < minimum_per_class or len(normal) < minimum_per_class:
        raise AnalysisError(
            f"the ROC area needs at least {minimum_per_class} abnormal and {minimum_per_class} normal cases; "
            f"these data have {len(abnormal)} abnormal and {len(normal)} normal",
            where="truth", hint="include cases of both truth classes (abnormal and normal)")
    return abnormal, normal


def placement_values(ratings: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Placement values of every case, from mid-ranks.

    Returns ``(v10, v01)``: ``v10[..., i]`` = fraction of normal cases rated below abnormal case i (ties ½),
    shape (..., n_abnormal); ``v01[..., j]`` = fraction of abnormal cases rated above normal case j (ties ½),
    shape (..., n_normal). ``mean(v10) == mean(v01) == AUC``.
    """
    ratings = np.asarray(ratings, dtype=float)
    abnormal, normal = check_truth(truth, minimum_per_class=1)
    x = ratings[..., abnormal]
    y = ratings[..., normal]
    combined = rankdata(np.concatenate([x, y], axis=-1), axis=-1)
    n1 = x.shape[-1]
    v10 = (combined[..., :n1] - rankdata(x, axis=-1)) / y.shape[-1]
    v01 = 1.0 - (combined[..., n1:] - rankdata(y, axis=-1)) / n1
    return v10, v01


def empirical_auc(ratings: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Empirical (trapezoidal = Wilcoxon–Mann–Whitney) ROC area, shape ``ratings.shape[:-1]``."""
    v10, _ = placement_values(ratings, truth)
    return v10.mean(axis=-1)


def jackknife_auc(ratings: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """AUC with each case left out in turn, shape (..., n_cases) in the original case order.

    Leaving out abnormal case i gives (n1·AUC − v10_i)/(n1 − 1); leaving out normal case j gives
    (n0·AUC − v01_j)/(n0 − 1).
    """
    abnormal, normal = check_truth(truth)
    v10, v01 = placement_values(ratings, truth)
    auc = v10.mean(axis=-1, keepdims=True)
    n1, n0 = len(abnormal), len(normal)
    out = np.empty(np.shape(ratings), dtype=float)
    out[..., abnormal] = (n1 * auc - v10) / (n1 - 1)
    out[..., normal] = (n0 * auc - v01) / (n0 - 1)
    return out


def jackknife_covariance(jackknife_values: np.ndarray) -> np.ndarray:
    """Jackknife covariance ``(n−1)/n · Σ_k (θ_(k) − θ̄)(θ_(k) − θ̄)ᵀ`` of figures of merit.

    ``jackknife_values``: (..., m, n_cases) leave-one-out values of m figures of merit; returns (..., m, m).
    """
    n = jackknife_values.shape[-1]
    deviations = jackknife_values - jackknife_values.mean(axis=-1, keepdims=True)
    return (n - 1) / n * deviations @ np.swapaxes(deviations, -1, -2)


def delong_covariance(ratings: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """DeLong, DeLong & Clarke-Pearson (1988) covariance of the empirical AUCs.

    ``ratings``: (m, n_cases) for m reader × modality combinations; returns (m, m) = S10/n1 + S01/n0, where
    S10, S01 are the sample covariances (divisor n − 1) of the placement values.
    """
    check_truth(truth)
    v10, v01 = placement_values(ratings, truth)
    return np.cov(v10) / v10.shape[-1] + np.cov(v01) / v01.shape[-1]


def roc_points(ratings: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Empirical ROC operating points (false-positive fraction, true-positive fraction), from (0,0) to (1,1).

    ``ratings``: (n_cases,). One point per distinct rating used as the threshold "rating ≥ t is positive".
    """
    ratings = np.asarray(ratings, dtype=float)
    truth = np.asarray(truth, dtype=bool)
    thresholds = np.unique(ratings)[::-1]
    positives = ratings[None, :] >= thresholds[:, None]
    tpf = (positives & truth).sum(axis=1) / max(truth.sum(), 1)
    fpf = (positives & ~truth).sum(axis=1) / max((~truth).sum(), 1)
    return np.concatenate([[0.0], fpf]), np.concatenate([[0.0], tpf])
