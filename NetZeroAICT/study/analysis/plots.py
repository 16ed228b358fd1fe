"""Figures of the study report, each returned as PNG bytes (matplotlib, Agg backend, no display needed).

Every function takes the JSON-able result sections of :func:`~.analyze.analyze_answers` (not raw data), so a
report can be rebuilt from ``statistics.json`` alone.
"""

from __future__ import annotations

import io

import numpy as np

COLOURS = {"real": "#1f5fa8", "synthetic": "#d2691e"}


def _figure(width: float = 7.0, height: float = 4.0, ncols: int = 1):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(width, height), squeeze=False)
    return fig, axes[0]


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def roc_curves(entry: dict) -> bytes:
    """Empirical ROC curve of every reader, one panel per modality, AUC in the legend."""
    modalities = list(entry["roc"])
    fig, axes = _figure(4.2 * len(modalities), 4.2, len(modalities))
    for ax, modality in zip(axes, modalities):
        for reader, points in entry["roc"][modality].items():
            auc = entry["fom"][modality][reader]
            ax.plot(points["fpf"], points["tpf"], marker=".", lw=1.3, label=f"{reader} (AUC {auc:.3f})")
        ax.plot([0, 1], [0, 1], color="0.7", lw=0.8, ls="--")
        ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="false-positive fraction", ylabel="true-positive fraction",
               title=f"{modality}: mean AUC {entry['mean_fom'][modality]:.3f}")
        ax.set_aspect("equal")
        ax.legend(fontsize=7, loc="lower right")
    return _png(fig)


def difference_forest(entry: dict) -> bytes:
    """Per-reader and pooled (RRRC, FRRC, RRFC) differences ``test − reference`` with CIs, margin marked."""
    rows = [(r["reader"], r["estimate"], r.get("lower"), r.get("upper")) for r in entry["reader_differences"]]
    for name in ("RRRC", "FRRC", "RRFC"):
        analysis = entry["analyses"][name]
        differences = analysis.get("differences") or []
        if analysis.get("estimable", True) and differences and differences[0].get("estimable", True):
            d = differences[0]
            rows.append((f"all readers, {name}", d["estimate"], d["lower"], d["upper"]))
    fig, axes = _figure(7.0, 0.45 * len(rows) + 1.4)
    ax = axes[0]
    y = np.arange(len(rows))[::-1]
    for yi, (label, estimate, lower, upper) in zip(y, rows):
        pooled = label.startswith("all readers")
        colour = "black" if pooled else "0.45"
        if lower is not None:
            ax.plot([lower, upper], [yi, yi], color=colour, lw=2.2 if pooled else 1.2)
        ax.plot(estimate, yi, marker="D" if pooled else "o", color=colour, ms=7 if pooled else 5)
    ax.axvline(0, color="0.6", lw=0.8)
    ax.axvline(-entry["margin"], color="#b22222", ls="--", lw=1, label=f"non-inferiority margin −{entry['margin']:g}")
    ax.set_yticks(y, [r[0] for r in rows])
    fom = entry["figure_of_merit"]
    ax.set(xlabel=f"{fom} difference {entry['test']} − {entry['reference']} ({100 * (1 - entry['alpha']):g}% CI)")
    ax.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    return _png(fig)


def turing_bars(entry: dict) -> bytes:
    """Accuracy of each reader and pooled in telling real from synthetic, Wilson CIs, chance at 0.5."""
    rows = [(r["reader"], r["value"], r["wilson"]) for r in entry["readers"]]
    pooled = entry["pooled"]
    rows.append(("pooled", pooled["value"], pooled["bootstrap"]))
    fig, axes = _figure(max(5.0, 0.8 * len(rows) + 2), 3.8)
    ax = axes[0]
    x = np.arange(len(rows))
    values = np.array([r[1] for r in rows])
    errors = np.array([[r[1] - r[2][0], r[2][1] - r[1]] for r in rows]).T
    colours = ["0.6"] * (len(rows) - 1) + ["#1f5fa8"]
    ax.bar(x, values, color=colours, yerr=errors, capsize=4)
    ax.axhline(0.5, color="#b22222", ls="--", lw=1, label="chance (0.5)")
    ax.set_xticks(x, [r[0] for r in rows], rotation=30, ha="right")
    ax.set(ylim=(0, 1), ylabel="accuracy (real vs synthetic)",
           title="Visual Turing test (pooled: two-way cluster bootstrap CI)")
    ax.legend(fontsize=8)
    return _png(fig)


def likert_distribution(entry: dict) -> bytes:
    """Stacked horizontal bars: share of ratings at each Likert level, per modality."""
    import matplotlib

    levels = [str(float(v)) for v in entry["levels"]]  # the keys of block["counts"]
    fig, axes = _figure(7.0, 0.6 * len(entry["modalities"]) + 1.9)
    ax = axes[0]
    cmap = matplotlib.colormaps["RdYlGn"]
    for row, block in enumerate(entry["modalities"]):
        total = sum(block["counts"].values())
        left = 0.0
        for i, level in enumerate(levels):
            share = block["counts"].get(level, 0) / total
            ax.barh(row, share, left=left, color=cmap(i / max(len(levels) - 1, 1)),
                    label=f"{float(level):g}" if row == 0 else None, edgecolor="white")
            if share > 0.06:
                ax.text(left + share / 2, row, f"{100 * share:.0f}%", ha="center", va="center", fontsize=8)
            left += share
    ax.set_yticks(range(len(entry["modalities"])), [b["modality"] for b in entry["modalities"]])
    ax.invert_yaxis()
    ax.set(xlim=(0, 1), xlabel="share of ratings", title=entry.get("question", "quality"))
    ax.legend(title="rating", ncols=len(levels), fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.35))
    return _png(fig)


def bland_altman_plot(entry: dict) -> bytes:
    """Differences synthetic − real against their means, with bias and limits of agreement (CIs shaded)."""
    ba, unit = entry["bland_altman"], entry.get("unit", "mm")
    fig, axes = _figure(6.5, 4.2)
    ax = axes[0]
    ax.scatter(ba["means"], ba["differences"], s=18, color="0.3")
    for key, ci_key, colour, label in (("bias", "bias_ci", "#1f5fa8", "bias"),
                                       ("lower_limit", "lower_limit_ci", "#b22222", "lower limit"),
                                       ("upper_limit", "upper_limit_ci", "#b22222", "upper limit")):
        ax.axhline(ba[key], color=colour, lw=1.2, ls="-" if key == "bias" else "--",
                   label=f"{label} {ba[key]:.2f} {unit}")
        ax.axhspan(ba[ci_key][0], ba[ci_key][1], color=colour, alpha=0.12)
    ax.axhline(0, color="0.7", lw=0.8)
    ax.set(xlabel=f"mean of real and synthetic ({unit})", ylabel=f"synthetic − real ({unit})",
           title=f"Bland–Altman: {entry.get('question', '')} (n = {ba['n']} cases)")
    ax.legend(fontsize=8)
    return _png(fig)
