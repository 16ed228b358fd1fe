"""Aorta phantom: lower chest to the aortic bifurcation — lung bases, liver, spleen, kidneys, stomach, bowel,
spine, ribs, the descending and abdominal aorta with celiac trunk, SMA, renal and common iliac arteries, and the
unopacified inferior vena cava with its renal and iliac veins. There are no pelvic bones, so ``check_input``
rightly says the field of view does not cover the pelvis.

Pathologies: infrarenal ``aneurysm`` with eccentric mural thrombus, ``dissection`` (intimal flap, true and
false lumen), ``calcified_plaque`` (heavy calcified atherosclerosis with a stenosis of a common iliac artery).
Incidental wall calcifications appear in any case.
"""

from __future__ import annotations

import numpy as np

from .. import shapes
from ..canvas import Canvas, Tissue
from ..vessels import Tube, branch_tree, flatten, spline_through, tube_sdf, wandering_path, resample
from . import common
from .lesions import aneurysm, narrowing, paint_vessel_tree

DEFAULT_SHAPE_IJK = (224, 224, 192)
DEFAULT_SPACING_MM = 1.5
PATHOLOGIES = ("aneurysm", "dissection", "calcified_plaque")
NOISE = {"sigma_hu": (10.0, 18.0), "reference_mm": 1.5}


def draw_pathology(rng) -> str | None:
    return rng.choice([None, "aneurysm", "dissection", "calcified_plaque"], p=[0.5, 0.22, 0.14, 0.14])


