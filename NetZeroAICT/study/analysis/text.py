"""Plain-text rendering of an OR-MRMC result, laid out like the Iowa OR-DBM MRMC program's summary."""

from __future__ import annotations

from .obuchowski_rockette import ANALYSES


def _num(value, digits: int = 8) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _df(value) -> str:
    return "∞ (normal)" if value is None else f"{value:.2f}"


def format_or_result(result) -> str:
    """Iowa-style text summary of an :class:`~.obuchowski_rockette.ORResult`."""
    c = result.components
    lines = [f"Obuchowski–Rockette MRMC analysis of {result.figure_of_merit} ({result.covariance_method} "
             f"covariance, Hillis 2007 ddf)",
             f"{len(result.readers)} readers, {len(result.modalities)} modalities, {result.n_cases} cases "
             + ", ".join(f"{v} {k}" for k, v in result.case_counts.items()),
             "", f"{result.figure_of_merit} per reader:"]
    lines.append("  reader      " + "  ".join(f"{m:>12}" for m in result.modalities))
    for r, reader in enumerate(result.readers):
        lines.append(f"  {reader:<10}  " + "  ".join(f"{result.fom[t, r]:12.8f}" for t in range(len(result.modalities))))
    lines.append("  mean        " + "  ".join(f"{v:12.8f}" for v in result.mean_fom.values()))
    lines += ["", f"MS(T) = {_num(c.ms_t)}   MS(R) = {_num(c.ms_r)}   MS(T×R) = {_num(c.ms_tr)}",
              f"Var(error) = {_num(c.var_error)}   Cov1 = {_num(c.cov1)}   Cov2 = {_num(c.cov2)}   "
              f"Cov3 = {_num(c.cov3)}"]
    level = f"{100 * (1 - result.alpha):g}%"
    for name, label in ANALYSES.items():
        block = result.analyses[name]
        lines += ["", f"{name}: {label}"]
        if not block.get("estimable", True):
            lines.append(f"  not estimable: {block['reason']}")
            continue
        test = block.get("test", {})
        if not test.get("estimable", True):
            lines.append(f"  test not estimable: {test['reason']}")
        elif test["statistic"] == "F":
            lines.append(f"  F({test['df_num']}, {_df(test['df_den'])}) = {test['value']:.4f}, p = {test['p']:.4f}")
        else:
            lines.append(f"  chi-square({test['df']}) = {test['value']:.4f}, p = {test['p']:.4f}")
        for d in block.get("differences", []):
            if d.get("estimable", True):
                lines.append(f"  {d['label']}: {d['estimate']:.5f}, SE {d['se']:.5f}, df {_df(d['df'])}, "
                             f"{level} CI ({d['lower']:.5f}, {d['upper']:.5f}), p = {d['p']:.4f}")
        for m in block["modalities"]:
            if m.get("estimable", True):
                lines.append(f"  {m['modality']}: {m['estimate']:.5f}, SE {m['se']:.5f}, df {_df(m['df'])}, "
                             f"{level} CI ({m['lower']:.5f}, {m['upper']:.5f})")
            else:
                lines.append(f"  {m['modality']}: {m['estimate']:.5f}, CI not estimable ({m['reason']})")
        ni = block.get("noninferiority")
        if ni and ni.get("estimable", True):
            verdict = "NON-INFERIOR" if ni["non_inferior"] else "non-inferiority NOT shown"
            lines.append(f"  non-inferiority of {ni['comparison']} at margin {ni['margin']:g}: lower limit "
                         f"{ni['lower']:.5f}, one-sided p = {ni['p_one_sided']:.4f} → {verdict}")
    lines += [f"note: {n}" for n in result.notes]
    return "\n".join(lines)
