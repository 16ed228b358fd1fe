"""Neck and brain phantom (CT angiography of the neck and head): neck with cervical spine, trachea,
oesophagus, thyroid, muscles and jugular veins; face with sinuses and mandible; skull (tables and diploe),
skull base and petrous bones; brain (grey/white matter, ventricles, cerebellum); common, internal and
external carotid arteries, vertebral and basilar arteries, circle of Willis with MCA, ACA and PCA branches;
carotid sheath fat in the neck and CSF around the intracranial arteries (cisterns, sylvian fissures).

Pathologies: ``stenosis`` of the internal carotid origin (soft or calcified plaque, 50–90 %) and
``occlusion`` of a middle cerebral artery M1 segment by thrombus (no lumen beyond a 8–15 mm clot).
"""

from __future__ import annotations

import numpy as np

from .. import shapes
from ..canvas import Canvas, Tissue
from ..vessels import Tube, branch_tree, spline_through, tube_sdf
from . import common
from .lesions import narrowing, paint_vessel_tree

DEFAULT_SHAPE_IJK = (224, 224, 256)
DEFAULT_SPACING_MM = 0.9
PATHOLOGIES = ("stenosis", "occlusion")
NOISE = {"sigma_hu": (5.0, 10.0), "reference_mm": 0.9}


def draw_pathology(rng) -> str | None:
    return rng.choice([None, "stenosis", "occlusion"], p=[0.5, 0.3, 0.2])


