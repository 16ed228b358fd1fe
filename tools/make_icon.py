"""Draw the extension icon (Resources/Icons/NetZeroAICT.png, 128×128): an axial CT disc with a bright aorta."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Circle, Ellipse, FancyBboxPatch  # noqa: E402

out = Path(__file__).resolve().parents[1] / "Resources" / "Icons" / "NetZeroAICT.png"
fig = plt.figure(figsize=(1.28, 1.28), dpi=100)
ax = fig.add_axes([0, 0, 1, 1])
ax.set_xlim(0, 128), ax.set_ylim(0, 128), ax.axis("off")
ax.add_patch(FancyBboxPatch((2, 2), 124, 124, boxstyle="round,pad=0,rounding_size=18", color="#10242b"))
ax.add_patch(Ellipse((64, 66), 104, 80, color="#5b5b5b"))          # body (soft tissue)
ax.add_patch(Ellipse((64, 66), 92, 68, color="#3a3a3a"))           # fat layer
ax.add_patch(Ellipse((64, 40), 26, 16, color="#e8e8e8"))           # vertebra
ax.add_patch(Circle((72, 58), 11, color="#ffffff"))                 # enhanced aorta
ax.add_patch(Circle((50, 58), 8, color="#9a9a9a"))                  # cava
ax.text(64, 104, "CO\u2082", color="#5fd38d", ha="center", va="center", fontsize=13, fontweight="bold")
ax.text(64, 16, "NET ZERO", color="#5fd38d", ha="center", va="center", fontsize=7, fontweight="bold")
out.parent.mkdir(parents=True, exist_ok=True)
fig.savefig(out, dpi=100, transparent=True)
print(out)
