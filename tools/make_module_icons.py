"""Draw the DigitalContrast module icon (DigitalContrast/Resources/Icons/DigitalContrast.png, 128×128):
an axial CT slice split in two, plain on the left, with a bright enhanced aorta on the right."""

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


if __name__ == "__main__":
    print(draw_module_icon(ICONS / "DigitalContrast.png"))
