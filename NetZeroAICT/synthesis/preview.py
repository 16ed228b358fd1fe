"""A PNG preview of a synthesis: NCCT | SYNTHETIC CTA | uncertainty, as an axial slice and a coronal MIP."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..indications import get_indication
from ..volume import Volume


def _axial_index(enhancement: np.ndarray) -> int:
    """The axial slice (k) with the most enhancement, or the middle one when nothing was enhanced."""
    per_slice = enhancement.reshape(enhancement.shape[0], -1).sum(axis=1)
    return int(np.argmax(per_slice)) if per_slice.max() > 0 else enhancement.shape[0] // 2


def mip_mask(ncct: np.ndarray, bone_hu: float = 300.0, body_hu: float = -400.0) -> np.ndarray:
    """Voxels a CT-angiography MIP should show: the patient's body (the largest connected region above
    ``body_hu``, so the table and other objects are left out) without bone and calcium (NCCT above ``bone_hu``,
    grown by one voxel for their partial-volume rim), which would hide the vessels."""
    from scipy import ndimage

    body = ncct > body_hu
    labels, n = ndimage.label(body)
    if n > 1:
        sizes = np.bincount(labels.ravel())
        sizes[0] = 0
        body = labels == int(np.argmax(sizes))
    del labels
    return body & ~ndimage.binary_dilation(ncct > bone_hu)


def write_preview(ncct: Volume, cta: Volume, uncertainty: Volume, path, indication: str, title: str = "") -> Path:
    """Render the six-panel preview to ``path`` (PNG) and return it.

    Rows: the axial slice with the most enhancement; a coronal maximum-intensity projection (posterior to
    anterior) over the body with bone removed (:func:`mip_mask`; the same voxels in every column), as CT
    angiograms are viewed. Columns: NCCT, synthetic CTA (labelled SYNTHETIC), TTA standard deviation (HU).
    Display: the indication's angiography window; anatomical orientation (patient left on the image right).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    width, level = get_indication(indication).window_hu
    vmin, vmax = level - width / 2, level + width / 2
    enhancement = cta.voxels - ncct.voxels
    k = _axial_index(enhancement)
    si, sj, sk = ncct.spacing_mm
    # Radiological display: patient right on the image left, anterior up, superior up.
    flip_i = ncct.direction_lps[0, 0] < 0
    flip_j = ncct.direction_lps[1, 1] < 0
    flip_k = ncct.direction_lps[2, 2] > 0

    def axial(a):
        s = a[k]
        s = s[:, ::-1] if flip_i else s
        return s[::-1] if flip_j else s

    shown = mip_mask(ncct.voxels)

    def coronal_mip(a):
        m = np.where(shown, a, a.min()).max(axis=1)  # over j (posterior-anterior)
        m = m[:, ::-1] if flip_i else m
        return m[::-1] if flip_k else m

    umax = float(np.percentile(uncertainty.voxels[enhancement > 0], 99)) if np.any(enhancement > 0) else 1.0
    umax = max(umax, 1.0)
    rows = [("axial slice k=%d" % k, axial, sj / si), ("coronal MIP, bone removed", coronal_mip, sk / si)]
    fig, axes = plt.subplots(2, 3, figsize=(13, 9), facecolor="black")
    for r, (row_name, view, aspect) in enumerate(rows):
        for c, (name, vol, kwargs) in enumerate((
                ("NCCT (input)", ncct, {"cmap": "gray", "vmin": vmin, "vmax": vmax}),
                ("SYNTHETIC CTA", cta, {"cmap": "gray", "vmin": vmin, "vmax": vmax}),
                ("uncertainty (TTA std, HU)", uncertainty, {"cmap": "magma", "vmin": 0, "vmax": umax}))):
            ax = axes[r, c]
            image = ax.imshow(view(vol.voxels), aspect=aspect, interpolation="nearest", **kwargs)
            ax.set_title(f"{name} — {row_name}", color="white", fontsize=10)
            ax.axis("off")
            if c == 1:
                ax.text(0.5, 0.04, "SYNTHETIC", transform=ax.transAxes, ha="center", va="bottom", color="red",
                        fontsize=20, fontweight="bold", alpha=0.9)
            if c == 2:
                bar = fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
                bar.ax.yaxis.set_tick_params(color="white", labelcolor="white")
    fig.suptitle(title or f"SYNTHETIC digital contrast ({indication}) — research use only, not for clinical use",
                 color="white", fontsize=12)
    fig.text(0.5, 0.01, f"window W{width:g} / L{level:g} HU", color="gray", ha="center", fontsize=9)
    fig.tight_layout(rect=(0, 0.02, 1, 0.96))
    path = Path(path)
    fig.savefig(path, dpi=80, facecolor="black")
    plt.close(fig)
    return path
