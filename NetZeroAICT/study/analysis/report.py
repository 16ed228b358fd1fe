"""The study report: one self-contained HTML file (figures embedded as base64 PNG) plus every statistic as
JSON (``statistics.json``, the full results) and CSV (``statistics.csv``, one row per statistic with its
method), and the figures as PNG files. Readers appear only by pseudonym.

    path = write_report(analyze_answers(tidy), "report/")
"""

from __future__ import annotations

import base64
import csv
import html
import json
from pathlib import Path

from .common import to_jsonable
from .obuchowski_rockette import ANALYSES
from . import plots

CSV_COLUMNS = ("section", "quantity", "value", "lower", "upper", "p", "df", "n", "modality", "reader", "method", "note")


def _fmt(value, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return html.escape(str(value))


def _p(value) -> str:
    return "n/a" if value is None else ("< 0.0001" if value < 1e-4 else f"{value:.4f}")


def _ci(lower, upper, digits: int = 4) -> str:
    return "n/a" if lower is None or upper is None else f"({lower:.{digits}f}, {upper:.{digits}f})"


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class _Figures:
    """Collects figures: embeds each in the HTML and writes it as a PNG beside the report."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.count = 0

    def embed(self, name: str, make, entry: dict, caption: str) -> str:
        try:
            png = make(entry)
        except (KeyError, TypeError, ValueError) as error:
            return f'<p class="note">Figure not drawn ({html.escape(str(error))}).</p>'
        self.count += 1
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / f"{self.count:02d}_{name}.png").write_bytes(png)
        data = base64.b64encode(png).decode("ascii")
        return (f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
                f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _not_estimable(entry: dict) -> str | None:
    if isinstance(entry, dict) and entry.get("estimable") is False:
        return f'<p class="note">Not estimable: {html.escape(str(entry.get("reason")))}</p>'
    return None


def _or_section(entry: dict, figures: _Figures, title: str) -> str:
    fom = entry["figure_of_merit"]
    parts = [f"<h3>{html.escape(title)}</h3>",
             f"<p>{entry['n_cases']} cases ({', '.join(f'{v} {k}' for k, v in entry['case_counts'].items())}), "
             f"{len(entry['readers'])} readers. Method: {html.escape(entry['method'])}.</p>"]
    primary = entry["analyses"]["RRRC"]
    ni = primary.get("noninferiority") if primary.get("estimable", True) else None
    if ni and ni.get("estimable", True):
        verdict = "shown" if ni["non_inferior"] else "not shown"
        parts.append(f'<p class="verdict {"ok" if ni["non_inferior"] else "no"}">Non-inferiority of '
                     f"{html.escape(ni['comparison'])} at margin {ni['margin']:g} (random readers, random cases): "
                     f"<b>{verdict}</b> — difference {ni['estimate']:.4f}, lower "
                     f"{100 * (1 - entry['alpha']):g}% limit {ni['lower']:.4f}, one-sided p = "
                     f"{_p(ni['p_one_sided'])} (level {ni['level_one_sided']:g}).</p>")
    readers = entry["readers"]
    rows = [[html.escape(r)] + [_fmt(entry["fom"][m][r]) for m in entry["modalities"]] for r in readers]
    rows.append(["<b>mean</b>"] + [f"<b>{_fmt(entry['mean_fom'][m])}</b>" for m in entry["modalities"]])
    parts.append(_table(["reader"] + entry["modalities"], rows))
    rows = []
    for name, label in ANALYSES.items():
        a = entry["analyses"][name]
        if not a.get("estimable", True):
            rows.append([name, html.escape(label), f"n/a: {html.escape(a['reason'])}", "", "", "", ""])
            continue
        test = a.get("test", {})
        d = (a.get("differences") or [{}])[0]
        if not test.get("estimable", True) or not d.get("estimable", True):
            reason = test.get("reason") or d.get("reason")
            rows.append([name, html.escape(label), f"n/a: {html.escape(str(reason))}", "", "", "", ""])
            continue
        if test["statistic"] == "F":
            df = test.get("df_den")
            statistic = (f"F({test['df_num']}, {df:.2f}) = {test['value']:.3f}" if df is not None
                         else f"F = {test['value']:.3f} (ddf ∞)")
        else:
            statistic = f"χ²({test['df']}) = {test['value']:.3f}"
        ni = a.get("noninferiority", {})
        rows.append([name, html.escape(label), statistic, _p(test["p"]),
                     f"{d['estimate']:.4f} (SE {d['se']:.4f})", _ci(d["lower"], d["upper"]),
                     _p(ni.get("p_one_sided"))])
    parts.append(_table(["analysis", "readers / cases", "test", "p", f"{entry['test']} − {entry['reference']}",
                         f"{100 * (1 - entry['alpha']):g}% CI", "non-inferiority p (one-sided)"], rows))
    rows = []
    for m in primary.get("modalities", []) if primary.get("estimable", True) else []:
        rows.append([html.escape(m["modality"]), _fmt(m["estimate"]), _ci(m.get("lower"), m.get("upper")),
                     _fmt(m.get("df"), 2) if m.get("df") is not None else "n/a"])
    if rows:
        parts.append(f"<p>Mean {fom} per modality (RRRC {100 * (1 - entry['alpha']):g}% CI):</p>"
                     + _table(["modality", f"mean {fom}", "CI", "df"], rows))
    c = entry["variance_components"]
    parts.append("<p class='small'>Variance components: " + ", ".join(
        f"{k} = {_fmt(c[key], 8)}" for k, key in (("MS(T)", "ms_t"), ("MS(T×R)", "ms_tr"), ("Var(error)", "var_error"),
                                                   ("Cov1", "cov1"), ("Cov2", "cov2"), ("Cov3", "cov3"))) + "</p>")
    if "roc" in entry:
        parts.append(figures.embed("roc", plots.roc_curves, entry, f"Empirical ROC curves per reader ({title})"))
    if entry.get("reader_differences"):
        parts.append(figures.embed(f"forest_{fom}", plots.difference_forest, entry,
                                   f"{fom} difference {entry['test']} − {entry['reference']}: readers and pooled"))
    if entry.get("sizing"):
        rows = [[str(s["n_readers"]), str(s["n_cases"]) if s["n_cases"] is not None else "n/a",
                 html.escape(s["reason"] or f"power {s['power']:.3f}")] for s in entry["sizing"]]
        parts.append(f"<p>Study sizing: cases needed for 80% power to show non-inferiority at margin "
                     f"{entry['margin']:g} (RRRC, one-sided level {entry['alpha'] / 2:g}, true difference 0, "
                     f"variance components of this study as pilot, same case mix):</p>"
                     + _table(["readers", "cases", "note"], rows))
    parts += [f'<p class="note">{html.escape(n)}</p>' for n in entry.get("notes", [])]
    return "\n".join(parts)


def _turing_section(entry: dict, figures: _Figures) -> str:
    pooled = entry["pooled"]
    rows = [[html.escape(r["reader"]), f"{r['k']}/{r['n']}", _fmt(r["value"]), _ci(*r["wilson"]),
             _ci(*r["clopper_pearson"])] for r in entry["readers"]]
    rows.append(["<b>pooled</b>", f"{pooled['k']}/{pooled['n']}", f"<b>{_fmt(pooled['value'])}</b>",
                 _ci(*pooled["wilson"]), _ci(*pooled["clopper_pearson"])])
    parts = [f"<p>Pooled accuracy {pooled['value']:.3f}; two-way (reader × case) cluster bootstrap CI "
             f"{_ci(*pooled['bootstrap'], 3)}; exact binomial test against chance p = {_p(pooled['p_chance'])}. "
             f"Accuracy near 0.5 means readers cannot tell synthetic from real.</p>",
             _table(["reader", "correct", "accuracy", "Wilson CI", "Clopper–Pearson CI"], rows)]
    rows = [[html.escape(m["modality"]), _fmt(m["called_real"]["value"]), _ci(*m["called_real"]["wilson"])]
            for m in entry["modalities"]]
    parts.append(_table(["true modality", "proportion called real", "Wilson CI"], rows))
    kappa = entry.get("fleiss_kappa", {})
    parts.append(f"<p>Fleiss' kappa of the calls between readers: "
                 f"{_fmt(kappa.get('value')) if kappa.get('estimable', True) else 'n/a — ' + html.escape(kappa['reason'])}</p>")
    parts.append(figures.embed("turing", plots.turing_bars, entry, "Visual Turing test accuracy"))
    return "\n".join(parts)


def _agreement(entry: dict) -> str:
    rows = []
    for k in entry.get("kappa_real_vs_synthetic", []):
        value = _fmt(k["value"]) if k.get("estimable", True) else "n/a — " + html.escape(k["reason"])
        rows.append([html.escape(k["reader"]), "real vs synthetic (same reader)",
                     f"Cohen's kappa ({'unweighted' if k.get('weights') in (None, 'none') else k['weights'] + ' weights'})", value, _ci(k.get("lower"), k.get("upper"))])
    for block in entry.get("between_readers", []):
        for key, label in (("fleiss_kappa", "Fleiss' kappa"), ("icc_2_1", "ICC(2,1)"),
                           ("krippendorff_alpha", "Krippendorff's alpha")):
            v = block.get(key, {})
            value = _fmt(v.get("value")) if v.get("estimable", True) else "n/a — " + html.escape(v["reason"])
            rows.append(["all", f"between readers, {html.escape(block['modality'])}", label, value,
                         _ci(v.get("lower"), v.get("upper"))])
    return _table(["reader", "comparison", "statistic", "value", "95% CI"], rows) if rows else ""


def _quality_section(entry: dict, figures: _Figures) -> str:
    rows = [[html.escape(m["modality"]), str(m["n"]), f"{m['median']:g} [{m['q1']:g}, {m['q3']:g}]",
             _fmt(m["diagnostic"]["value"], 3), _ci(*m["diagnostic"]["wilson"], 3)] for m in entry["modalities"]]
    parts = [_table(["modality", "ratings", "median [IQR]", f"rated diagnostic (≥ {entry['threshold']:g})",
                     "Wilson CI"], rows)]
    w = entry.get("wilcoxon")
    if w:
        parts.append("<p>Paired Wilcoxon signed-rank (per-case means over readers, synthetic − real): "
                     + (f"median difference {w['median_difference']:.3f}, n = {w['n_cases']}, p = {_p(w['p'])}"
                        if w.get("estimable", True) else "n/a — " + html.escape(w["reason"])) + "</p>")
    parts.append(figures.embed("likert", plots.likert_distribution, entry, "Distribution of quality ratings"))
    parts.append(_agreement(entry.get("agreement", {})))
    return "\n".join(parts)


def _measurement_section(entry: dict, figures: _Figures) -> str:
    ba, unit = entry["bland_altman"], entry["unit"]
    parts = []
    if ba.get("estimable", True):
        parts.append(_table(["quantity", f"value ({unit})", "95% CI"], [
            ["bias (synthetic − real)", _fmt(ba["bias"], 3), _ci(*ba["bias_ci"], 3)],
            ["lower limit of agreement", _fmt(ba["lower_limit"], 3), _ci(*ba["lower_limit_ci"], 3)],
            ["upper limit of agreement", _fmt(ba["upper_limit"], 3), _ci(*ba["upper_limit_ci"], 3)]]))
        parts.append(figures.embed("bland_altman", plots.bland_altman_plot, entry, "Bland–Altman plot"))
    else:
        parts.append(_not_estimable(ba))
    rows = []
    icc = entry.get("icc_real_vs_synthetic", {})
    rows.append(["real vs synthetic (per-case means)", _fmt(icc.get("value")) if icc.get("estimable", True)
                 else "n/a — " + html.escape(icc["reason"]), _ci(icc.get("lower"), icc.get("upper"), 2)])
    for block in entry.get("icc_between_readers", []):
        rows.append([f"between readers, {html.escape(block['modality'])}",
                     _fmt(block.get("value")) if block.get("estimable", True) else "n/a — " + html.escape(block["reason"]),
                     _ci(block.get("lower"), block.get("upper"), 2)])
    parts.append(_table(["ICC(2,1)", "value", "95% CI"], rows))
    return "\n".join(parts)


_STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1050px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em} h2{border-bottom:2px solid #1f5fa8;padding-bottom:.15em;margin-top:1.8em}
h3{margin-bottom:.3em} table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left} th{background:#eef3fa}
figure{margin:1em 0} img{max-width:100%} figcaption{font-size:.85em;color:#555}
.note{color:#8a4b00} .small{font-size:.85em;color:#444} .banner{background:#fff4d6;border:1px solid #e0b84c;
padding:.5em .8em} .verdict{padding:.4em .7em;border-radius:4px} .ok{background:#e3f4e3} .no{background:#fbe5e5}
details{margin:1em 0} summary{cursor:pointer;font-weight:600}
"""

_METHODS = [
    "ROC area: empirical (trapezoidal, Wilcoxon–Mann–Whitney) AUC of each reader in each modality from the "
    "confidence ratings, ties counted one half.",
    "MRMC: Obuchowski–Rockette (1995) analysis of the AUCs with the error covariance estimated by the case-deletion "
    "jackknife (or DeLong et al. 1988 when chosen) and Hillis (2007) denominator degrees of freedom; analyses for "
    "random readers & random cases (generalises to both), fixed readers & random cases, random readers & fixed cases "
    "(as the Iowa OR-DBM MRMC program). Validated against the published Iowa output on Van Dyke et al. (1993).",
    "Non-inferiority: synthetic − real exceeds −margin when the lower two-sided (1 − α) confidence limit lies "
    "above −margin (one-sided test at level α/2).",
    "Sensitivity and specificity of binary diagnoses: the same OR analysis with the proportion of correct calls on "
    "abnormal (sensitivity) or normal (specificity) cases as figure of merit and its jackknife covariance.",
    "Visual Turing test: accuracy with Wilson and Clopper–Pearson intervals; pooled accuracy CI by a two-way "
    "bootstrap resampling readers and cases independently; exact binomial test against 0.5.",
    "Quality: medians and interquartile ranges; proportion rated diagnostic with Wilson intervals; paired Wilcoxon "
    "signed-rank test on per-case means over readers.",
    "Agreement: Cohen's kappa (quadratic weights for ordinal scales; statsmodels), Fleiss' kappa (statsmodels), "
    "ICC(2,1) two-way random absolute agreement (pingouin), Krippendorff's alpha (krippendorff).",
    "Measurements: Bland–Altman bias and 95% limits of agreement of synthetic − real on per-case means over readers, "
    "with t-based CI of the bias and approximate CIs of the limits (Bland & Altman 1986).",
    "Study sizing: power of the RRRC non-inferiority test from this study's OR variance components (noncentral t, "
    "Hillis ddf), error variances scaled by the number of cases.",
]


def write_report(results: dict, out_dir: str | Path) -> Path:
    """Write ``report.html`` (self-contained), ``statistics.json``, ``statistics.csv`` and ``figures/*.png``.

    ``results``: the dict from :func:`~.analyze.analyze_answers` (or its JSON). Returns the HTML path.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results = to_jsonable(results)
    figures = _Figures(out / "figures")
    title = f"Reader study {results.get('study_id') or ''}".strip()
    body = [f"<h1>{html.escape(title)}: analysis report</h1>",
            f"<p class='banner'>Research use only. Synthetic images were produced by NetZeroAICT and are labelled "
            f"synthetic. Readers are shown by pseudonym. Produced by {html.escape(results.get('software', ''))}; "
            f"non-inferiority margin {results.get('margin')}, CIs at {100 * (1 - results.get('alpha', 0.05)):g}%.</p>",
            f"<p>{results['counts']['readers']} readers ({', '.join(map(html.escape, results['readers']))}), "
            f"{results['counts']['cases']} cases, {results['counts']['answers']} answers.</p>"]
    sections = (("mrmc", "Diagnostic accuracy: ROC area (MRMC)"), ("diagnosis", "Sensitivity and specificity"),
                ("turing", "Visual Turing test"), ("quality", "Image quality"), ("measurements", "Measurements"))
    for key, heading in sections:
        if not results.get(key):
            continue
        body.append(f"<h2>{heading}</h2>")
        for question_id, entry in results[key].items():
            label = entry.get("question", question_id)
            missing = _not_estimable(entry)
            if missing:
                body += [f"<h3>{html.escape(label)}</h3>", missing]
            elif key == "mrmc":
                body.append(_or_section(entry, figures, label))
            elif key == "diagnosis":
                for name in ("sensitivity", "specificity"):
                    sub = entry.get(name, {})
                    body.append(_not_estimable(sub) and f"<h3>{html.escape(label)} — {name}</h3>"
                                + _not_estimable(sub) or _or_section(sub, figures, f"{label} — {name}"))
                body.append(f"<h3>{html.escape(label)} — agreement</h3>" + _agreement(entry.get("agreement", {})))
            elif key == "turing":
                body += [f"<h3>{html.escape(label)}</h3>", _turing_section(entry, figures)]
            elif key == "quality":
                body += [f"<h3>{html.escape(label)}</h3>", _quality_section(entry, figures)]
            else:
                body += [f"<h3>{html.escape(label)}</h3>", _measurement_section(entry, figures)]
    if results.get("notes"):
        body.append("<h2>Notes</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in results["notes"]) + "</ul>")
    body.append("<h2>Methods</h2><ul>" + "".join(f"<li>{html.escape(m)}</li>" for m in _METHODS) + "</ul>")
    rows = [[html.escape(r["section"]), html.escape(r["quantity"]), html.escape(r["modality"] or ""),
             html.escape(r["reader"] or ""), _fmt(r["value"]), _ci(r["lower"], r["upper"]), _p(r["p"]),
             html.escape(r["method"]) + (f" <i>({html.escape(r['note'])})</i>" if r.get("note") else "")]
            for r in results.get("statistics", [])]
    body.append(f"<details><summary>Every statistic ({len(rows)}; also in statistics.csv / statistics.json)"
                f"</summary>{_table(['section', 'quantity', 'modality', 'reader', 'value', 'CI', 'p', 'method'], rows)}"
                f"</details>")
    page = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body>{''.join(body)}</body></html>")
    path = out / "report.html"
    path.write_text(page, encoding="utf-8")
    (out / "statistics.json").write_text(json.dumps(results, indent=1, ensure_ascii=False, allow_nan=False),
                                         encoding="utf-8")
    with open(out / "statistics.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in results.get("statistics", []):
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in CSV_COLUMNS})
    return path
