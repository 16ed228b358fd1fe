"""All statistics of a reader study from its tidy answer export: :func:`analyze_answers`.

Questions are found by their ``role`` (see the protocol): ``confidence`` → OR-MRMC ROC analysis with
non-inferiority and study sizing; ``diagnosis`` → sensitivity/specificity (OR) and agreement; ``quality`` →
Likert comparison and agreement; ``diameter`` → Bland–Altman and ICC; ``turing`` → visual Turing test.
A section the data cannot support is kept with ``{"estimable": False, "reason": …}`` and a note.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ... import __version__
from .answers import prepare_answers, question_label, question_spec
from .auc import roc_points
from .common import AnalysisError, StatisticsTable, to_jsonable
from .measurements import measurement_agreement
from .mrmc import binary_mrmc, or_mrmc_arrays
from .obuchowski_rockette import ANALYSES
from .quality import agreement_block, likert_quality
from .ratings import cross_ratings
from .sizing import sizing_table
from .turing import turing_test

COMPONENT_LABELS = {"ms_t": "MS(T)", "ms_r": "MS(R)", "ms_tr": "MS(T×R)", "var_error": "Var(error)", "cov1": "Cov1",
                    "cov2": "Cov2", "cov3": "Cov3"}


def analyze_answers(tidy_df: pd.DataFrame, protocol_dict: dict | None = None, *, margin: float = 0.05,
                    alpha: float = 0.05, covariance: str = "jackknife", quality_threshold: float = 3,
                    n_boot: int = 2000) -> dict:
    """Every statistic of the study, as a JSON-able dict (see the module docstring for the sections).

    ``tidy_df``: the tidy answer export (columns as in :data:`NetZeroAICT.study.export.TIDY_COLUMNS`: reader_id, session_kind, case_id, modality,
    question_id, role, value, truth, …). ``protocol_dict`` (optional) supplies question texts, scales and
    case truth where the export's truth cell is empty. ``margin``: non-inferiority margin for AUC,
    sensitivity and specificity; ``alpha``: two-sided level of every CI.
    """
    table, notes = prepare_answers(tidy_df, protocol_dict)
    stats_table = StatisticsTable()
    results = {
        "study_id": str(table["study_id"].iloc[0]) if "study_id" in table.columns else None,
        "software": f"NetZeroAICT {__version__}", "margin": margin, "alpha": alpha,
        "counts": {"readers": int(table["reader"].nunique()), "cases": int(table["case"].nunique()),
                   "answers": len(table)},
        "readers": sorted(table["reader"].unique()),
        "mrmc": {}, "diagnosis": {}, "turing": {}, "quality": {}, "measurements": {}, "notes": notes}
    diagnostic = table[table["session_kind"] != "turing"]
    handlers = {
        "confidence": ("mrmc", diagnostic, lambda rows, s: _mrmc(rows, s, margin, alpha, covariance)),
        "diagnosis": ("diagnosis", diagnostic, lambda rows, s: _diagnosis(rows, s, stats_table, margin, alpha)),
        "quality": ("quality", diagnostic,
                    lambda rows, s: _quality(rows, s, stats_table, quality_threshold, alpha, protocol_dict)),
        "diameter": ("measurements", diagnostic,
                     lambda rows, s: measurement_agreement(rows, stats_table, s, _unit(protocol_dict, rows),
                                                           alpha)),
        "turing": ("turing", table, lambda rows, s: turing_test(rows, stats_table, s, alpha, n_boot)),
    }
    for role, (key, source, handler) in handlers.items():
        for question_id, rows in source[source["role"] == role].groupby("question_id", sort=True):
            label = question_label(protocol_dict, question_id)
            section = f"{key}: {label}"
            try:
                entry = handler(rows, section)
            except AnalysisError as error:
                entry = {"estimable": False, "reason": str(error)}
                stats_table.not_estimable(section, "analysis", entry["reason"])
                notes.append(f"{section}: not estimable — {entry['reason']}")
            entry["question"] = label
            results[key][str(question_id)] = entry
    if not any(results[k] for k in ("mrmc", "diagnosis", "turing", "quality", "measurements")):
        notes.append("No question with a role the analysis knows (confidence, diagnosis, quality, diameter, "
                     "turing) was found in the export.")
    results["statistics"] = stats_table.rows
    _mrmc_statistics(results, stats_table)
    return to_jsonable(results)


def _likert_scale(protocol, rows) -> list[float] | None:
    spec = question_spec(protocol, rows["question_id"].iloc[0])
    if spec.get("anchors"):
        try:
            return sorted(float(k) for k in spec["anchors"])
        except (TypeError, ValueError):
            return None
    if spec.get("min") is not None and spec.get("max") is not None:
        return [float(v) for v in np.arange(float(spec["min"]), float(spec["max"]) + 1)]
    return None


def _unit(protocol, rows) -> str:
    spec = question_spec(protocol, rows["question_id"].iloc[0])
    return str(spec.get("unit") or "mm")


def _mrmc_table(rows: pd.DataFrame) -> pd.DataFrame:
    if rows["abnormal"].isna().all():
        raise AnalysisError("no ground truth (abnormal) for the cases", hint="fill the truth column or give the "
                                                                             "protocol")
    missing = rows["abnormal"].isna()
    return pd.DataFrame({"reader": rows["reader"], "modality": rows["modality"], "case": rows["case"],
                         "truth": rows["abnormal"].map({True: 1, False: 0}).where(~missing, None),
                         "rating": rows["number"]})[~missing]


def _mrmc(rows, section, margin, alpha, covariance) -> dict:
    crossed = cross_ratings(_mrmc_table(rows), drop_incomplete=True)
    result = or_mrmc_arrays(crossed.ratings, crossed.truth, crossed.modalities, crossed.readers,
                            covariance=covariance, margin=margin, alpha=alpha)
    result.notes[:0] = crossed.notes
    entry = result.to_dict()
    entry["roc"] = {m: {r: dict(zip(("fpf", "tpf"), roc_points(crossed.ratings[t, i], crossed.truth)))
                        for i, r in enumerate(crossed.readers)} for t, m in enumerate(crossed.modalities)}
    entry["section"] = section
    if len(result.modalities) == 2 and len(result.readers) >= 2:
        try:
            entry["sizing"] = sizing_table(result, margin=margin, alpha=alpha / 2)
        except AnalysisError as error:
            entry["notes"].append(f"Study sizing not possible: {error}")
    return entry


def _diagnosis(rows, section, stats_table, margin, alpha) -> dict:
    data = _mrmc_table(rows)
    data["rating"] = data["rating"].map(lambda v: v if np.isnan(v) else float(v != 0))
    crossed = cross_ratings(data, drop_incomplete=True)
    entry = {"section": section}
    for name, result in binary_mrmc(crossed, margin=margin, alpha=alpha).items():
        entry[name] = result.to_dict() if not isinstance(result, str) else {"estimable": False, "reason": result}
        if isinstance(entry[name], dict) and "analyses" in entry[name]:
            entry[name]["section"] = f"{section} — {name}"
    entry["agreement"] = agreement_block(rows, stats_table, section, ordinal=False)
    return entry


def _quality(rows, section, stats_table, threshold, alpha, protocol) -> dict:
    entry = likert_quality(rows, stats_table, section, threshold, alpha, _likert_scale(protocol, rows))
    entry["agreement"] = agreement_block(rows, stats_table, section, ordinal=True)
    return entry


def _mrmc_statistics(results: dict, stats_table: StatisticsTable) -> None:
    """Statistics rows of every OR result in ``results`` (AUC, sensitivity, specificity)."""
    blocks = [v for v in results["mrmc"].values() if "analyses" in v]
    for entry in results["diagnosis"].values():
        blocks += [entry[k] for k in ("sensitivity", "specificity") if isinstance(entry.get(k), dict)
                   and "analyses" in entry[k]]
    for block in blocks:
        section, fom = block["section"], block["figure_of_merit"]
        base = f"Obuchowski–Rockette, {block['covariance_method']} covariance"
        for name, label in ANALYSES.items():
            analysis = block["analyses"][name]
            if not analysis.get("estimable", True):
                stats_table.not_estimable(section, f"{name} analysis", analysis["reason"], base)
                continue
            method = f"{base}, {name} ({label})" + (", Hillis 2007 ddf" if name == "RRRC" else "")
            for m in analysis["modalities"]:
                stats_table.add(section, f"mean {fom}", m["estimate"], method, lower=m.get("lower"),
                                upper=m.get("upper"), df=m.get("df"), modality=m["modality"],
                                note=m.get("reason"))
            for d in analysis.get("differences", []):
                if d.get("estimable", True):
                    stats_table.add(section, f"{fom} difference {d['label']}", d["estimate"], method,
                                    lower=d["lower"], upper=d["upper"], p=d["p"], df=d["df"])
            test = analysis.get("test", {})
            if test.get("estimable", True) and "value" in test:
                stats_table.add(section, f"{name} {test['statistic']}", test["value"], method, p=test["p"],
                                df=test.get("df_den", test.get("df")))
            ni = analysis.get("noninferiority", {})
            if ni.get("estimable", True) and ni:
                stats_table.add(section, f"non-inferiority of {ni['comparison']} at margin {ni['margin']:g}",
                                ni["lower"], method + "; value = lower confidence limit, p one-sided",
                                p=ni["p_one_sided"], df=ni["df"],
                                note="non-inferior" if ni["non_inferior"] else "non-inferiority not shown")
        for reader_row in block.get("reader_differences", []):
            stats_table.add(section, f"{fom} difference {reader_row['label']}", reader_row["estimate"],
                            "per-reader difference, normal CI from that reader's jackknife variances",
                            lower=reader_row.get("lower"), upper=reader_row.get("upper"), p=reader_row.get("p"),
                            reader=reader_row["reader"], note=reader_row.get("reason"))
        components = block["variance_components"]
        for key, label in COMPONENT_LABELS.items():
            stats_table.add(section, label, components[key], base + " variance components")
        for row in block.get("sizing", []):
            stats_table.add(section, f"cases for 80% power, {row['n_readers']} readers", row["n_cases"],
                            "RRRC non-inferiority power from pilot OR variance components (noncentral t), true "
                            "difference 0", note=row.get("reason"))
