"""ReaderStudy: what a reader waits for — the next case on screen, and Submit (answers into the store)."""

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]


def run() -> list[dict]:
    sys.path.insert(0, str(REPO / "ReaderStudy"))
    from NetZeroAICT import Volume, write_volume
    from NetZeroAICT.mrml.hanging import HangingProtocol, headless_slice_logics, release_headless_views
    from NetZeroAICT.mrml.volumes import new_headless_scene
    from ReaderStudyLib.viewer import CaseViewer

    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "case.nii"  # packages hold uncompressed int16 NIfTI
        write_volume(Volume(rng.normal(40, 200, size=(400, 512, 512)).astype(np.int16), (0.8, 0.8, 1.0)), path)
        scene = new_headless_scene()
        headless_slice_logics(scene)
        viewer = CaseViewer(HangingProtocol.from_dict({"layout": "four_up", "mip_slab_mm": 10}), scene)
        times = []
        for index in range(3):
            start = time.perf_counter()
            viewer.show(f"CODE{index}", path)
            times.append(time.perf_counter() - start)
        viewer.clear()
        release_headless_views(scene)
        scene.Clear(1)
        rows.append({"what": "next case on screen: blinded load + hanging protocol, 512×512×400 (median of 3)",
                     "value": f"{np.median(times):.2f} s", "goal": "≤ 3 s"})
        rows.append(_submit(Path(tmp)))
    return rows


def _submit(tmp: Path) -> dict:
    sys.path.insert(0, str(REPO))
    from NetZeroAICT.study import ResultsStore
    from ReaderStudyLib.reading import ReaderPackage, ReadingSession
    from Testing.readerstudy_helpers import build_small_package

    build_small_package(tmp, n_cases=8)
    session = ReadingSession(ReaderPackage.open(tmp / "package"), ResultsStore(tmp / "r.sqlite"), "R1")
    answers = {"diagnosis": True, "confidence": 4, "quality": 4, "diameter": 21.5, "comment": "ok"}
    times = []
    while session.current_code:
        session.open_current()
        start = time.perf_counter()
        session.submit(answers)
        times.append(time.perf_counter() - start)
    return {"what": "Submit: 5 answers saved + reading submitted + next case found (SQLite, median of 8)",
            "value": f"{1000 * np.median(times):.0f} ms", "goal": "≤ 200 ms"}
