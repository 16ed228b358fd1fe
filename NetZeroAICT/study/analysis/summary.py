"""A few lines of plain text with the headline results of :func:`~.analyze.analyze_answers`."""

from __future__ import annotations


def _ci(pair) -> str:
    return "n/a" if not pair or pair[0] is None else f"({pair[0]:.3f}, {pair[1]:.3f})"


def _or_line(label: str, entry: dict) -> str:
    means = ", ".join(f"{m} {v:.3f}" for m, v in entry["mean_fom"].items())
    rrrc = entry["analyses"]["RRRC"]
    if not rrrc.get("estimable", True):
        return f"{label}: {means}; RRRC not estimable ({rrrc['reason']})"
    ni = rrrc.get("noninferiority", {})
    if not ni or not ni.get("estimable", True):
        return f"{label}: {means}; comparison not estimable ({ni.get('reason', 'one modality')})"
    verdict = "non-inferior" if ni["non_inferior"] else "non-inferiority not shown"
    return (f"{label}: {means}; {ni['comparison']} = {ni['estimate']:.4f}, CI lower limit {ni['lower']:.4f} "
            f"vs margin −{ni['margin']:g} → {verdict} (one-sided p = {ni['p_one_sided']:.4f})")


def summary_lines(results: dict) -> list[str]:
    """Headline results, one line per analysed question."""
    counts = results["counts"]
    lines = [f"study {results.get('study_id')}: {counts['readers']} readers, {counts['cases']} cases, "
             f"{counts['answers']} answers"]
    for key in ("mrmc", "diagnosis", "turing", "quality", "measurements"):
        for entry in results.get(key, {}).values():
            label = f"{key} [{entry.get('question')}]"
            if entry.get("estimable") is False:
                lines.append(f"{label}: not estimable — {entry['reason']}")
            elif key == "mrmc":
                lines.append(_or_line(label, entry))
            elif key == "diagnosis":
                for name in ("sensitivity", "specificity"):
                    sub = entry.get(name, {})
                    lines.append(f"{label} {name}: not estimable — {sub.get('reason')}"
                                 if sub.get("estimable") is False else _or_line(f"{label} {name}", sub))
            elif key == "turing":
                p = entry["pooled"]
                lines.append(f"{label}: accuracy {p['value']:.3f}, cluster-bootstrap CI {_ci(p['bootstrap'])}, "
                             f"binomial p vs chance {p['p_chance']:.4f}")
            elif key == "quality":
                parts = [f"{m['modality']} median {m['median']:g} [{m['q1']:g}, {m['q3']:g}], diagnostic "
                         f"{m['diagnostic']['value']:.3f}" for m in entry["modalities"]]
                lines.append(f"{label}: " + "; ".join(parts))
            else:
                ba = entry.get("bland_altman", {})
                lines.append(f"{label}: not estimable — {ba.get('reason')}" if ba.get("estimable") is False else
                             f"{label}: bias {ba['bias']:.3f} {entry['unit']} {_ci(ba['bias_ci'])}, limits of "
                             f"agreement {ba['lower_limit']:.3f} to {ba['upper_limit']:.3f} {entry['unit']}")
    lines += [f"note: {n}" for n in results.get("notes", [])]
    return lines
