"""Tissue classes of the phantoms and their HU, unenhanced and in the arterial phase, drawn per case.

References (../shared/data/README.md and the literature it cites): unenhanced blood 40–47 HU (30–60 with
haematocrit), thrombus 55–80 HU and not enhancing, calcification ≥ 130 HU on NCCT, fat −100 to −50,
lung −700 to −900, liver 50–65 unenhanced (28–47 when fatty, in 30 % of cases); arterial lumen in the
indication's range (:attr:`Indication.lumen_hu`); in the arterial phase myocardium, renal cortex, spleen
and liver enhance modestly, muscle, fat, bone, air and unopacified veins do not.
"""

from __future__ import annotations

import numpy as np

from ..indications import Indication
from .canvas import Tissue

#: Label ids of the tissue map (``tissue.nii.gz``); 0 is air outside the body.
LABELS = {
    "air": 0, "fat": 1, "skin": 2, "muscle": 3, "cortical_bone": 4, "trabecular_bone": 5, "marrow": 6,
    "lung": 7, "airway": 8, "liver": 9, "spleen": 10, "kidney_cortex": 11, "kidney_medulla": 12,
    "bowel_wall": 13, "bowel_gas": 14, "bowel_fluid": 15, "vein": 16, "lumen": 17, "wall": 18,
    "thrombus": 19, "calcium": 20, "soft_plaque": 21, "myocardium": 22, "blood_pool": 23, "flap": 24,
    "disc": 25, "csf": 26, "grey_matter": 27, "white_matter": 28, "gland": 29, "pancreas": 30,
    "cartilage": 31, "tendon": 32, "false_lumen": 33, "lung_vessel": 34, "fluid": 35, "table": 36,
}

#: Labels that make up each mask of a pair (besides ``pathology``, which is painted directly).
MASK_LABELS = {
    "lumen": ("lumen", "false_lumen"),
    "wall": ("wall", "flap"),
    "thrombus": ("thrombus",),
    "calcium": ("calcium",),
    "plaque": ("soft_plaque",),
}


#: Share of cases with a fatty liver (hepatic steatosis: about a quarter of adults), and the unenhanced liver HU
#: of a fatty and of a normal liver. A fatty liver reads as dark as unenhanced blood or darker, so its hepatic
#: veins stand out bright; a network that took every large organ at blood HU for a heart chamber would enhance it.
STEATOSIS_SHARE = 0.3
FATTY_LIVER_HU = (28.0, 47.0)
NORMAL_LIVER_HU = (50.0, 65.0)


def liver_hu(q: float) -> float:
    """Unenhanced liver HU for a uniform draw ``q`` in [0, 1): the lowest :data:`STEATOSIS_SHARE` of draws give a
    fatty liver, the rest a normal one (one draw, so the other tissues' draws stay as they were)."""
    if q < STEATOSIS_SHARE:
        lo, hi = FATTY_LIVER_HU
        return lo + (hi - lo) * q / STEATOSIS_SHARE
    lo, hi = NORMAL_LIVER_HU
    return lo + (hi - lo) * (q - STEATOSIS_SHARE) / (1.0 - STEATOSIS_SHARE)


def case_tissues(indication: Indication, rng: np.random.Generator) -> tuple[dict[str, Tissue], dict]:
    """Tissue classes with this case's HU, and the HU facts that go into case.json."""
    u = rng.uniform
    lo, hi = indication.lumen_hu
    blood = round(float(u(36.0, 50.0)), 1)
    lumen = round(float(u(lo + 0.15 * (hi - lo), hi - 0.1 * (hi - lo))), 1)
    thrombus = round(float(u(58.0, 75.0)), 1)
    # other vascular beds in the arterial phase, relative to the arterial lumen
    if indication.name == "pulmonary":
        right_heart, left_heart = lumen * u(0.9, 1.05), lumen * u(0.35, 0.6)
    else:
        right_heart, left_heart = lumen * u(0.25, 0.5), lumen * u(0.85, 1.0)
    t = {
        "fat": Tissue(1, "fat", u(-105, -85)),
        "skin": Tissue(2, "skin", u(20, 40)),
        "muscle": Tissue(3, "muscle", u(45, 58)),
        "cortical_bone": Tissue(4, "cortical bone", u(900, 1300)),
        "trabecular_bone": Tissue(5, "trabecular bone", u(170, 280)),
        "marrow": Tissue(6, "fatty marrow", u(-60, 10)),
        "lung": Tissue(7, "lung", u(-870, -820)),
        "airway": Tissue(8, "airway", -990.0),
        "liver": Tissue(9, "liver", liver_hu(u(0.0, 1.0)), None),
        "spleen": Tissue(10, "spleen", u(40, 50), None),
        "kidney_cortex": Tissue(11, "renal cortex", u(30, 38), None),
        "kidney_medulla": Tissue(12, "renal medulla", u(28, 35), None),
        "bowel_wall": Tissue(13, "bowel wall", u(35, 45)),
        "bowel_gas": Tissue(14, "bowel gas", -980.0),
        "bowel_fluid": Tissue(15, "bowel content", u(5, 25)),
        "vein": Tissue(16, "unopacified vein", blood),
        "lumen": Tissue(17, "arterial lumen", blood, lumen),
        "wall": Tissue(18, "vessel wall", u(38, 48)),
        "thrombus": Tissue(19, "thrombus", thrombus),
        "calcium": Tissue(20, "calcification", u(550, 900)),
        "soft_plaque": Tissue(21, "soft plaque", u(30, 55)),
        "myocardium": Tissue(22, "myocardium", u(38, 48), None),
        "blood_pool": Tissue(23, "cardiac blood pool", blood, left_heart),
        "right_blood_pool": Tissue(23, "cardiac blood pool", blood, right_heart),
        "flap": Tissue(24, "intimal flap", u(40, 55)),
        "disc": Tissue(25, "intervertebral disc", u(70, 95)),
        "csf": Tissue(26, "cerebrospinal fluid", u(4, 12)),
        "grey_matter": Tissue(27, "grey matter", u(36, 42)),
        "white_matter": Tissue(28, "white matter", u(24, 30)),
        "gland": Tissue(29, "gland", u(60, 75), None),
        "pancreas": Tissue(30, "pancreas", u(35, 45), None),
        "cartilage": Tissue(31, "cartilage", u(90, 120)),
        "tendon": Tissue(32, "tendon", u(70, 90)),
        "false_lumen": Tissue(33, "false lumen", blood, lumen * u(0.35, 0.7)),
        "lung_vessel": Tissue(34, "lung vessel", blood, lumen * (u(0.9, 1.0) if indication.name == "pulmonary"
                                                               else u(0.45, 0.7))),
        "fluid": Tissue(35, "fluid", u(0, 15)),
        "table": Tissue(36, "patient table", u(150, 350)),
    }
    # arterial-phase organ enhancement (HU added), modest: parenchyma lags the arterial lumen
    arterial = {"liver": u(10, 25), "spleen": u(40, 80), "kidney_cortex": u(110, 180), "kidney_medulla": u(20, 50),
                "myocardium": u(60, 110), "gland": u(30, 60), "pancreas": u(50, 80)}
    for name, gain in arterial.items():
        base = t[name]
        t[name] = Tissue(base.label, base.name, round(float(base.hu), 1), round(float(base.hu + gain), 1))
    t = {k: Tissue(v.label, v.name, round(float(v.hu), 1), None if v.cta_hu is None else round(float(v.cta_hu), 1))
         for k, v in t.items()}
    facts = {"blood_hu": blood, "lumen_hu": lumen, "thrombus_hu": thrombus}
    return t, facts
