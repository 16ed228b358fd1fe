"""Pulmonary phantom (CT pulmonary angiography): chest with heart, pulmonary trunk, right and left pulmonary
arteries branching through both lungs (lobar → segmental → subsegmental), pulmonary veins to the left atrium.

Pathology: ``embolism`` — one to four emboli as filling defects (partial, eccentric, or occlusive) in
main, lobar or segmental arteries. Emboli are thrombus: ≈ 55–80 HU in both phases.
"""

from __future__ import annotations

import numpy as np

from . import common
from ..canvas import Canvas, Tissue
from ..vessels import Tube, branch_tree, perpendiculars, resample, spline_through, tube_sdf
from .chest import chest
from .lesions import paint_vessel_tree

DEFAULT_SHAPE_IJK = (256, 256, 192)
DEFAULT_SPACING_MM = 1.25
PATHOLOGIES = ("embolism",)
NOISE = {"sigma_hu": (10.0, 18.0), "reference_mm": 1.25}
GENERATION_NAMES = ("main", "lobar", "segmental", "subsegmental")


def draw_pathology(rng) -> str | None:
    return "embolism" if rng.uniform() < 0.5 else None


def _tree(start, direction, radius, length, depth, rng, side: str, generation: int, min_radius) -> Tube:
    tree = branch_tree(start, direction, radius, length, depth, rng, tortuosity=0.05, taper=0.85,
                       spread_rad=0.75, step_mm=1.5, min_radius_mm=min_radius)
    _name(tree, side, generation)
    return tree


def _name(tube: Tube, side: str, generation: int) -> None:
    tube.name = f"{side} {GENERATION_NAMES[min(generation, 3)]} pulmonary artery"
    tube.generation = generation
    for child in tube.children:
        _name(child, side, generation + 1)


def build(canvas: Canvas, t: dict[str, Tissue], rng: np.random.Generator, pathology: str | None) -> dict:
    u = common.uniform(rng)
    z0, z1 = float(canvas.z[0]), float(canvas.z[-1])
    span = z1 - z0
    hc = (u(5, 20), u(-35, -20), z0 + span * u(0.3, 0.4))
    parts = chest(canvas, t, rng, hc, z_diaphragm=z0 + span * u(0.08, 0.2), lung_vessels=False,
                  svc_tissue=t["right_blood_pool"])
    heart = parts["heart"]
    # pulmonary trunk from the right ventricular outflow tract, up and back, then the bifurcation
    root = parts["aortic_root"].points[0]
    rvot = root + heart.u * 18 + np.array([10.0, -8.0, 8.0])
    r_trunk = u(12, 16)
    bif = rvot + np.array([u(0, 8), u(28, 36), u(30, 40)])
    trunk_path = spline_through(np.array([rvot, rvot + np.array([3.0, 8.0, 22.0]), bif]), 1.5)
    trunk = Tube(trunk_path, np.linspace(r_trunk, r_trunk * 0.92, len(trunk_path)), "pulmonary trunk")
    trunk.generation = 0
    r_main = r_trunk * u(0.65, 0.75)
    right_end = bif + np.array([-u(45, 55), u(5, 12), -u(2, 8)])
    left_end = bif + np.array([u(25, 32), u(18, 25), u(0, 6)])
    min_r = max(0.45, canvas.h * 0.35)
    arteries = [trunk]
    for side, end, ctrl in (("right", right_end, bif + np.array([-20.0, 2.0, 2.0])),
                            ("left", left_end, bif + np.array([12.0, 12.0, 6.0]))):
        path = spline_through(np.array([bif, ctrl, end]), 1.5)
        main = Tube(path, np.linspace(r_main, r_main * 0.9, len(path)), f"{side} main pulmonary artery")
        main.generation = 0
        sign = -1.0 if side == "right" else 1.0
        lobes = [(sign * 0.5, u(-0.1, 0.3), 1.0), (sign * 0.8, u(0.2, 0.6), -0.9), (sign * 0.6, -0.5, -0.5)]
        if side == "left":
            lobes = lobes[:2] + [(sign * 0.7, 0.5, -0.2)]
        for direction in lobes:
            main.children.append(_tree(end, np.array(direction, float), r_main * u(0.5, 0.62), u(28, 38), 4, rng,
                                       side, 1, min_r))
        arteries.append(main)
    all_arteries = [tube for root_tube in arteries for tube in root_tube.walk()]
    # pulmonary veins: from each lung towards the left atrium (less opacified than the arteries in CTPA)
    la_c = parts["la"][0]
    veins = []
    for side in (-1, 1):
        for dz in (12.0, -12.0):
            start = la_c + np.array([side * 22.0, 5.0, dz])
            veins.append(branch_tree(start, np.array([side * 1.0, u(-0.2, 0.4), dz / 30]), u(6, 8), u(25, 35), 4, rng,
                                     tortuosity=0.06, taper=0.82, spread_rad=0.8, step_mm=1.5, min_radius_mm=min_r))
    lung_sdf, mediastinum = parts["lung_sdf"], parts["mediastinum"]
    vsl, vsdf = tube_sdf(canvas, [tb for v in veins for tb in v.walk()])
    if vsl is not None:
        x, y, z = canvas.grid(vsl)
        allowed = canvas.fraction(np.minimum(lung_sdf(x, y, z), mediastinum(x, y, z)) - 1.0)
        canvas.paint(vsl, vsdf, t["blood_pool"], within=allowed)
    # aorta at left-heart opacification
    sl, sdf = tube_sdf(canvas, [parts["aorta"]])
    canvas.paint(sl, sdf - 1.5, t["wall"])
    canvas.paint(sl, sdf, t["blood_pool"])
    # arteries (the lumen of interest), kept inside lungs and mediastinum
    truth = {"max_diameter_mm": round(float(2 * r_trunk), 1), "stenosis_percent": None, "location": None,
             "findings": []}
    clots, emboli = _emboli(all_arteries, rng) if pathology == "embolism" else ([], [])
    paint_vessel_tree(canvas, t, all_arteries, wall_mm=0.6, with_wall=False, clots=clots)
    if pathology == "embolism":
        truth["findings"] = emboli
        truth["location"] = ", ".join(sorted({e["vessel"] for e in emboli}))
        truth["occlusive_emboli"] = sum(e["occlusive"] for e in emboli)
    return truth


