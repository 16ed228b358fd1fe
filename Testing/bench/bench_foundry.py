"""Foundry and metrics: one 256×256×256 phantom pair per indication (goal ≤ 3 s), all metrics on a
512×512×400 pair (goal ≤ 5 s). Wall time and this process's CPU time are both reported (the machine is shared)."""

import time

import numpy as np

from NetZeroAICT.foundry import make_pair
from NetZeroAICT.indications import INDICATIONS
from NetZeroAICT.metrics import evaluate_pair
from NetZeroAICT.volume import Volume


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def run() -> list[dict]:
    rows = []
    for indication in INDICATIONS:
        make_pair(indication, 0, shape_ijk=(64, 64, 64))                       # warm up imports and caches
        _, wall, cpu = _timed(lambda: make_pair(indication, 1, shape_ijk=(256, 256, 256)))
        rows.append({"what": f"make_pair {indication} 256×256×256", "value": f"{wall:.2f} s wall, {cpu:.2f} s CPU",
                     "goal": "≤ 3 s", "seconds": wall})
    pair = make_pair("aorta", 2, shape_ijk=(256, 256, 200), spacing_mm=1.5, pathology="aneurysm")
    up = lambda a: np.repeat(np.repeat(np.repeat(a, 2, axis=0), 2, axis=1), 2, axis=2)
    grid = dict(spacing_mm=(0.75, 0.75, 0.75))
    ref = Volume(up(pair.cta.voxels), **grid)
    ncct = Volume(up(pair.ncct.voxels), **grid)
    lumen = Volume(up(pair.masks["lumen"].voxels), **grid)
    rng = np.random.default_rng(0)
    pred = Volume(ref.voxels + rng.normal(0, 20, ref.voxels.shape).astype(np.float32), **grid)
    result, wall, cpu = _timed(lambda: evaluate_pair(pred, ref, lumen, ncct))
    rows.append({"what": "all metrics, 512×512×400 pair", "value": f"{wall:.2f} s wall, {cpu:.2f} s CPU "
                 f"(SSIM stride {result['ssim_stride']})", "goal": "≤ 5 s", "seconds": wall})
    return rows
