"""Coronary phantom (coronary CT angiography, small cardiac field of view): heart with myocardium, chambers,
epicardial fat, aortic root and the coronary tree (left main, LAD with diagonals, circumflex with marginals,
right coronary artery with the posterior descending artery), lungs, chest wall, spine.

Pathologies: a stenosis (50–90 % by diameter) in a proximal or mid segment by ``soft_plaque`` (non-calcified,
not enhancing), ``calcified_plaque`` or ``mixed_plaque`` (soft plaque with calcified nodules).
"""

from __future__ import annotations

import numpy as np

from ..canvas import Canvas, Tissue
from ..vessels import Tube
from . import common
from .chest import chest
from .heart import paint_aortic_root
from .lesions import narrowing, paint_vessel_tree

DEFAULT_SHAPE_IJK = (224, 224, 176)
DEFAULT_SPACING_MM = 0.7
PATHOLOGIES = ("soft_plaque", "calcified_plaque", "mixed_plaque")
NOISE = {"sigma_hu": (18.0, 30.0), "reference_mm": 0.7}


def draw_pathology(rng) -> str | None:
    return rng.choice([None, "soft_plaque", "calcified_plaque", "mixed_plaque"], p=[0.5, 0.2, 0.15, 0.15])


def build(canvas: Canvas, t: dict[str, Tissue], rng: np.random.Generator, pathology: str | None) -> dict:
    u = common.uniform(rng)
    hc = (u(-6, 6), u(-6, 6), u(-8, 4))
    parts = chest(canvas, t, rng, hc, z_diaphragm=float(canvas.z[0]) + u(10, 30), lung_vessels=True,
                  svc_tissue=t["right_blood_pool"])
    heart = parts["heart"]
    sl_aorta = parts["aorta"]
    paint_aortic_root(canvas, t, sl_aorta, t["lumen"])
    paths = heart.coronary_paths(rng)
    radii = {"left anterior descending": (u(1.9, 2.4), u(0.6, 0.9)), "circumflex": (u(1.6, 2.0), u(0.7, 1.0)),
             "right coronary artery": (u(1.8, 2.3), u(0.8, 1.1))}
    tubes = []
    for name, path in paths.items():
        r0, r1 = radii[name]
        tube = Tube(path, np.linspace(r0, r1, len(path)), name)
        tubes.append(tube)
        branch_name = {"left anterior descending": "diagonal branch", "circumflex": "obtuse marginal branch",
                       "right coronary artery": "acute marginal branch"}[name]
        for side in heart.side_branches(path, int(rng.integers(1, 4)), rng):
            tubes.append(Tube(side, np.linspace(r0 * 0.55, 0.5, len(side)), branch_name))
    lesions, truth = [], {"stenosis_percent": None, "location": None, "findings": []}
    if pathology is not None:
        vessel = tubes[[i for i, tb in enumerate(tubes) if tb.name in radii][int(rng.integers(0, 3))]]
        filling = t["calcium"] if pathology == "calcified_plaque" else t["soft_plaque"]
        at = u(0.08, 0.45)
        lesion = narrowing(vessel, at, u(5, 14), u(0.5, 0.9), rng, filling)
        lesions.append(lesion)
        segment = "proximal" if at < 0.25 else "mid"
        truth.update(stenosis_percent=lesion.truth["stenosis_percent"], location=f"{segment} {vessel.name}",
                     findings=[{**lesion.truth, "plaque": pathology}])
    paint_vessel_tree(canvas, t, tubes, lesions, wall_mm=0.5)
    for lesion in lesions:
        if lesion.kind != "stenosis" or lesion.filling.name == "calcification":
            continue
        if pathology == "mixed_plaque":
            common.calcified_plaques(canvas, t, lesion.outer, int(rng.integers(1, 4)), rng, size_mm=(0.6, 1.4))
    truth["max_diameter_mm"] = round(float(2 * max(radii[n][0] for n in radii)), 2)
    return truth
