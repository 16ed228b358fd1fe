"""Render the phantom montages in docs/phantoms/: one PNG per indication (NCCT | CTA | lumen and pathology,
axial and coronal through the lesion), and the aorta phantom beside a real non-contrast abdomen CT.

    python tools/phantom_montage.py [--out docs/phantoms] [--seed 3] [INDICATION ...]

Every image is labelled synthetic; the real CT comes from ../shared/data (skipped where absent).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from NetZeroAICT.foundry import make_pair, pathologies  # noqa: E402
from NetZeroAICT.indications import INDICATIONS, get_indication  # noqa: E402

REAL_NCCT = ROOT.parent / "shared" / "data" / "ct" / "ncct_abdomen_3mm.nii.gz"


def focus_point(pair) -> tuple[int, int, int]:
    """(k, j, i) of the lesion's centre, or of the slice richest in lumen."""
    mask = pair.masks["pathology"].voxels
    if not mask.any():
        mask = pair.masks["lumen"].voxels
    k = int(np.argmax(mask.sum(axis=(1, 2))))
    j = int(np.argmax(mask[k].sum(axis=1)))
    i = int(np.argmax(mask[k, j])) if mask[k, j].any() else mask.shape[2] // 2
    return k, j, i


def render(indication: str, seed: int, out: Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ind = get_indication(indication)
    pair = make_pair(indication, seed, pathology=pathologies(indication)[0])
    k, j, _ = focus_point(pair)
    width, level = ind.window_hu
    lo, hi = level - width / 2, level + width / 2
    h = pair.ncct.spacing_mm[0]
    views = {"axial": lambda v: v[k], "coronal": lambda v: v[::-1, j, :]}
    fig, axes = plt.subplots(2, 3, figsize=(13.5, 9.4), facecolor="black")
    for row, (view, cut) in enumerate(views.items()):
        ncct, cta = cut(pair.ncct.voxels), cut(pair.cta.voxels)
        lumen, lesion = cut(pair.masks["lumen"].voxels), cut(pair.masks["pathology"].voxels)
        extent = (0, ncct.shape[1] * h, 0, ncct.shape[0] * h)
        for col, (title, image) in enumerate((("NCCT", ncct), ("CTA", cta), ("CTA + lumen / lesion", cta))):
            ax = axes[row, col]
            ax.imshow(image, cmap="gray", vmin=lo, vmax=hi, extent=extent, interpolation="nearest")
            if col == 2:
                overlay = np.zeros((*image.shape, 4))
                overlay[lumen > 0] = (1.0, 0.2, 0.2, 0.45)
                overlay[lesion > 0] = (1.0, 0.85, 0.0, 0.6)
                ax.imshow(overlay, extent=extent, interpolation="nearest")
            ax.set_title(f"{title} — {view}", color="white", fontsize=10)
            ax.axis("off")
    case = pair.case
    finding = case["pathology"] or "normal"
    extra = f", stenosis {case['stenosis_percent']} %" if case.get("stenosis_percent") else ""
    fig.suptitle(f"SYNTHETIC phantom — {ind.label} (seed {seed}): {finding}{extra}, max diameter "
                 f"{case['max_diameter_mm']} mm; window W{width:.0f}/L{level:.0f}; {h} mm voxels",
                 color="white", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    path = out / f"{indication}.png"
    fig.savefig(path, dpi=80, facecolor="black")
    plt.close(fig)
    return path


def render_real_comparison(seed: int, out: Path) -> Path | None:
    """Axial slice of the real NCCT abdomen beside the aorta phantom's NCCT, same window and scale."""
    if not REAL_NCCT.exists():
        print(f"skipped the comparison: {REAL_NCCT} is absent")
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from NetZeroAICT import read_volume

    real = read_volume(REAL_NCCT)
    pair = make_pair("aorta", seed, pathology="none")
    # the real volume's direction is diag(-1, -1, 1): flip i and j to show it as the phantom (LPS, radiological)
    flips = np.sign(np.diag(real.direction_lps))
    rv = real.voxels[:, :: int(flips[1]), :: int(flips[0])]
    k_real = int(rv.shape[0] * 0.62)
    k = int(np.argmax((pair.masks["tissue"].voxels == 11).sum(axis=(1, 2))))   # the kidneys' level
    fig, axes = plt.subplots(1, 2, figsize=(12, 6.4), facecolor="black")
    for ax, image, h, title in ((axes[0], rv[k_real], real.spacing_mm[0], "REAL non-contrast CT (3 mm)"),
                                (axes[1], pair.ncct.voxels[k], pair.ncct.spacing_mm[0],
                                 f"SYNTHETIC aorta phantom NCCT ({pair.ncct.spacing_mm[0]} mm)")):
        ax.imshow(image, cmap="gray", vmin=-160, vmax=240, extent=(0, image.shape[1] * h, 0, image.shape[0] * h))
        ax.set_title(title, color="white")
        ax.axis("off")
    fig.suptitle("Window W400/L40, same physical scale", color="white")
    fig.tight_layout()
    path = out / "aorta_vs_real_ncct.png"
    fig.savefig(path, dpi=80, facecolor="black")
    plt.close(fig)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("indications", nargs="*", default=list(INDICATIONS))
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "phantoms")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for indication in args.indications:
        print(render(indication, args.seed, args.out))
    if "aorta" in args.indications:
        print(render_real_comparison(args.seed, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
