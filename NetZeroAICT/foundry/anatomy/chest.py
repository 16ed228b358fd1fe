"""The chest shared by the pulmonary and coronary phantoms: chest wall, thoracic spine, ribs, sternum,
mediastinal fat, lungs, heart, aorta, superior vena cava, trachea and main bronchi, liver dome."""

from __future__ import annotations

import numpy as np

from .. import shapes
from ..canvas import Canvas, Tissue
from ..vessels import Tube, spline_through, tube_sdf
from . import common
from .heart import Heart


def chest(canvas: Canvas, t: dict[str, Tissue], rng: np.random.Generator, heart_centre, z_diaphragm: float,
          lung_vessels: bool, svc_tissue: Tissue) -> dict:
    """Paint the chest around a heart centred at ``heart_centre`` (mm); returns landmarks and tubes."""
    u = common.uniform(rng)
    hc = np.asarray(heart_centre, dtype=np.float64)
    a, b = u(130, 155), u(92, 112)
    body_c = (hc[0] - u(10, 20), hc[1] + b - u(62, 75))
    sc_fat = u(6, 22)
    trunk = common.Trunk(canvas, body_c, (a, b), rng, flat_back=0.1)
    wall = 2.0 + sc_fat + u(10, 16)
    trunk.paint_layers(t, [(t["fat"], 2.0, 0.0), (t["muscle"], 2.0 + sc_fat, u(4, 12)), (t["fat"], wall, u(0, 5))])
    spine_x, spine_y = body_c[0] + u(-3, 3), body_c[1] + b * u(0.45, 0.55)
    body_r = (u(15, 18), u(13, 16))
    z0, z1 = float(canvas.z[0]), float(canvas.z[-1])
    # paraspinal muscles
    for side in (-1, 1):
        c = (spine_x + side * u(26, 32), spine_y + body_r[1] + u(14, 22))
        r = (u(20, 26), u(16, 22))
        canvas.fill(t["muscle"], lambda x, y, z, c=c, r=r: np.maximum(shapes.ellipse_2d(x, y, c, r),
                                                                       trunk.depth_sdf(x, y, z, 2.0 + sc_fat)),
                    (c[0] - r[0], c[1] - r[1], z0), (c[0] + r[0], c[1] + r[1], z1))
    heart = Heart(hc, rng)
    floor = lambda x, y: common.diaphragm_floor(x, y, z_diaphragm, z_diaphragm - 12.0, a - sc_fat, body_c[1] - b * 0.1,
                                                 recess_mm=55.0)
    med_w = u(18, 26)
    mediastinum = lambda x, y, z: shapes.union(
        shapes.ellipse_2d(x, y, (hc[0] - 8, body_c[1] - b * 0.35), (med_w, b * 0.6)),
        shapes.ellipse_2d(x, y, (spine_x, spine_y), (body_r[0] + 8, body_r[1] + 10)),
        shapes.ellipse_2d(x, y, (spine_x + 6, (spine_y + hc[1]) / 2), (med_w * 0.9, abs(spine_y - hc[1]) / 2)))
    # the heart is painted over the lungs afterwards, so they need not exclude it
    lung_sdf = common.lungs(canvas, t, trunk, wall - 3, floor, mediastinum, rng, vessels=lung_vessels)
    # liver dome under the right diaphragm
    liver_c = (body_c[0] - a * 0.3, body_c[1] - b * 0.05, z_diaphragm - 70)
    liver_r = (a * 0.55, b * 0.7, 85)
    canvas.fill(t["liver"], lambda x, y, z: shapes.intersect(shapes.ellipsoid(x, y, z, liver_c, liver_r),
                                                             trunk.depth_sdf(x, y, z, wall), z - floor(x, y) + 3.0),
                np.subtract(liver_c, liver_r), np.add(liver_c, liver_r))
    landmarks = heart.paint(canvas, t, fat_mm=u(4, 9))
    # great vessels: aorta (ascending → arch → descending), SVC, trachea
    root = landmarks["aortic_root"]
    top = root.points[-1]
    arch_top = max(top[2] + 15, z1 - 10) if top[2] < z1 - 20 else top[2] + 10
    desc_x, desc_y = spine_x + u(18, 26), spine_y - body_r[1] - u(2, 8)
    arch = spline_through(np.array([top, [top[0] + 10, top[1] + 20, arch_top], [desc_x, desc_y - 10, arch_top - 5],
                                    [desc_x, desc_y, arch_top - 40], [desc_x + u(-4, 4), desc_y, z0 - 10]]), 1.5)
    r_ao = float(root.radii[-1])
    aorta = Tube(np.vstack([root.points, arch[1:]]),
                 np.concatenate([root.radii, np.linspace(r_ao, r_ao * 0.8, len(arch) - 1)]), "aorta")
    svc_x = float(np.min(root.points[:, 0])) - r_ao - u(6, 10)
    svc = Tube(spline_through(np.array([[svc_x, hc[1] + 20, z1 + 10], [svc_x, hc[1] + 25, (z1 + hc[2]) / 2 + 20],
                                        landmarks["ra"][0] + np.array([0.0, 0.0, 15.0])]), 1.5), u(8, 11), "superior vena cava")
    sl, sdf = tube_sdf(canvas, [svc])
    if sl is not None:
        canvas.paint(sl, sdf, svc_tissue)
    carina_z = hc[2] + u(40, 60)
    trachea_c = (spine_x + u(-3, 3), spine_y - body_r[1] - 18)
    airways = [Tube(np.array([[trachea_c[0], trachea_c[1], z1 + 10], [trachea_c[0], trachea_c[1], carina_z]]), u(8, 10))]
    for side in (-1, 1):
        end = (trachea_c[0] + side * 40, trachea_c[1] + 8, carina_z - 35)
        airways.append(Tube(spline_through(np.array([airways[0].points[-1], [trachea_c[0] + side * 18, trachea_c[1] + 3, carina_z - 14], end]), 1.5),
                            u(5.5, 7.0)))
    sl, sdf = tube_sdf(canvas, airways)
    if sl is not None:
        canvas.paint(sl, sdf, t["cartilage"])
        canvas.paint(sl, sdf + 1.8, t["airway"])
    # bones last: spine, ribs, sternum (they lie over everything they touch)
    common.spine(canvas, t, spine_x, lambda z: spine_y, (z0 - 20, z1 + 20), u(23, 27), body_r, rng, transverse_mm=26.0)
    rib_z = np.arange(z1 + 60 + u(0, 20), z0 - 40, -u(20, 24))
    common.ribs(canvas, t, (spine_x, body_c[1]), (a - sc_fat - 10, b - sc_fat - 10), rib_z, rng, radius_mm=u(4.0, 5.0))
    st_c = (body_c[0] + u(-3, 3), body_c[1] - b + sc_fat + 14)
    canvas.fill(t["cortical_bone"], lambda x, y, z: shapes.intersect(shapes.ellipse_2d(x, y, st_c, (14, 6)),
                                                                     shapes.slab(z, z_diaphragm - 10, z1 + 20)),
                (st_c[0] - 15, st_c[1] - 7, z_diaphragm - 10), (st_c[0] + 15, st_c[1] + 7, z1 + 20))
    canvas.fill(t["trabecular_bone"], lambda x, y, z: shapes.intersect(shapes.ellipse_2d(x, y, st_c, (12, 4)),
                                                                       shapes.slab(z, z_diaphragm - 8, z1 + 20)),
                (st_c[0] - 15, st_c[1] - 7, z_diaphragm - 10), (st_c[0] + 15, st_c[1] + 7, z1 + 20))
    return {"trunk": trunk, "heart": heart, "aorta": aorta, "lung_sdf": lung_sdf, "mediastinum": mediastinum,
            "spine_xy": (spine_x, spine_y), "body_centre": body_c, "radii": (a, b), **landmarks}
