"""Limb phantom (run-off CT angiography, both legs from mid-thigh to mid-calf): skin, subcutaneous fat,
muscle compartments separated by fascial fat planes, femur with fatty marrow, condyles, patella, tibia and
fibula, popliteal fossa fat; superficial femoral → popliteal artery → anterior tibial, tibioperoneal trunk,
posterior tibial and peroneal arteries, with their unopacified veins, each artery and its veins in a sheath
of fat (so, as on a real non-contrast CT, the arteries show against it, not against muscle).

Pathologies: ``stenosis`` (50–90 %, soft or calcified plaque) and ``occlusion`` (a 30–100 mm thrombosed
segment with distal reconstitution) of the superficial femoral or popliteal artery; wall calcification is
common in any case.
"""

from __future__ import annotations

import numpy as np

from .. import shapes
from ..canvas import Canvas, Tissue
from ..vessels import Tube, spline_through, tube_sdf
from . import common
from .lesions import narrowing, paint_vessel_tree

DEFAULT_SHAPE_IJK = (224, 160, 256)
DEFAULT_SPACING_MM = 1.5
PATHOLOGIES = ("stenosis", "occlusion")
NOISE = {"sigma_hu": (9.0, 16.0), "reference_mm": 1.5}


def draw_pathology(rng) -> str | None:
    return rng.choice([None, "stenosis", "occlusion"], p=[0.5, 0.3, 0.2])


def build(canvas: Canvas, t: dict[str, Tissue], rng: np.random.Generator, pathology: str | None) -> dict:
    u = common.uniform(rng)
    z0, z1 = float(canvas.z[0]), float(canvas.z[-1])
    span = z1 - z0
    z_knee = z0 + span * u(0.4, 0.55)
    sc_fat = u(5, 22)
    legs = {}
    for sign, side in ((-1, "right"), (1, "left")):
        cx = sign * u(80, 95)
        cy = u(-8, 8)
        legs[side] = _leg(canvas, t, rng, cx, cy, z_knee, sc_fat, sign)
    lesion_side = "right" if u() < 0.5 else "left"
    tubes, veins, lesions, truth = [], [], [], {"stenosis_percent": None, "location": None, "findings": []}
    for side, leg in legs.items():
        tubes += leg["arteries"]
        veins += leg["veins"]
    # the neurovascular bundles run in fat (adductor canal, popliteal fossa, between the calf muscles)
    common.perivascular_sheath(canvas, t, tubes + veins, u(1.5, 3.0), t["fat"])
    vsl, vsdf = tube_sdf(canvas, veins)
    canvas.paint(vsl, vsdf, t["vein"])
    leg = legs[lesion_side]
    sfa, pop = leg["arteries"][0], leg["arteries"][1]
    if pathology == "stenosis":
        vessel = sfa if u() < 0.7 else pop
        calcified = u() < 0.4
        lesion = narrowing(vessel, u(0.25, 0.8), u(10, 30), u(0.5, 0.9), rng, t["calcium"] if calcified else t["soft_plaque"])
        lesions.append(lesion)
        truth.update(stenosis_percent=lesion.truth["stenosis_percent"], location=f"{lesion_side} {vessel.name}",
                     findings=[{**lesion.truth, "plaque": "calcified" if calcified else "soft"}])
    elif pathology == "occlusion":
        length = u(30, 100)
        s_len = sfa.length_mm
        at = u(0.3, 0.85)
        at = min(max(at, length / 2 / s_len + 0.02), 1 - length / 2 / s_len - 0.02)
        lesion = narrowing(sfa, at, length, 1.0, rng, t["thrombus"], kind="occlusion")
        lesions.append(lesion)
        truth.update(stenosis_percent=100.0, location=f"{lesion_side} {sfa.name}", findings=[lesion.truth])
    paint_vessel_tree(canvas, t, tubes, lesions, wall_mm=1.0)
    calcs = 0
    for side, leg in legs.items():
        n = int(rng.integers(0, 4)) + (int(rng.integers(4, 12)) if pathology is not None else 0)
        calcs += len(common.calcified_plaques(canvas, t, leg["arteries"][0], n, rng, size_mm=(0.8, 2.5)))
    for lesion in lesions:
        if lesion.kind == "stenosis":
            calcs += len(common.calcified_plaques(canvas, t, lesion.outer, int(rng.integers(1, 4)), rng, (0.8, 2.0)))
    truth["calcifications"] = calcs
    ref = lesions[0].truth["reference_diameter_mm"] if lesions else 2 * float(legs["right"]["arteries"][0].radii.max())
    truth["max_diameter_mm"] = round(float(ref), 1)
    return truth


