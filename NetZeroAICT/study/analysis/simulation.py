"""Roe–Metz (1997) style simulation of MRMC ROC studies, used to check the calibration of the OR test.

Model (each truth class d ∈ {0: normal, 1: abnormal} with its own independent random effects):

    X[t, r, k] = μ_t·d_k + R_r + (TR)_tr + C_k + (TC)_tk + (RC)_rk + (TRC)_trk

with zero-mean normal effects of variances ``RoeMetzVariances``; under the null both modalities share μ.
Everything here is SYNTHETIC: simulated confidence ratings, not readings by people.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .auc import empirical_auc, jackknife_auc, jackknife_covariance
from .obuchowski_rockette import obuchowski_rockette


@dataclass(frozen=True)
class RoeMetzVariances:
    """Variances of the simulated effects (the case-level ones sum to 1, the binormal unit variance)."""

    reader: float = 0.011
    modality_reader: float = 0.011
    case: float = 0.3
    modality_case: float = 0.3
    reader_case: float = 0.2
    modality_reader_case: float = 0.2


def simulate_studies(n_studies: int, n_readers: int = 5, n_normal: int = 50, n_abnormal: int = 50,
                     mu: tuple[float, float] = (1.5, 1.5), variances: RoeMetzVariances = RoeMetzVariances(),
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """SYNTHETIC ratings (n_studies, 2 modalities, n_readers, n_cases) and truth (n_cases,) bool."""
    rng = np.random.default_rng(seed)
    n_t = len(mu)
    parts = []
    for n_cases, shift in ((n_normal, np.zeros(n_t)), (n_abnormal, np.asarray(mu, dtype=float))):
        s, r, k = n_studies, n_readers, n_cases

        def effect(variance, shape):
            return rng.normal(0.0, np.sqrt(variance), size=shape)

        x = (shift[None, :, None, None]
             + effect(variances.reader, (s, 1, r, 1)) + effect(variances.modality_reader, (s, n_t, r, 1))
             + effect(variances.case, (s, 1, 1, k)) + effect(variances.modality_case, (s, n_t, 1, k))
             + effect(variances.reader_case, (s, 1, r, k))
             + effect(variances.modality_reader_case, (s, n_t, r, k)))
        parts.append(x)
    truth = np.concatenate([np.zeros(n_normal, bool), np.ones(n_abnormal, bool)])
    return np.concatenate(parts, axis=-1), truth


def null_rejection_rate(n_studies: int = 2000, n_readers: int = 5, n_normal: int = 50, n_abnormal: int = 50,
                        alpha: float = 0.05, seed: int = 0) -> dict:
    """Fraction of SYNTHETIC null studies (no true AUC difference) in which each OR analysis rejects at alpha.

    Returns ``{"RRRC": rate, "FRRC": rate, "RRFC": rate, "n_studies": n, "mean_auc": …}``.
    """
    ratings, truth = simulate_studies(n_studies, n_readers, n_normal, n_abnormal, seed=seed)
    s, n_t, n_r, n_c = ratings.shape
    aucs = empirical_auc(ratings, truth)
    covariances = jackknife_covariance(jackknife_auc(ratings.reshape(s, n_t * n_r, n_c), truth))
    rejections = {"RRRC": 0, "FRRC": 0, "RRFC": 0}
    modalities, readers = ["0", "1"][:n_t], [str(r) for r in range(n_r)]
    for study in range(s):
        result = obuchowski_rockette(aucs[study], covariances[study], modalities, readers, n_c, alpha=alpha)
        for name in rejections:
            test = result.analyses[name].get("test", {})
            rejections[name] += bool(test.get("p") is not None and test["p"] < alpha)
    return {**{k: v / s for k, v in rejections.items()}, "n_studies": s, "mean_auc": float(aucs.mean())}
