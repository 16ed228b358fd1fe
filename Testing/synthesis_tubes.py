"""Small paired tube phantoms for the synthesis tests (not the foundry's anatomy: just enough to learn from).

A body of fat (−100 HU) with a bone rod (700 HU) in air, crossed by curved tubes of
blood: 40 HU on the NCCT, 350 HU on the CTA. Arrays are (z, y, x); spacing 1.5 mm.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from NetZeroAICT import Volume, write_volume


def tube_pair(seed: int, shape=(40, 48, 48), spacing_mm=1.5, noise_hu=5.0):
    """(ncct, cta, lumen, body) Volumes of one tube phantom."""
    rng = np.random.default_rng(seed)
    z, y, x = np.indices(shape, dtype=np.float32)
    cz, cy, cx = (np.array(shape) - 1) / 2
    body = ((y - cy) / (shape[1] * 0.45)) ** 2 + ((x - cx) / (shape[2] * 0.45)) ** 2 <= 1
    hu = np.full(shape, -1000.0, dtype=np.float32)
    hu[body] = -100.0
    hu[body & ((y - cy + 10) ** 2 + (x - cx - 8) ** 2 < 9)] = 700.0  # bone rod
    lumen = np.zeros(shape, dtype=bool)
    for _ in range(2):
        a, b, r = rng.uniform(-6, 6, 2), rng.uniform(0.05, 0.2, 2), rng.uniform(2.5, 4.0)
        py, px = cy + a[0] * np.sin(b[0] * z), cx + a[1] * np.cos(b[1] * z)
        lumen |= (y - py) ** 2 + (x - px) ** 2 <= r ** 2
    lumen &= body
    ncct = hu.copy()
    ncct[lumen] = 40.0
    cta = ncct.copy()
    cta[lumen] = 350.0
    noise = rng.normal(0, noise_hu, shape).astype(np.float32) * body
    vol = lambda a, **kw: Volume(a, (spacing_mm,) * 3, origin_lps=(-30.0, 12.0, 100.0), **kw)  # noqa: E731
    return vol(ncct + noise), vol(cta + noise), vol(lumen.astype(np.uint8)), vol(body.astype(np.uint8))


def write_tube_dataset(folder, seeds_train=(0, 1, 2), seeds_val=(3,)) -> Path:
    """A dataset folder in the foundry's layout (manifest.json + one folder per case)."""
    folder = Path(folder)
    names = {}
    for seed in (*seeds_train, *seeds_val):
        case = folder / f"case_{seed:03d}"
        case.mkdir(parents=True, exist_ok=True)
        ncct, cta, lumen, body = tube_pair(seed)
        for name, volume in (("ncct", ncct), ("cta", cta), ("lumen", lumen), ("body", body)):
            write_volume(volume, case / f"{name}.nii.gz")
        names[seed] = case.name
    (folder / "manifest.json").write_text(json.dumps({
        "indication": "aorta", "seeds": [*seeds_train, *seeds_val],
        "split": {"train": [names[s] for s in seeds_train], "validation": [names[s] for s in seeds_val],
                  "test": []}}))
    return folder