def build(canvas: Canvas, t: dict[str, Tissue], rng: np.random.Generator, pathology: str | None) -> dict:
    u = common.uniform(rng)
    a, b = u(125, 160), u(95, 120)
    z_top, z_bottom = float(canvas.z[-1]), float(canvas.z[0])
    span = z_top - z_bottom
    z_d = z_top - span * u(0.18, 0.28)                      # diaphragm dome (right)
    spine_x, spine_y = u(-4, 4), b * u(0.18, 0.28)
    sc_fat = u(8, 30)
    z_scale = 1.0 + 0.04 * np.sin((canvas.z - z_bottom) / span * np.pi * u(0.5, 1.2) + u(0, 6))
    trunk = common.Trunk(canvas, (u(-5, 5), u(-5, 5)), (a, b), rng, z_scale)
    wall_depth = 2.0 + sc_fat + u(9, 15)
    trunk.paint_layers(t, [(t["fat"], 2.0, 0.0), (t["muscle"], 2.0 + sc_fat, u(0, 12)),
                           (t["fat"], wall_depth, u(0, 6))])
    cavity = lambda x, y, z, margin=0.0: trunk.depth_sdf(x, y, z, wall_depth + margin)
    common.table(canvas, t, trunk.centre[1] + b * 0.9 + u(4, 10), rng)
    body_r = (u(19, 23), u(15, 18))
    spine_y_of_z = lambda z: spine_y - 6.0 * np.exp(-((z - z_bottom - span * 0.3) / (span * 0.35)) ** 2)

    # posterior muscles: paraspinal muscles and psoas
    for side in (-1, 1):
        c = (spine_x + side * u(28, 34), spine_y + body_r[1] + u(28, 36))
        r = (u(22, 28), u(20, 26))
        canvas.fill(t["muscle"], lambda x, y, z, c=c, r=r: np.maximum(shapes.ellipse_2d(x, y, c, r),
                                                                       trunk.depth_sdf(x, y, z, 2.0 + sc_fat)),
                    (c[0] - r[0], c[1] - r[1], z_bottom), (c[0] + r[0], c[1] + r[1], z_top))
        z_psoas = z_d - u(70, 100)
        def psoas(x, y, z, side=side, z_psoas=z_psoas):
            grow = np.clip((z_psoas - z) / 120.0, 0.0, 1.0)
            rr = 4.0 + 20.0 * grow
            return shapes.intersect(shapes.ellipse_2d(x, y, (spine_x + side * (26 + 14 * grow), spine_y - 4 + 6 * grow),
                                                      (rr, rr * 0.85)), z - z_psoas)
        canvas.fill(t["muscle"], psoas, (spine_x + side * 20 - 30, spine_y - 30, z_bottom),
                    (spine_x + side * 20 + 30, spine_y + 30, z_psoas))

    # lung bases and heart above the diaphragm
    z_d_left, med_w = z_d - u(5, 15), u(16, 24)
    floor = lambda x, y: common.diaphragm_floor(x, y, z_d, z_d_left, a - sc_fat, -b * 0.1, recess_mm=70.0)
    heart = ((u(5, 20), -b * 0.5, z_d + u(40, 55)), (u(50, 60), u(34, 40), u(45, 55)))
    heart_sdf = lambda x, y, z: shapes.ellipsoid(x, y, z, *heart)
    spine_block = lambda x, y, z: shapes.ellipse_2d(x, y, (spine_x, spine_y), (body_r[0] + 6, body_r[1] + 8))
    mediastinum = lambda x, y, z: shapes.ellipse_2d(x, y, (spine_x, spine_y - b * 0.45), (med_w, b * 0.5))
    common.lungs(canvas, t, trunk, wall_depth - 4, floor, mediastinum, rng, exclude=(spine_block,))
    canvas.fill(t["myocardium"], heart_sdf, np.subtract(heart[0], heart[1]), np.add(heart[0], heart[1]))
    inner = (heart[0], np.subtract(heart[1], 11))
    canvas.fill(t["blood_pool"], lambda x, y, z: shapes.ellipsoid(x, y, z, *inner),
                np.subtract(inner[0], inner[1]), np.add(inner[0], inner[1]))

    # organs
    liver_c = (-a * u(0.38, 0.45), -b * u(0.0, 0.12), z_d - u(45, 60))
    liver_r = (a * u(0.45, 0.52), b * u(0.6, 0.72), u(60, 75))
    liver_rot = shapes.random_rotation(rng, 0.25)
    liver_sdf = lambda x, y, z: shapes.intersect(shapes.rotated_ellipsoid(x, y, z, liver_c, liver_r, liver_rot),
                                                 cavity(x, y, z, 1.0), z - floor(x, y) + 3.0,
                                                 -spine_block(x, y, z) + 4.0)
    sl = canvas.box(np.subtract(liver_c, max(liver_r)), np.add(liver_c, max(liver_r)))
    if sl is not None:
        canvas.paint(sl, liver_sdf(*canvas.grid(sl)), t["liver"], hu=t["liver"].hu + 4.0 * canvas.texture(sl, 4.0))
        veins = [branch_tree((-a * 0.05, -b * 0.05, z_d - 5), (-1.0, u(-0.3, 0.3), -0.4), 6.0, 35, 3, rng,
                             tortuosity=0.05, step_mm=2.0) for _ in range(2)]
        vsl, vsdf = tube_sdf(canvas, flatten(veins))
        if vsl is not None:
            canvas.paint(vsl, vsdf, t["vein"], within=canvas.fraction(liver_sdf(*canvas.grid(vsl)) + 3.0))
    spleen_c = (a * u(0.5, 0.6), b * u(0.2, 0.35), z_d - u(30, 45))
    spleen_r = (u(20, 28), u(40, 55), u(45, 60))
    canvas.fill(t["spleen"], lambda x, y, z: shapes.intersect(
        shapes.ellipsoid(x, y, z, spleen_c, spleen_r),
        cavity(x, y, z, 1.0), z - floor(x, y) + 3.0, -spine_block(x, y, z) + 4.0),
        np.subtract(spleen_c, spleen_r), np.add(spleen_c, spleen_r))
    stomach_c = (a * u(0.2, 0.35), -b * u(0.25, 0.4), z_d - u(30, 45))
    stomach_r = (u(35, 50), u(25, 35), u(35, 50))
    _hollow_organ(canvas, t, lambda x, y, z: shapes.ellipsoid(x, y, z, stomach_c, stomach_r),
                  np.subtract(stomach_c, stomach_r), np.add(stomach_c, stomach_r), stomach_c[1] - stomach_r[1] * u(0.0, 0.6))
    pancreas = resample(np.array([[-25, spine_y - 48, z_d - 85], [10, spine_y - 50, z_d - 75],
                                  [a * 0.4, spine_y - 25, z_d - 65]]), 3.0)
    psl, psdf = tube_sdf(canvas, [Tube(pancreas, np.linspace(14, 9, len(pancreas)))])
    if psl is not None:
        canvas.paint(psl, psdf, t["pancreas"])
    kidneys = {}
    for side in (-1, 1):
        kc = (spine_x + side * u(60, 72), spine_y - u(0, 10), z_d - u(100, 120) + (8 if side > 0 else -5))
        kr = (u(22, 28), u(20, 26), u(48, 58))
        rot = shapes.random_rotation(rng, 0.3)
        kidneys[side] = kc
        ksl = canvas.box(np.subtract(kc, max(kr)), np.add(kc, max(kr)))
        if ksl is None:
            continue
        x, y, z = canvas.grid(ksl)
        kd = shapes.rotated_ellipsoid(x, y, z, kc, kr, rot)
        canvas.paint(ksl, kd, t["kidney_cortex"])
        canvas.paint(ksl, shapes.rotated_ellipsoid(x, y, z, kc, np.subtract(kr, 7), rot), t["kidney_medulla"])
        sinus = shapes.ellipsoid(x, y, z, (kc[0] - side * kr[0] * 0.55, kc[1] - 4, kc[2]), (10, 9, kr[2] * 0.5))
        canvas.paint(ksl, np.maximum(sinus, kd + 1.0), t["fat"])

    # bowel: colon frame with gas anteriorly and small bowel loops with fluid
    z_tc = z_d - u(70, 95)
    colon = spline_through(np.array([
        [-a * 0.62, b * 0.05, z_bottom + span * 0.05], [-a * 0.65, 0.0, z_tc - 30], [-a * 0.45, -b * 0.5, z_tc],
        [0.0, -b * 0.68, z_tc - u(0, 30)], [a * 0.45, -b * 0.45, z_tc + 10], [a * 0.65, 0.0, z_tc - 20],
        [a * 0.6, b * 0.1, z_bottom + span * 0.05]]), 3.0)
    _bowel(canvas, t, [Tube(colon, u(16, 22))], rng, gas_level=u(-0.2, 0.6), cavity=cavity, stool=True)
    loops = []
    for _ in range(int(rng.integers(7, 12))):
        start = (u(-a * 0.35, a * 0.35), u(-b * 0.6, -b * 0.1), u(z_bottom + 20, z_tc - 25))
        loops.append(Tube(resample(wandering_path(start, rng.normal(size=3) * (1, 1, 0.4), u(80, 140), rng, 0.22), 3.0),
                          u(9, 13)))
    _bowel(canvas, t, loops, rng, gas_level=u(-0.9, -0.3), cavity=cavity)

    # spine and ribs
    common.spine(canvas, t, spine_x, spine_y_of_z, (z_bottom - 20, z_top + 20), u(30, 34), body_r, rng)
    rib_levels = [z for z in np.arange(z_top + 60, z_d - 60, -u(22, 26))]
    common.ribs(canvas, t, (spine_x, spine_y - b * 0.5), (a - sc_fat - 9, b * 0.5 + 2), rib_levels, rng)

    # the aorta and its branches
    r_top = u(11, 13.5)
    aorta_y = spine_y - body_r[1] - r_top - u(2, 5)
    z_bif = z_bottom + span * u(0.18, 0.28)
    ctrl = [[spine_x + u(6, 14), aorta_y, z_top + 8], [spine_x + u(2, 18), aorta_y - u(0, 8), z_d],
            [spine_x + u(0, 20), aorta_y - u(2, 10), (z_d + z_bif) / 2], [spine_x + u(-2, 8), aorta_y - u(4, 14), z_bif]]
    path = spline_through(np.array(ctrl), 2.0)
    aorta = Tube(path, np.linspace(r_top, r_top * u(0.7, 0.8), len(path)), "aorta")
    s = aorta.arclength()
    frac_of_z = lambda z: float(np.interp(-z, -path[:, 2], s) / s[-1])
    _veins(canvas, t, aorta, frac_of_z, kidneys, spine_x, spine_y - body_r[1], (z_top, z_bottom), rng)
    branches = []
    for name, z, direction, r, length in (
            ("celiac trunk", z_d - u(45, 55), (u(-0.2, 0.2), -1, u(0.0, 0.4)), u(3.2, 4.0), u(20, 30)),
            ("superior mesenteric artery", z_d - u(60, 70), (u(-0.1, 0.1), -1, -u(0.8, 1.6)), u(3.0, 3.8), u(70, 100))):
        p, _, _ = aorta.at(frac_of_z(z))
        tree = branch_tree(p, direction, r, length, 1, rng, tortuosity=0.07, taper=0.8, step_mm=1.5)
        if name.startswith("superior"):      # jejunal and ileal branches fanning into the mesentery
            for child in list(tree.children):
                child.children = [branch_tree(child.points[len(child.points) // 2], (u(-1, 1), -u(0.2, 0.8), -u(0.2, 1)),
                                              1.6, u(30, 45), 3, rng, tortuosity=0.1, taper=0.8, spread_rad=0.9,
                                              step_mm=2.0, min_radius_mm=0.6) for _ in range(2)]
        tree.name = name
        branches.extend(tree.walk())
    renal_z = {}
    for side in (-1, 1):
        zr = kidneys[side][2] + u(0, 12)
        renal_z[side] = zr
        p, _, _ = aorta.at(frac_of_z(zr))
        target = np.array([kidneys[side][0] - side * 20, kidneys[side][1] - 4, kidneys[side][2]])
        renal_path = resample(np.array([p, p + (target - p) * 0.5 + (0, u(-4, 4), u(-6, 6)), target]), 1.5)
        branches.append(Tube(spline_through(renal_path[::4] if len(renal_path) > 8 else renal_path, 1.5),
                             u(2.6, 3.3), "right renal artery" if side < 0 else "left renal artery"))
    iliacs = []
    for side in (-1, 1):
        end = (spine_x + side * u(50, 70), aorta_y + u(-15, 10), z_bottom - 10)
        p0 = path[-1]
        mid = (p0[0] + side * u(15, 25), p0[1] + u(-5, 5), (p0[2] + end[2]) / 2)
        ipath = spline_through(np.array([p0, mid, end]), 1.5)
        iliacs.append(Tube(ipath, np.linspace(r_top * 0.55, r_top * 0.42, len(ipath)),
                           "right common iliac artery" if side < 0 else "left common iliac artery"))
    tubes = [aorta, *branches, *iliacs]

    lesions = []
    truth: dict = {"location": None, "stenosis_percent": None}
    wall_mm = u(1.2, 2.0)
    if pathology == "aneurysm":
        top = frac_of_z(min(renal_z.values()) - u(10, 20))
        length = u(50, 100)
        centre = top + (length / 2) / s[-1]
        diameter = u(35, 72)
        lesion = aneurysm(aorta, min(centre, 0.93), length, diameter, rng, t["thrombus"])
        lesions.append(lesion)
        truth.update(location="infrarenal abdominal aorta", findings=[lesion.truth])
    elif pathology == "calcified_plaque":
        iliac = iliacs[int(rng.integers(0, 2))]
        lesion = narrowing(iliac, u(0.3, 0.7), u(10, 25), u(0.5, 0.85), rng, t["soft_plaque"])
        lesions.append(lesion)
        truth.update(location=iliac.name, stenosis_percent=lesion.truth["stenosis_percent"], findings=[lesion.truth])
    paint_vessel_tree(canvas, t, tubes, lesions, wall_mm=wall_mm)
    if pathology == "dissection":
        truth.update(_dissection(canvas, t, aorta, rng, frac_of_z(z_d + u(0, 40)), frac_of_z(z_bif + u(10, 50))))
    n_calc = int(rng.integers(0, 6)) + (int(rng.integers(8, 20)) if pathology in ("calcified_plaque", "aneurysm") else 0)
    calcs = []
    for tube in (aorta, *iliacs):
        calcs += common.calcified_plaques(canvas, t, tube, max(n_calc // 3, 0) if tube is not aorta else n_calc,
                                          rng, size_mm=(1.0, 3.5), span=(0.3, 0.98))
    for lesion in lesions:
        if lesion.kind != "aneurysm":
            calcs += common.calcified_plaques(canvas, t, lesion.outer, int(rng.integers(2, 5)), rng, (1.0, 2.5))
    diameters = [2 * (lesion.outer.radii.max() + wall_mm) for lesion in lesions if lesion.kind == "aneurysm"]
    truth["max_diameter_mm"] = round(float(max(diameters or [2 * (aorta.radii.max() + wall_mm)])), 1)
    truth["calcifications"] = len(calcs)
    truth.setdefault("findings", truth.get("findings", []))
    return truth


def _veins(canvas, t, aorta: Tube, frac_of_z, kidneys: dict, spine_x: float, spine_front_y: float, levels, rng):
    """Paint the unopacified veins of the arterial phase: the inferior vena cava, the renal veins and the iliac veins.

    The cava is oval (wider than deep, two offset tubes), 14–32 mm wide, and lies right of the aorta with a gap of
    2–12 mm at the level of the kidneys, wherever the aorta is (0–20 mm left of the spine there): so neither its
    distance from the midline nor its shape alone tells it from the aorta, only its side and its branches do. The
    left renal vein crosses in front of the aorta, as in patients.
    """
    u = common.uniform(rng)
    z_top, z_bottom = levels
    span = z_top - z_bottom
    r, half_offset = u(7, 11), u(0, 5)
    z_kidneys = (kidneys[-1][2] + kidneys[1][2]) / 2
    p_mid, _, i_mid = aorta.at(frac_of_z(z_kidneys))
    x_mid = min(p_mid[0] - aorta.radii[i_mid] - (r + half_offset) - u(2, 12), spine_x - 6)
    y_of = lambda gap: spine_front_y - r - gap
    path = spline_through(np.array([[spine_x - u(20, 32), y_of(u(1, 6)), z_top + 5],
                                    [x_mid, y_of(u(1, 6)), z_kidneys],
                                    [spine_x - u(4, 12), spine_front_y - 6, z_bottom + span * 0.22]]), 3.0)
    cava = [Tube(path + (side * half_offset, 0.0, 0.0), r, "inferior vena cava") for side in (-1, 1)]
    cava_at = lambda z: np.array([np.interp(-z, -path[:, 2], path[:, a]) for a in range(3)])
    renal = []
    for side in (-1, 1):
        kc = kidneys[side]
        hilum = np.array([kc[0] - side * 18, kc[1] - 8, kc[2] - u(0, 8)])
        end = cava_at(hilum[2]) + (side * half_offset, 0.0, 0.0)
        ctrl = [hilum, end]
        if side > 0:   # the left renal vein passes in front of the aorta on its way to the cava
            p, _, i = aorta.at(frac_of_z(hilum[2]))
            ctrl.insert(1, [p[0], p[1] - aorta.radii[i] - u(4, 7), hilum[2] + u(0, 6)])
        renal.append(Tube(spline_through(np.array(ctrl), 1.5), u(3.5, 5.0),
                          "left renal vein" if side > 0 else "right renal vein"))
    iliac = [Tube(resample(np.array([path[-1], [spine_x + s * u(45, 60), spine_front_y + 5, z_bottom - 10]]), 3.0), 7.5)
             for s in (-1, 1)]
    vsl, vsdf = tube_sdf(canvas, [*cava, *renal, *iliac])
    canvas.paint(vsl, vsdf, t["vein"])


def _hollow_organ(canvas, t, sdf_fn, lo, hi, gas_below_y):
    """Stomach-like organ: wall, fluid content, gas collected anteriorly (y < ``gas_below_y``)."""
    sl = canvas.box(lo, hi)
    if sl is None:
        return
    x, y, z = canvas.grid(sl)
    d = sdf_fn(x, y, z)
    canvas.paint(sl, d, t["bowel_wall"])
    canvas.paint(sl, d + 3.0, t["bowel_fluid"])
    canvas.paint(sl, np.maximum(d + 3.0, (y - gas_below_y).astype(np.float32)), t["bowel_gas"])


def _bowel(canvas, t, tubes, rng, gas_level: float, cavity, stool: bool = False):
    """Bowel loops inside the abdominal ``cavity`` (sdf function): wall, mottled content with gas bubbles,
    and gas anterior to a level (fraction of the radius, −1 … 1)."""
    sl, sdf = tube_sdf(canvas, tubes)
    if sl is None:
        return
    sdf = np.maximum(sdf, cavity(*canvas.grid(sl), 2.0))
    canvas.paint(sl, sdf, t["bowel_wall"])
    canvas.paint(sl, sdf + 2.5, t["bowel_fluid"], hu=t["bowel_fluid"].hu + 10.0 * canvas.texture(sl, 3.0))
    x, y, z = canvas.grid(sl)
    # gas rises to the front (smaller y); approximate the level with the nearest tube's centre height
    centre_y = np.median(np.concatenate([tb.points[:, 1] for tb in tubes]))
    radius = float(np.median([tb.radii.mean() for tb in tubes]))
    level = centre_y + gas_level * radius + 6.0 * canvas.texture(sl, 25.0)
    canvas.paint(sl, np.maximum(sdf + 2.5, y - level), t["bowel_gas"])
    if stool:   # faeces: mottled content with small gas bubbles
        bubbles = (1.1 - canvas.texture(sl, 4.0)) * 4.0
        canvas.paint(sl, np.maximum(sdf + 3.0, bubbles), t["bowel_gas"])


def _dissection(canvas, t, aorta: Tube, rng, start: float, stop: float) -> dict:
    """Intimal flap from ``start`` to ``stop`` (fractions of the aorta): a curved flap splits the lumen into a
    smaller, brighter true lumen and a larger, less opacified false lumen."""
    s = aorta.arclength()
    idx = (s >= start * s[-1]) & (s <= stop * s[-1])
    pts, radii = aorta.points[idx], aorta.radii[idx]
    share = rng.uniform(0.5, 0.7)
    e1, e2 = np.array([1.0, 0, 0]), np.array([0, 1.0, 0])
    angle = rng.uniform(0, 2 * np.pi) + np.linspace(0, rng.uniform(-2, 2), len(pts))   # the flap spirals
    side = np.cos(angle)[:, None] * e1 + np.sin(angle)[:, None] * e2
    true_r = radii * share
    true_pts = pts + ((radii - true_r) * 0.92)[:, None] * side
    segment = Tube(pts, radii, "aorta")
    true_lumen = Tube(true_pts, true_r, "aorta")
    sl, seg_sdf = tube_sdf(canvas, [segment])
    _, true_sdf = tube_sdf(canvas, [true_lumen], sl=sl)
    canvas.paint(sl, seg_sdf, t["false_lumen"], pathology=True)
    inside = canvas.fraction(seg_sdf + 0.5)
    canvas.paint(sl, np.abs(true_sdf) - 0.7, t["flap"], pathology=True, within=inside)
    canvas.paint(sl, true_sdf + 0.7, t["lumen"], within=inside)
    return {"location": "descending thoracic and abdominal aorta",
            "findings": [{"kind": "dissection", "vessel": "aorta", "length_mm": round(float(s[idx][-1] - s[idx][0]), 1),
                          "true_lumen_share": round(float(share), 2), "false_lumen_hu": t["false_lumen"].cta_hu}]}