def _leg(canvas: Canvas, t: dict[str, Tissue], rng, cx: float, cy: float, z_knee: float, sc_fat: float, sign: int) -> dict:
    """One leg; ``sign`` −1 for the right leg (patient's right, smaller x), +1 for the left."""
    u = common.uniform(rng)
    z = canvas.z
    thigh_top, knee_r, calf_r = u(68, 82), u(48, 56), u(50, 60)
    below = np.clip((z_knee - z) / 250.0, 0, 1)
    above = np.clip((z - z_knee) / 250.0, 0, 1)
    radius = np.where(z >= z_knee, knee_r + (thigh_top - knee_r) * above ** 0.8,
                      knee_r + (calf_r - knee_r) * np.sin(np.clip(below * 2.2, 0, np.pi)) - 10 * below)
    radius = radius.astype(np.float32)[:, None, None]
    medial = -sign
    lo, hi = (cx - thigh_top - 5, cy - thigh_top - 5, z[0]), (cx + thigh_top + 5, cy + thigh_top + 5, z[-1])
    sl = canvas.box(lo, hi)
    x, y, zz = canvas.grid(sl)
    r = radius[sl[0]]
    outline = (np.sqrt((x - cx) ** 2 + ((y - cy) / 0.92) ** 2) - r).astype(np.float32)
    canvas.paint(sl, outline, t["skin"])
    canvas.paint(sl, outline + 2.0, t["fat"])
    canvas.paint(sl, outline + 2.0 + sc_fat, t["muscle"])
    # fascial planes between muscle compartments: thin fat sheets radiating from the bone
    for angle in rng.uniform(0, 2 * np.pi, 4):
        nx, ny = np.cos(angle), np.sin(angle)
        plane = np.abs((x - cx) * nx + (y - cy) * ny).astype(np.float32) - 0.6
        ray = ((x - cx) * -ny + (y - cy) * nx).astype(np.float32)
        canvas.paint(sl, np.maximum(np.maximum(plane, -ray + 18.0), outline + sc_fat + 6.0), t["fat"])
    # femur with cortex and fatty marrow, condyles and patella
    fem_r = u(12, 14.5)
    fem_x = cx + medial * u(0, 6)
    femur = Tube(np.array([[fem_x, cy + 4, z[-1] + 10], [fem_x - medial * 2, cy + 6, z_knee + 30]]), [fem_r, fem_r * 1.15])
    fsl, fsdf = tube_sdf(canvas, [femur])
    if fsl is not None:
        canvas.paint(fsl, fsdf, t["cortical_bone"])
        canvas.paint(fsl, fsdf + u(4, 6), t["marrow"], hu=t["marrow"].hu + 15 * canvas.texture(fsl, 4.0))
    for dx in (-1, 1):
        cc = (fem_x + dx * 19, cy + 10, z_knee + 14)
        canvas.fill(t["cortical_bone"], lambda x, y, z, c=cc: shapes.ellipsoid(x, y, z, c, (17, 25, 22)),
                    np.subtract(cc, 26), np.add(cc, 26))
        canvas.fill(t["trabecular_bone"], lambda x, y, z, c=cc: shapes.ellipsoid(x, y, z, c, (15.5, 23.5, 20.5)),
                    np.subtract(cc, 26), np.add(cc, 26), hu=t["trabecular_bone"].hu * 0.7)
    pc = (fem_x, cy - 30, z_knee + 22)
    canvas.fill(t["cortical_bone"], lambda x, y, z: shapes.ellipsoid(x, y, z, pc, (20, 9, 20)), np.subtract(pc, 21), np.add(pc, 21))
    canvas.fill(t["trabecular_bone"], lambda x, y, z: shapes.ellipsoid(x, y, z, pc, (18, 7, 18)), np.subtract(pc, 21), np.add(pc, 21))
    # tibia and fibula
    tc = (fem_x, cy + 6, z_knee - 12)
    canvas.fill(t["cortical_bone"], lambda x, y, z: shapes.ellipsoid(x, y, z, tc, (36, 26, 16)), np.subtract(tc, 37), np.add(tc, 37))
    canvas.fill(t["trabecular_bone"], lambda x, y, z: shapes.ellipsoid(x, y, z, tc, (34, 24, 14)), np.subtract(tc, 37), np.add(tc, 37),
                hu=t["trabecular_bone"].hu * 0.7)
    tib_r = u(11, 13)
    tibia = Tube(np.array([[fem_x + medial * 4, cy - 4, z_knee - 20], [fem_x + medial * 6, cy - 10, z[0] - 10]]), [tib_r * 1.2, tib_r * 0.85])
    fib = Tube(np.array([[fem_x - medial * 26, cy + 14, z_knee - 20], [fem_x - medial * 22, cy + 10, z[0] - 10]]), u(6, 7.5))
    bsl, bsdf = tube_sdf(canvas, [tibia, fib])
    if bsl is not None:
        canvas.paint(bsl, bsdf, t["cortical_bone"])
        canvas.paint(bsl, bsdf + u(3.5, 5), t["marrow"])
    # popliteal fossa fat behind the knee
    fc = (fem_x, cy + 38, z_knee + 10)
    canvas.fill(t["fat"], lambda x, y, z: shapes.ellipsoid(x, y, z, fc, (22, 16, 45)), np.subtract(fc, 46), np.add(fc, 46))
    # arteries: SFA (anteromedial, then behind the femur through the adductor hiatus), popliteal, run-off
    r_sfa = u(2.8, 3.4)
    sfa = Tube(spline_through(np.array([[fem_x + medial * 24, cy - 22, z[-1] + 5], [fem_x + medial * 22, cy - 8, (z[-1] + z_knee) / 2 + 30],
                                        [fem_x + medial * 12, cy + 22, z_knee + 60]]) + rng.normal(0, 2, (3, 3)), 1.5),
               r_sfa, "superficial femoral artery")
    pop = Tube(spline_through(np.array([sfa.points[-1], [fem_x + medial * 4, cy + 34, z_knee + 20],
                                        [fem_x, cy + 32, z_knee - 25], [fem_x - medial * 2, cy + 30, z_knee - 55]]), 1.5),
               r_sfa * 0.9, "popliteal artery")
    p_end = pop.points[-1]
    at = Tube(spline_through(np.array([p_end, p_end + (-medial * 10, -22, -10), p_end + (-medial * 12, -34, -40),
                                       [fem_x - medial * 10, cy - 18, z[0] - 10]]), 1.5), u(1.4, 1.8), "anterior tibial artery")
    tpt_end = p_end + (medial * 2, 2, -22)
    tpt = Tube(spline_through(np.array([p_end, tpt_end]), 1.5), u(2.0, 2.4), "tibioperoneal trunk")
    pt = Tube(spline_through(np.array([tpt_end, tpt_end + (medial * 12, 4, -40), [fem_x + medial * 22, cy + 22, z[0] - 10]]), 1.5),
              u(1.4, 1.8), "posterior tibial artery")
    pe = Tube(spline_through(np.array([tpt_end, tpt_end + (-medial * 12, 0, -40), [fem_x - medial * 18, cy + 16, z[0] - 10]]), 1.5),
              u(1.3, 1.7), "peroneal artery")
    arteries = [sfa, pop, at, tpt, pt, pe]
    veins = []
    for artery in (sfa, pop, pt, pe):
        offset = np.array([medial * 3.0 if artery is sfa else 0.0, artery.radii.max() + 4.5, 0.0])
        veins.append(Tube(artery.points + offset, artery.radii * u(1.3, 1.6)))
    return {"arteries": arteries, "veins": veins}
