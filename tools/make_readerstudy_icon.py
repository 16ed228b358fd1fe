"""Draw the ReaderStudy module icon (ReaderStudy/Resources/Icons/ReaderStudy.png, 128×128).

Two axial CT discs side by side — the same patient read twice — with a check mark: a blinded comparison.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Circle, Ellipse, FancyBboxPatch  # noqa: E402

out = Path(__file__).resolve().parents[1] / "ReaderStudy" / "Resources" / "Icons" / "ReaderStudy.png"
fig = plt.figure(figsize=(1.28, 1.28), dpi=100)
ax = fig.add_axes([0, 0, 1, 1])
ax.set_xlim(0, 128), ax.set_ylim(0, 128), ax.axis("off")
ax.add_patch(FancyBboxPatch((2, 2), 124, 124, boxstyle="round,pad=0,rounding_size=18", color="#14213d"))
for x in (35, 93):
    ax.add_patch(Ellipse((x, 70), 52, 42, color="#5b5b5b"))  # body
    ax.add_patch(Ellipse((x, 70), 44, 34, color="#3a3a3a"))  # fat
    ax.add_patch(Ellipse((x, 56), 14, 9, color="#e8e8e8"))  # vertebra
    ax.add_patch(Circle((x + 5, 66), 6, color="#ffffff"))  # aorta
ax.text(64, 103, "A  |  B", color="#fca311", ha="center", va="center", fontsize=12, fontweight="bold")
ax.plot([44, 58, 86], [28, 16, 40], color="#5fd38d", linewidth=6, solid_capstyle="round")  # check mark
out.parent.mkdir(parents=True, exist_ok=True)
fig.savefig(out, dpi=100, transparent=True)
print(out)
