"""Draw the DigitalContrast module's pictures in DigitalContrast/Resources/Icons/:

* DigitalContrast.png (128×128, the module icon): an axial CT slice split in two, plain on the left, with a
  bright enhanced aorta on the right;
* DigitalContrastSamplePhantom.png (260×280, the Sample Data thumbnail): an axial slice of the sample NCCT
  phantom the module's Sample Data entry generates (``NetZeroAICT.foundry.make_pair``, same indication and seed).
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Circle, Ellipse, FancyBboxPatch, Rectangle  # noqa: E402

ICONS = Path(__file__).resolve().parents[1] / "DigitalContrast" / "Resources" / "Icons"


def draw_module_icon(out: Path) -> Path:
    fig = plt.figure(figsize=(1.28, 1.28), dpi=100)
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(0, 128), ax.set_ylim(0, 128), ax.axis("off")
    ax.add_patch(FancyBboxPatch((2, 2), 124, 124, boxstyle="round,pad=0,rounding_size=18", color="#151515"))
    ax.add_patch(Ellipse((64, 60), 108, 74, color="#6a6a6a"))          # body
    ax.add_patch(Ellipse((64, 60), 94, 60, color="#4a4a4a"))           # fat
    ax.add_patch(Ellipse((64, 36), 26, 16, color="#e6e6e6"))           # vertebra
    ax.add_patch(Circle((72, 56), 11, color="#7a7a7a"))                 # aorta, unenhanced (left half shows it)
    ax.add_patch(Circle((50, 56), 8, color="#707070"))                  # cava
    # right half: the same slice with digital contrast
    clip = Rectangle((64, 0), 64, 128, transform=ax.transData)
    for patch in (Circle((72, 56), 11, color="#ffffff"), Circle((50, 56), 8, color="#bdbdbd")):
        patch.set_clip_path(clip)
        ax.add_patch(patch)
    ax.plot([64, 64], [22, 100], color="#5fd38d", linewidth=2.5)
    ax.text(64, 114, "NCCT \u2192 CTA", color="#5fd38d", ha="center", va="center", fontsize=8, fontweight="bold")
    ax.text(64, 11, "SYNTHETIC", color="#ff5a5a", ha="center", va="center", fontsize=7, fontweight="bold")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100, transparent=True)
    plt.close(fig)
    return out


def draw_sample_thumbnail(out: Path) -> Path:
    import sys

    import numpy as np

    sys.path.insert(0, str(ICONS.parents[1]))
    from DigitalContrastLib.sample import SAMPLE_INDICATION, SAMPLE_SEED

    from NetZeroAICT.foundry import make_pair

    pair = make_pair(SAMPLE_INDICATION, SAMPLE_SEED)
    lumen = pair.masks["lumen"].voxels
    k = int(np.argmax(lumen.sum(axis=(1, 2))))  # the slice with the most lumen: the aorta is in it
    slice_hu = pair.ncct.voxels[k]  # identity LPS grid: rows go anterior → posterior, columns right → left
    fig = plt.figure(figsize=(2.6, 2.8), dpi=100)
    fig.patch.set_facecolor("black")
    ax = fig.add_axes([0, 0.14, 1, 0.86])
    ax.imshow(slice_hu, cmap="gray", vmin=-160, vmax=240, interpolation="bilinear")
    ax.axis("off")
    fig.text(0.5, 0.085, "Sample NCCT phantom", color="white", ha="center", fontsize=10, fontweight="bold")
    fig.text(0.5, 0.025, "procedural, not a patient", color="#bbbbbb", ha="center", fontsize=8)
    fig.savefig(out, dpi=100, facecolor="black")
    plt.close(fig)
    return out


if __name__ == "__main__":
    print(draw_module_icon(ICONS / "DigitalContrast.png"))
    print(draw_sample_thumbnail(ICONS / "DigitalContrastSamplePhantom.png"))
