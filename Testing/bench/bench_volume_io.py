"""Volume I/O: writing and reading a 512×512×400 CT-sized volume."""

import tempfile
import time
from pathlib import Path

import numpy as np

from NetZeroAICT import Volume, read_volume, write_volume


def run() -> list[dict]:
    rng = np.random.default_rng(0)
    volume = Volume(rng.normal(0, 200, size=(400, 512, 512)).astype(np.float32), (0.8, 0.8, 1.0))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for suffix in (".nrrd", ".nii.gz"):
            path = Path(tmp) / f"v{suffix}"
            start = time.perf_counter()
            write_volume(volume, path, compress=suffix == ".nii.gz")
            written = time.perf_counter() - start
            start = time.perf_counter()
            read_volume(path)
            read = time.perf_counter() - start
            rows.append({"what": f"write / read {suffix} 512×512×400 float32", "value": f"{written:.2f} s / {read:.2f} s"})
    return rows