def build(canvas: Canvas, t: dict[str, Tissue], rng: np.random.Generator, pathology: str | None) -> dict:
    u = common.uniform(rng)
    z0, z1 = float(canvas.z[0]), float(canvas.z[-1])
    span = z1 - z0
    z_sb = z0 + span * u(0.36, 0.44)                  # skull base
    z_w = z_sb + u(24, 32)                            # circle of Willis
    neck_c = (u(-3, 3), u(10, 20))
    neck_r = (u(52, 62), u(48, 56))
    scale = np.clip((z_sb + 12 - canvas.z) / 12.0, 0.0, 1.0) ** 0.5
    neck = common.Trunk(canvas, neck_c, neck_r, rng, z_scale=scale, flat_back=0.05)
    neck.paint_layers(t, [(t["fat"], 2.0, 0.0), (t["muscle"], 2.0 + u(4, 10), 0.0)])
    spine_y = neck_c[1] + u(8, 14)
    body_r = (u(8, 10), u(7, 8.5))

    # face and lower head: soft tissue, maxillary sinuses, nasal cavity, mandible
    face_c = (0.0, neck_c[1] - u(30, 38), z_sb - u(18, 26))
    face_r = (u(55, 62), u(62, 70), u(42, 48))
    canvas.fill(t["muscle"], lambda x, y, z: shapes.ellipsoid(x, y, z, face_c, face_r),
                np.subtract(face_c, face_r), np.add(face_c, face_r))
    canvas.fill(t["fat"], lambda x, y, z: shapes.ellipsoid(x, y, z, face_c, np.subtract(face_r, 2.0)) + 6.0,
                np.subtract(face_c, face_r), np.add(face_c, face_r))
    for side in (-1, 1):
        sc = (side * u(20, 26), face_c[1] - u(18, 26), z_sb - u(10, 16))
        sr = (u(12, 16), u(14, 18), u(14, 18))
        canvas.fill(t["cortical_bone"], lambda x, y, z, c=sc, r=sr: shapes.ellipsoid(x, y, z, c, np.add(r, 1.5)),
                    np.subtract(sc, sr) - 2, np.add(sc, sr) + 2, hu=600.0)
        canvas.fill(t["airway"], lambda x, y, z, c=sc, r=sr: shapes.ellipsoid(x, y, z, c, r), np.subtract(sc, sr), np.add(sc, sr))
    nc = (0.0, face_c[1] - u(20, 28), z_sb - 8)
    canvas.fill(t["airway"], lambda x, y, z: shapes.ellipsoid(x, y, z, nc, (6, 22, 14)), np.subtract(nc, (6, 22, 14)),
                np.add(nc, (6, 22, 14)))
    jaw_z = face_c[2] - face_r[2] * 0.45
    front = face_c[1] - face_r[1] * 0.72
    jaw = spline_through(np.array([[-42, neck_c[1] - 8, jaw_z + 25], [-36, face_c[1] - 10, jaw_z + 2], [0, front, jaw_z - 4],
                                   [36, face_c[1] - 10, jaw_z + 2], [42, neck_c[1] - 8, jaw_z + 25]]), 1.5)
    jsl, jsdf = tube_sdf(canvas, [Tube(jaw, u(5.0, 6.5))])
    if jsl is not None:
        canvas.paint(jsl, jsdf, t["cortical_bone"])
        canvas.paint(jsl, jsdf + 2.0, t["trabecular_bone"])

    # neck organs
    for side in (-1, 1):   # sternocleidomastoid and paraspinal muscles
        c = (neck_c[0] + side * neck_r[0] * 0.6, neck_c[1] - neck_r[1] * 0.25)
        canvas.fill(t["muscle"], lambda x, y, z, c=c: shapes.ellipse_2d(x, y, c, (9, 15)),
                    (c[0] - 10, c[1] - 16, z0), (c[0] + 10, c[1] + 16, z_sb))
    trachea_c = (neck_c[0], neck_c[1] - neck_r[1] * 0.55)
    airway = Tube(np.array([[trachea_c[0], trachea_c[1], z0 - 5], [trachea_c[0], trachea_c[1] + 4, z_sb - 45]]), u(7, 9))
    asl, asdf = tube_sdf(canvas, [airway])
    canvas.paint(asl, asdf, t["cartilage"])
    canvas.paint(asl, asdf + 1.5, t["airway"])
    oes_c = (neck_c[0] + 2, trachea_c[1] + 14)
    canvas.fill(t["muscle"], lambda x, y, z: shapes.ellipse_2d(x, y, oes_c, (8, 5)), (oes_c[0] - 9, oes_c[1] - 6, z0),
                (oes_c[0] + 9, oes_c[1] + 6, z_sb - 50))
    thyroid_z = z0 + u(10, 25)
    for side in (-1, 1):
        tc = (trachea_c[0] + side * 15, trachea_c[1] + 2, thyroid_z)
        canvas.fill(t["gland"], lambda x, y, z, c=tc: shapes.ellipsoid(x, y, z, c, (8, 9, 22)),
                    np.subtract(tc, (9, 10, 23)), np.add(tc, (9, 10, 23)))
    common.spine(canvas, t, neck_c[0], lambda z: spine_y, (z0 - 10, z_sb - 12), u(15, 17), body_r, rng,
                 transverse_mm=18.0)

    # head: scalp, skull (outer table, diploe, inner table), CSF, grey and white matter, ventricles
    head_c = (u(-2, 2), neck_c[1] - u(8, 14), z_sb + u(30, 40))
    skull_r = (u(68, 74), u(84, 92), u(72, 80))
    thick = u(5.5, 8.0)
    lo, hi = np.subtract(head_c, np.add(skull_r, 8)), np.add(head_c, np.add(skull_r, 8))
    sl = canvas.box(lo, hi)
    x, y, z = canvas.grid(sl)
    skull = shapes.ellipsoid(x, y, z, head_c, skull_r)
    above_base = (z_sb - 2 - z).astype(np.float32)
    canvas.paint(sl, np.maximum(skull - 6.0, above_base - 15), t["skin"])
    canvas.paint(sl, np.maximum(skull - 4.5, above_base - 15), t["fat"])
    canvas.paint(sl, np.maximum(skull, above_base - 10), t["cortical_bone"])
    canvas.paint(sl, np.maximum(skull + 1.8, above_base - 8), t["trabecular_bone"],
                 hu=t["trabecular_bone"].hu + 40.0 * canvas.texture(sl, 2.0))
    canvas.paint(sl, np.maximum(skull + thick - 1.8, above_base - 6), t["cortical_bone"])
    cereb_c = (head_c[0], head_c[1] + skull_r[1] * 0.5, z_sb - 4)
    cerebellum = shapes.ellipsoid(x, y, z, cereb_c, (52, 30, 24))
    inner = np.maximum(skull + thick, np.minimum(above_base, cerebellum))
    canvas.paint(sl, inner, t["csf"])
    canvas.paint(sl, inner + 1.5, t["grey_matter"])
    canvas.paint(sl, np.maximum(inner + 4.5 + 4.0 * canvas.texture(sl, 7.0), -cerebellum - 2.0), t["white_matter"])
    for side in (-1, 1):
        vc = (head_c[0] + side * u(8, 12), head_c[1] + u(-5, 8), z_w + u(22, 30))
        vr = (u(4, 7), u(22, 30), u(8, 11))
        canvas.paint(sl, shapes.ellipsoid(x, y, z, vc, vr), t["csf"])
    plate = shapes.intersect(shapes.slab(z, z_sb - 4, z_sb + 2),
                             shapes.ellipsoid(x, y, z, head_c, np.subtract(skull_r, thick - 2)),
                             -shapes.ellipse_2d(x, y, (head_c[0], cereb_c[1] - 18), (15, 17)))
    canvas.paint(sl, plate, t["cortical_bone"], hu=t["cortical_bone"].hu * 0.8)
    for side in (-1, 1):   # petrous ridges
        pc = (head_c[0] + side * 32, head_c[1] + 12, z_sb + 6)
        rot = np.array([[np.cos(side * 0.8), -np.sin(side * 0.8), 0], [np.sin(side * 0.8), np.cos(side * 0.8), 0], [0, 0, 1.0]])
        canvas.paint(sl, shapes.rotated_ellipsoid(x, y, z, pc, (28, 8, 9), rot), t["cortical_bone"])
    del x, y, z, skull, cerebellum, inner

    # veins: internal jugular (unopacified)
    jug = [Tube(np.array([[side * neck_r[0] * 0.42, neck_c[1] - 2, z0 - 5], [side * neck_r[0] * 0.4, neck_c[1] + 6, z_sb]]),
                u(5, 7.5)) for side in (-1, 1)]
    vsl, vsdf = tube_sdf(canvas, jug)
    canvas.paint(vsl, vsdf, t["vein"])

    # arteries
    r_cca, r_ica, r_eca = u(3.1, 3.7), u(2.3, 2.8), u(1.8, 2.2)
    z_bif = z_sb - u(38, 52)
    tubes, named = [], {}
    for side, sname in ((-1, "right"), (1, "left")):
        cca_x = side * neck_r[0] * u(0.3, 0.38)
        cca_pts = spline_through(np.array([[cca_x, trachea_c[1] + 10, z0 - 5], [cca_x * 1.05, trachea_c[1] + 13, (z0 + z_bif) / 2],
                                           [cca_x * 1.1, trachea_c[1] + 16, z_bif]]), 1.0)
        cca = Tube(cca_pts, r_cca, f"{sname} common carotid artery")
        bif = cca_pts[-1]
        ica_ctrl = np.array([bif, bif + (side * 3, 6, 12), [side * 24, neck_c[1] + 4, z_sb - 15], [side * 20, neck_c[1] + 2, z_sb + 2],
                             [side * 16, head_c[1] - 4, z_sb + 8], [side * 15, head_c[1] - 12, z_sb + 16],
                             [side * 14, head_c[1] - 6, z_w - 4], [side * 13, head_c[1] - 4, z_w]])
        ica_pts = spline_through(ica_ctrl + np.concatenate([[np.zeros(3)], rng.normal(0, 1.5, (len(ica_ctrl) - 1, 3))]), 1.0)
        s = np.linalg.norm(np.diff(ica_pts, axis=0), axis=1).cumsum()
        s = np.concatenate([[0], s])
        ica_r = r_ica + (u(0.9, 1.4)) * np.exp(-((s - 6) / 8.0) ** 2)   # the carotid bulb
        ica = Tube(ica_pts, ica_r, f"{sname} internal carotid artery")
        eca = branch_tree(bif, (side * -0.3, -0.9, 1.0), r_eca, u(30, 40), 2, rng, tortuosity=0.08, taper=0.8, step_mm=1.0)
        eca.name = f"{sname} external carotid artery"
        term = ica_pts[-1]
        mca = branch_tree(term, (side * 1.0, u(-0.1, 0.2), u(0.0, 0.2)), u(1.3, 1.6), u(18, 24), 3, rng,
                          tortuosity=0.08, taper=0.85, spread_rad=0.7, step_mm=1.0, min_radius_mm=0.35)
        mca.name = f"{sname} middle cerebral artery M1"
        aca_pts = spline_through(np.array([term, [side * 5, head_c[1] - 18, z_w + 3], [side * 1.8, head_c[1] - 26, z_w + 12],
                                           [side * 1.8, head_c[1] - 40, z_w + 40], [side * 1.8, head_c[1] - 10, z_w + 62],
                                           [side * 1.8, head_c[1] + 30, z_w + 60]]), 1.0)
        aca = Tube(aca_pts, np.linspace(u(1.0, 1.2), 0.7, len(aca_pts)), f"{sname} anterior cerebral artery")
        va_pts = spline_through(np.array([[side * 21, spine_y - 2, z0 - 5], [side * 22, spine_y - 1, z_sb - 25],
                                          [side * 26, spine_y + 12, z_sb - 12], [side * 10, spine_y + 10, z_sb - 2],
                                          [side * 2, head_c[1] + 16, z_sb + 8]]), 1.0)
        va = Tube(va_pts, u(1.5, 2.0), f"{sname} vertebral artery")
        pca_pts = spline_through(np.array([[side * 1.0, head_c[1] + 10, z_w - 1], [side * 14, head_c[1] + 14, z_w],
                                           [side * 30, head_c[1] + 30, z_w + 6], [side * 30, head_c[1] + 60, z_w + 14]]), 1.0)
        pca = Tube(pca_pts, np.linspace(u(1.0, 1.3), 0.7, len(pca_pts)), f"{sname} posterior cerebral artery")
        pcomm = Tube(spline_through(np.array([term, [side * 14, head_c[1] + 4, z_w - 1], pca_pts[len(pca_pts) // 4]]), 1.0),
                     u(0.5, 0.8), f"{sname} posterior communicating artery")
        named[sname] = {"cca": cca, "ica": ica, "mca": mca}
        tubes += [cca, ica, *eca.walk(), *mca.walk(), aca, va, pca, pcomm]
    basilar = Tube(spline_through(np.array([[0, head_c[1] + 16, z_sb + 8], [u(-2, 2), head_c[1] + 12, (z_sb + z_w) / 2],
                                            [0, head_c[1] + 10, z_w - 1]]), 1.0), u(1.5, 1.8), "basilar artery")
    acomm = Tube(np.array([[-2.0, head_c[1] - 25, z_w + 11], [2.0, head_c[1] - 25, z_w + 11]]), 0.7, "anterior communicating artery")
    tubes += [basilar, acomm]

    lesions, truth = [], {"stenosis_percent": None, "location": None, "findings": [],
                          "max_diameter_mm": round(float(2 * r_cca), 1)}
    side = "right" if u() < 0.5 else "left"
    if pathology == "stenosis":
        ica = named[side]["ica"]
        calcified = u() < 0.4
        lesion = narrowing(ica, u(0.03, 0.08), u(8, 16), u(0.5, 0.9), rng, t["calcium"] if calcified else t["soft_plaque"])
        lesions.append(lesion)
        truth.update(stenosis_percent=lesion.truth["stenosis_percent"], location=f"{side} internal carotid artery origin",
                     findings=[{**lesion.truth, "plaque": "calcified" if calcified else "soft"}],
                     max_diameter_mm=lesion.truth["reference_diameter_mm"])
    elif pathology == "occlusion":
        mca = named[side]["mca"]
        lesion = narrowing(mca, u(0.35, 0.65), u(8, 15), 1.0, rng, t["thrombus"], kind="occlusion")
        lesions.append(lesion)
        truth.update(stenosis_percent=100.0, location=f"{side} middle cerebral artery M1",
                     findings=[lesion.truth], max_diameter_mm=lesion.truth["reference_diameter_mm"])
    # carotid sheath fat in the neck; basal cisterns and sylvian fissures (CSF) around the intracranial arteries
    extracranial = [tb for tb in tubes if "vertebral" not in tb.name]   # the vertebral arteries run in bone
    common.perivascular_sheath(canvas, t, extracranial + jug, u(1.5, 3.0), t["fat"],
                               region=lambda x, y, z: z - np.float32(z_sb - 4))
    common.perivascular_sheath(canvas, t, tubes, u(1.0, 2.0), t["csf"], over=("grey_matter", "white_matter"),
                               region=lambda x, y, z: np.float32(z_sb + 4) - z)
    paint_vessel_tree(canvas, t, tubes, lesions, wall_mm=0.6)
    if pathology == "occlusion":
        # no flow beyond the clot: the distal branches stay unopacified (blood HU in both phases)
        distal = [tb for tb in named[side]["mca"].walk()][1:]
        dsl, dsdf = tube_sdf(canvas, distal)
        if dsl is not None:
            canvas.paint(dsl, dsdf, t["vein"])
    for lesion in lesions:
        if lesion.kind == "stenosis":
            common.calcified_plaques(canvas, t, lesion.outer, int(rng.integers(0, 3)), rng, size_mm=(0.8, 1.8))
    return truth
