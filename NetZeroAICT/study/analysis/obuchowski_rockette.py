"""Obuchowski–Rockette (1995) analysis of figures of merit, with Hillis (2007) denominator degrees of freedom.

Input: a figure-of-merit matrix ``fom`` of shape (T modalities, R readers) — ROC areas, sensitivities,
specificities — and the (T·R, T·R) covariance matrix of its error (jackknife or DeLong), indexed
``t * R + r``. Output: the three analyses of Hillis (2007) / the Iowa OR-DBM MRMC program:

* RRRC, random readers and random cases: F = MS(T) / [MS(T×R) + R·max(Cov2 − Cov3, 0)], Hillis ddf;
* FRRC, fixed readers, random cases: χ² = (T−1)·MS(T) / [Var − Cov1 + (R−1)·max(Cov2 − Cov3, 0)];
* RRFC, random readers, fixed cases: F = MS(T) / MS(T×R) on (T−1, (T−1)(R−1)) df;

each with per-modality confidence intervals, the modality differences with confidence intervals, and a
non-inferiority test of ``test − reference`` at a margin. Quantities that the data cannot support (one
reader, no variability) are reported as not estimable with the reason — never as NaN.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
from scipy import stats

from .common import AnalysisError, finite

ANALYSES = {
    "RRRC": "random readers, random cases",
    "FRRC": "fixed readers, random cases",
    "RRFC": "random readers, fixed cases",
}


@dataclass
class VarianceComponents:
    """OR error variance/covariances and mean squares of one FOM matrix (T, R) and its covariance."""

    var_error: float
    cov1: float  # same reader, different modality
    cov2: float  # different reader, same modality
    cov3: float  # different reader, different modality
    ms_t: float
    ms_r: float
    ms_tr: float
    var_per_modality: list[float]
    cov2_per_modality: list[float]
    ms_r_per_modality: list[float]

    def to_dict(self) -> dict:
        return {k: (finite(v) if not isinstance(v, list) else [finite(x) for x in v])
                for k, v in self.__dict__.items()}


def variance_components(fom: np.ndarray, covariance: np.ndarray) -> VarianceComponents:
    """Var, Cov1–3 (averages of the covariance entries of each kind) and the mean squares of ``fom``."""
    n_t, n_r = fom.shape
    c = covariance.reshape(n_t, n_r, n_t, n_r)
    same_t = np.eye(n_t, dtype=bool)[:, None, :, None]
    same_r = np.eye(n_r, dtype=bool)[None, :, None, :]

    def mean_where(mask):
        mask = np.broadcast_to(mask, c.shape)
        return float(c[mask].mean()) if mask.any() else 0.0

    var_t, cov2_t = [], []
    for t in range(n_t):
        block = c[t, :, t, :]
        var_t.append(float(np.diag(block).mean()))
        off = ~np.eye(n_r, dtype=bool)
        cov2_t.append(float(block[off].mean()) if n_r > 1 else 0.0)
    grand = fom.mean()
    by_t, by_r = fom.mean(axis=1), fom.mean(axis=0)
    ms_t = n_r * ((by_t - grand) ** 2).sum() / (n_t - 1) if n_t > 1 else 0.0
    ms_r = n_t * ((by_r - grand) ** 2).sum() / (n_r - 1) if n_r > 1 else 0.0
    interaction = fom - by_t[:, None] - by_r[None, :] + grand
    ms_tr = (interaction ** 2).sum() / ((n_t - 1) * (n_r - 1)) if n_t > 1 and n_r > 1 else 0.0
    ms_r_t = [float(fom[t].var(ddof=1)) if n_r > 1 else 0.0 for t in range(n_t)]
    return VarianceComponents(
        var_error=mean_where(same_t & same_r), cov1=mean_where(~same_t & same_r),
        cov2=mean_where(same_t & ~same_r), cov3=mean_where(~same_t & ~same_r),
        ms_t=float(ms_t), ms_r=float(ms_r), ms_tr=float(ms_tr),
        var_per_modality=var_t, cov2_per_modality=cov2_t, ms_r_per_modality=ms_r_t)


def _t_interval(estimate: float, se: float, df: float | None, alpha: float) -> tuple[float, float]:
    """Two-sided (1 − alpha) interval; ``df=None`` means the normal distribution."""
    q = stats.norm.ppf(1 - alpha / 2) if df is None or not np.isfinite(df) else stats.t.ppf(1 - alpha / 2, df)
    return estimate - q * se, estimate + q * se


def _sf(statistic: float, df: float | None) -> float:
    return float(stats.norm.sf(statistic) if df is None or not np.isfinite(df) else stats.t.sf(statistic, df))


@dataclass
class ORResult:
    """Result of :func:`obuchowski_rockette`; ``to_dict()`` is JSON-able, ``format_text()`` is for people."""

    figure_of_merit: str
    covariance_method: str
    modalities: list[str]
    readers: list[str]
    n_cases: int
    fom: np.ndarray  # (T, R)
    components: VarianceComponents
    reference: str
    test: str
    margin: float
    alpha: float
    analyses: dict = field(default_factory=dict)
    reader_differences: list = field(default_factory=list)
    case_counts: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)

    @property
    def mean_fom(self) -> dict[str, float]:
        return {m: float(v) for m, v in zip(self.modalities, self.fom.mean(axis=1))}

    def to_dict(self) -> dict:
        from .common import to_jsonable
        return to_jsonable({
            "figure_of_merit": self.figure_of_merit, "covariance_method": self.covariance_method,
            "method": (f"Obuchowski–Rockette with Hillis (2007) ddf on {self.figure_of_merit}, "
                       f"{self.covariance_method} covariance"),
            "modalities": self.modalities, "readers": self.readers, "n_cases": self.n_cases,
            "case_counts": self.case_counts,
            "fom": {m: dict(zip(self.readers, self.fom[t])) for t, m in enumerate(self.modalities)},
            "mean_fom": self.mean_fom, "variance_components": self.components.to_dict(),
            "reference": self.reference, "test": self.test, "margin": self.margin, "alpha": self.alpha,
            "analyses": self.analyses, "reader_differences": self.reader_differences, "notes": self.notes})

    def format_text(self) -> str:
        from .text import format_or_result
        return format_or_result(self)


def obuchowski_rockette(fom: np.ndarray, covariance: np.ndarray, modalities: list[str], readers: list[str],
                        n_cases: int, *, reference: str | None = None, test: str | None = None,
                        margin: float = 0.05, alpha: float = 0.05, figure_of_merit: str = "AUC",
                        covariance_method: str = "jackknife") -> ORResult:
    """Run the RRRC, FRRC and RRFC analyses on ``fom`` (T, R) with error ``covariance`` (T·R, T·R).

    ``reference``/``test`` name the modalities of the non-inferiority comparison ``test − reference``
    (default: ``real``/the other one if ``real`` is present, else last/first level, so that the difference is
    first − last level as the Iowa program prints it). ``margin`` is the non-inferiority margin in FOM units;
    confidence intervals are two-sided (1 − alpha), so the one-sided non-inferiority test has level alpha/2.
    """
    fom = np.asarray(fom, dtype=float)
    n_t, n_r = fom.shape
    if not np.all(np.isfinite(fom)):
        raise AnalysisError("a figure of merit is not a finite number", where=figure_of_merit,
                            hint="check the ratings for missing or non-numeric values")
    if not (0 < alpha < 1) or margin < 0:
        raise AnalysisError(f"alpha must be in (0, 1) and the margin ≥ 0 (got alpha={alpha}, margin={margin})")
    reference, test = _pick_comparison(modalities, reference, test)
    comp = variance_components(fom, covariance)
    result = ORResult(figure_of_merit, covariance_method, list(modalities), list(readers), int(n_cases), fom,
                      comp, reference, test, float(margin), float(alpha))
    if n_r < 2:
        result.notes.append("Only one reader: reader-to-reader variation cannot be estimated, so the "
                            "random-reader analyses (RRRC, RRFC) are not available; FRRC applies to this reader.")
    if n_t < 2:
        result.notes.append("Only one modality: no comparison between modalities is possible.")
    result.analyses = {name: _analysis(name, result) for name in ANALYSES}
    if n_t >= 2:
        result.reader_differences = _reader_differences(result, covariance)
    return result


def _pick_comparison(modalities, reference, test) -> tuple[str, str]:
    modalities = list(modalities)
    if reference is None:
        reference = "real" if "real" in modalities else modalities[-1]
    if test is None:
        others = [m for m in modalities if m != reference]
        test = "synthetic" if "synthetic" in others else (others[0] if others else reference)
    for name in (reference, test):
        if name not in modalities:
            raise AnalysisError(f"modality {name!r} is not in the data", where="modality",
                                hint=f"the modalities are {', '.join(map(str, modalities))}")
    return reference, test


def _not_estimable(reason: str) -> dict:
    return {"estimable": False, "reason": reason}


def _analysis(name: str, res: ORResult) -> dict:
    """One of RRRC / FRRC / RRFC: overall test, per-modality CIs, differences, non-inferiority."""
    c, fom, alpha = res.components, res.fom, res.alpha
    n_t, n_r = fom.shape
    if name in ("RRRC", "RRFC") and n_r < 2:
        return _not_estimable("needs at least 2 readers (reader variation is part of this analysis)")
    out = {"estimable": True, "label": ANALYSES[name], "reason": None}
    # variance of a modality difference (×R/2) and its degrees of freedom
    if name == "RRRC":
        denominator = c.ms_tr + n_r * max(c.cov2 - c.cov3, 0.0)
        ddf = (denominator ** 2 / (c.ms_tr ** 2 / ((n_t - 1) * (n_r - 1)))) if n_t > 1 and c.ms_tr > 0 else None
    elif name == "FRRC":
        denominator = c.var_error - c.cov1 + (n_r - 1) * max(c.cov2 - c.cov3, 0.0)
        ddf = None
    else:
        denominator = c.ms_tr
        ddf = float((n_t - 1) * (n_r - 1))
    out["modalities"] = [_modality_interval(name, res, t) for t in range(n_t)]
    if n_t < 2:
        out["test"] = _not_estimable("needs at least 2 modalities")
        return out
    if not denominator > 1e-15:
        reason = ("no variability: the ratings give identical figures of merit across cases and readers, so "
                  "the test statistic is undefined")
        out["test"] = _not_estimable(reason)
        out["differences"] = [_not_estimable(reason)]
        out["noninferiority"] = _not_estimable(reason)
        return out
    if name == "FRRC":
        statistic = (n_t - 1) * c.ms_t / denominator
        p = float(stats.chi2.sf(statistic, n_t - 1))
        out["test"] = {"statistic": "chi-square", "value": statistic, "df": n_t - 1, "p": p}
    else:
        statistic = c.ms_t / denominator
        p = float(stats.f.sf(statistic, n_t - 1, ddf) if ddf is not None else stats.chi2.sf(statistic * (n_t - 1),
                                                                                              n_t - 1))
        out["test"] = {"statistic": "F", "value": statistic, "df_num": n_t - 1, "df_den": ddf, "p": p}
    se = float(np.sqrt(2.0 / n_r * denominator))
    out["differences"] = []
    index = {m: i for i, m in enumerate(res.modalities)}
    pairs = [(index[res.test], index[res.reference])]
    pairs += [(i, j) for i, j in combinations(range(n_t), 2) if {i, j} != set(pairs[0])]
    for i, j in pairs:
        estimate = float(fom[i].mean() - fom[j].mean())
        lower, upper = _t_interval(estimate, se, ddf, alpha)
        z = estimate / se
        p_two = 2 * _sf(abs(z), ddf)
        out["differences"].append({"label": f"{res.modalities[i]} − {res.modalities[j]}", "estimate": estimate,
                                   "se": se, "df": ddf, "lower": lower, "upper": upper, "statistic": z,
                                   "p": p_two})
    primary = out["differences"][0]
    statistic = (primary["estimate"] + res.margin) / se
    out["noninferiority"] = {
        "comparison": primary["label"], "margin": res.margin, "estimate": primary["estimate"],
        "lower": primary["lower"], "statistic": statistic, "df": ddf, "p_one_sided": _sf(statistic, ddf),
        "level_one_sided": alpha / 2, "non_inferior": bool(primary["lower"] > -res.margin),
        "rule": f"non-inferior when the lower {100 * (1 - alpha):g}% confidence limit of {primary['label']} "
                f"exceeds −{res.margin:g}"}
    return out


def _modality_interval(name: str, res: ORResult, t: int) -> dict:
    c, alpha = res.components, res.alpha
    n_r = res.fom.shape[1]
    estimate = float(res.fom[t].mean())
    ms_r, cov2, var = c.ms_r_per_modality[t], c.cov2_per_modality[t], c.var_per_modality[t]
    if name == "RRRC":
        denominator = ms_r + n_r * max(cov2, 0.0)
        df = denominator ** 2 / (ms_r ** 2 / (n_r - 1)) if ms_r > 0 else None
        variance = denominator / n_r
    elif name == "FRRC":
        variance, df = (var + (n_r - 1) * max(cov2, 0.0)) / n_r, None
    else:
        variance, df = ms_r / n_r, float(n_r - 1)
    row = {"modality": res.modalities[t], "estimate": estimate}
    if not variance > 1e-15:
        row.update(estimable=False, reason="no variability across cases/readers: the interval is undefined")
        return row
    se = float(np.sqrt(variance))
    lower, upper = _t_interval(estimate, se, df, alpha)
    row.update(se=se, df=df, lower=lower, upper=upper)
    return row


def _reader_differences(res: ORResult, covariance: np.ndarray) -> list[dict]:
    """Per-reader ``test − reference`` with a normal CI from that reader's own variance and Cov1 (FRRC)."""
    n_r = res.fom.shape[1]
    i, j = res.modalities.index(res.test), res.modalities.index(res.reference)
    rows = []
    for r, reader in enumerate(res.readers):
        a, b = i * n_r + r, j * n_r + r
        variance = covariance[a, a] + covariance[b, b] - 2 * covariance[a, b]
        estimate = float(res.fom[i, r] - res.fom[j, r])
        row = {"reader": reader, "label": f"{res.test} − {res.reference}", "estimate": estimate}
        if variance > 1e-15:
            se = float(np.sqrt(variance))
            lower, upper = _t_interval(estimate, se, None, res.alpha)
            row.update(se=se, lower=lower, upper=upper, p=2 * _sf(abs(estimate) / se, None))
        else:
            row.update(estimable=False, reason="this reader's two figures of merit have no case variability")
        rows.append(row)
    return rows