def _emboli(arteries: list[Tube], rng) -> tuple[list[Tube], list[dict]]:
    """One to four emboli in main, lobar or segmental arteries: clots (partial, eccentric or occlusive)
    inside the lumen, and their description."""
    u = common.uniform(rng)
    candidates = [tb for tb in arteries if getattr(tb, "generation", 3) <= 2 and tb.radii.min() >= 1.2]
    clots, found = [], []
    for _ in range(int(rng.integers(1, 5))):
        vessel = candidates[int(rng.integers(0, len(candidates)))]
        s = vessel.arclength()
        length = min(u(8, 25), s[-1] * 0.8)
        centre = u(length / 2, max(s[-1] - length / 2, length / 2 + 1e-3))
        idx = np.abs(s - centre) <= length / 2
        if idx.sum() < 2:
            continue
        occlusive = u() < 0.3
        pts, radii = vessel.points[idx], vessel.radii[idx]
        k = 1.3 if occlusive else u(0.45, 0.8)
        _, tangent, _ = vessel.at(centre / s[-1])
        e1, e2 = perpendiculars(tangent)
        angle = u(0, 2 * np.pi)
        shift = (0.0 if occlusive else u(0.0, 1.0)) * (1 - k) * radii[:, None] * (np.cos(angle) * e1 + np.sin(angle) * e2)
        taper = np.sqrt(np.clip(1 - ((s[idx] - centre) / (length / 2)) ** 2, 0.15, 1.0))
        clots.append(Tube(pts + shift, radii * k * taper, vessel.name))
        found.append({"kind": "embolus", "vessel": vessel.name, "occlusive": bool(occlusive),
                      "length_mm": round(float(length), 1), "vessel_diameter_mm": round(float(2 * radii.mean()), 1),
                      "centre_mm": [round(float(v), 1) for v in vessel.points[np.argmin(np.abs(s - centre))]]})
    return clots, found
