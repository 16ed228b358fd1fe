"""Vascular lesions shared by the indications: stenosis by plaque, occlusion, aneurysm sac with thrombus.

A lesion changes the *lumen* of a vessel while its outer wall keeps (or, for an aneurysm, enlarges) its
course; whatever lies between wall and lumen is plaque or thrombus, which does not enhance. Ground truth is
computed from the geometry: stenosis % by diameter (1 − minimal lumen ÷ reference diameter at that point).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..canvas import Canvas, Tissue
from ..vessels import Tube, perpendiculars, tube_sdf


@dataclass
class Lesion:
    """A lesion on ``tube``: ``lumen`` is the tube's lumen with the lesion, ``outer`` the outer boundary
    of the diseased segment (plaque or sac), ``filling`` the tissue between them."""

    kind: str
    tube: Tube
    lumen: Tube
    outer: Tube
    filling: Tissue
    truth: dict


def _bump(s, centre, length):
    """Plateau-shaped profile (1 at the centre, ~0 beyond ``length`` / 2), super-Gaussian."""
    return np.exp(-(np.abs(s - centre) / (0.5 * length)) ** 4 * 2.0)


def narrowing(tube: Tube, at: float, length_mm: float, severity: float, rng, filling: Tissue,
              eccentricity: float | None = None, kind: str = "stenosis") -> Lesion:
    """Stenosis (``severity`` 0–1 of the diameter) or occlusion (severity 1) at fraction ``at`` of the tube."""
    s = tube.arclength()
    centre = at * s[-1]
    bump = _bump(s, centre, length_mm)
    # an occlusion closes the lumen beyond zero radius so that no partial-volume thread of lumen remains
    lumen_r = tube.radii * (1.0 - (1.6 if severity >= 0.999 else severity) * bump)
    ecc = rng.uniform(0.2, 0.8) if eccentricity is None else eccentricity
    _, tangent, index = tube.at(at)
    e1, e2 = perpendiculars(tangent)
    angle = rng.uniform(0, 2 * np.pi)
    side = np.cos(angle) * e1 + np.sin(angle) * e2
    shift = ((tube.radii - np.maximum(lumen_r, 0.0)) * ecc)[:, None] * side
    lumen = Tube(tube.points + shift, lumen_r, tube.name)
    diseased = bump > 0.02
    first, last = np.argmax(diseased), len(diseased) - np.argmax(diseased[::-1])
    outer = Tube(tube.points[first:last], tube.radii[first:last] + 0.2, tube.name)
    percent = float(100.0 * (1.0 - np.min(np.maximum(lumen_r, 0.0) / tube.radii)))
    truth = {"kind": kind, "vessel": tube.name, "stenosis_percent": round(min(percent, 100.0), 1),
             "length_mm": round(float(length_mm), 1),
             "centre_mm": [round(float(v), 1) for v in tube.points[np.argmin(np.abs(s - centre))]],
             "reference_diameter_mm": round(float(2 * tube.radii[index]), 2)}
    return Lesion(kind, tube, lumen, outer, filling, truth)


def aneurysm(tube: Tube, at: float, length_mm: float, max_diameter_mm: float, rng, thrombus: Tissue,
             thrombus_share: float | None = None) -> Lesion:
    """Fusiform aneurysm reaching ``max_diameter_mm`` (outer), with eccentric mural thrombus."""
    s = tube.arclength()
    centre = at * s[-1]
    bump = np.exp(-((s - centre) / (0.42 * length_mm)) ** 2)
    sac_r = tube.radii + (max_diameter_mm / 2 - tube.radii.max()) * bump
    share = rng.uniform(0.25, 0.65) if thrombus_share is None else thrombus_share
    lumen_r = tube.radii + (sac_r - tube.radii) * (1.0 - share)
    _, tangent, _ = tube.at(at)
    e1, e2 = perpendiculars(tangent)
    angle = rng.uniform(0, 2 * np.pi)
    side = np.cos(angle) * e1 + np.sin(angle) * e2
    shift = ((sac_r - lumen_r) * rng.uniform(0.4, 0.85))[:, None] * side
    diseased = bump > 0.03
    first, last = int(np.argmax(diseased)), len(diseased) - int(np.argmax(diseased[::-1]))
    sac = Tube(tube.points[first:last], sac_r[first:last], tube.name)
    lumen = Tube(tube.points + shift, lumen_r, tube.name)
    truth = {"kind": "aneurysm", "vessel": tube.name, "max_sac_diameter_mm": round(float(2 * sac_r.max()), 1),
             "max_lumen_diameter_mm": round(float(2 * lumen_r.max()), 1),
             "length_mm": round(float(length_mm), 1), "thrombus_share": round(float(share), 2),
             "centre_mm": [round(float(v), 1) for v in tube.points[np.argmax(sac_r)]]}
    return Lesion("aneurysm", tube, lumen, sac, thrombus, truth)


def paint_vessel_tree(canvas: Canvas, t: dict[str, Tissue], tubes: list[Tube], lesions: list[Lesion] = (),
                      wall_mm: float = 1.0, lumen: Tissue | None = None, with_wall: bool = True,
                      clots: list[Tube] = ()) -> None:
    """Paint a tree of vessels with lesions: wall, lesion filling (plaque/thrombus), intraluminal clots
    (emboli: thrombus inside the vessel, carved out of the lumen), then the lumen."""
    by_tube = {id(lesion.tube): lesion for lesion in lesions}
    sacs = [lesion.outer for lesion in lesions if lesion.kind == "aneurysm"]
    sl, sdf = tube_sdf(canvas, [*tubes, *sacs])
    if sl is None:
        return
    if with_wall:
        canvas.paint(sl, sdf - wall_mm, t["wall"])
    for lesion in lesions:
        lsl, lsdf = tube_sdf(canvas, [lesion.outer])
        if lsl is not None:
            canvas.paint(lsl, lsdf, lesion.filling, pathology=True)
    lumen_tubes = [by_tube[id(tb)].lumen if id(tb) in by_tube else tb for tb in tubes]
    lsl, lsdf = tube_sdf(canvas, lumen_tubes, sl=sl)
    if clots:
        csl, csdf = tube_sdf(canvas, list(clots), sl=sl)
        canvas.paint(csl, np.maximum(csdf, lsdf), t["thrombus"], pathology=True)
        np.maximum(lsdf, -csdf, out=lsdf)
    canvas.paint(lsl, lsdf, lumen or t["lumen"])
