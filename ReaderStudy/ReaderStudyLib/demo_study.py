"""The three-reader demo study, end to end through the ReaderStudy logic, ending in the analysis report.

    python ReaderStudy/ReaderStudyLib/demo_study.py --out demo-study [--cases 12] [--model DIR]

1. Cases: paired phantoms from the data foundry (``make_pair``; SYNTHETIC phantoms, half with an aneurysm):
   the phantom CTA plays the "real" CTA, its NCCT is the synthesis input.
2. Synthetic CTAs: the synthesis engine (``synthesize_file``) with the shipped model, the one given, or — when
   neither exists — a small DEMO model trained here on other foundry phantoms (said so in the summary).
3. Lead: protocol (``study init``), design, blinded package, audit.
4. Readers: three SIMULATED readers (:mod:`.simulated_reader`), each at their own site with their own store,
   read every session (two crossover sessions with washout on a simulated clock, then the Turing session):
   each case is loaded blinded into an MRML scene with the hanging protocol, the scene is checked for leaks,
   the diameter is measured with a ruler, the answers are submitted through :class:`.reading.ReadingSession`.
5. Lead: merge the readers' stores, progress, tidy export, analysis and HTML report.

Runs headless on slicer-core, or inside Slicer (the module's self-test).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ReaderStudyLib and NetZeroAICT importable
    sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[2])]

from NetZeroAICT.mrml.blinded_case import scene_leaks  # noqa: E402
from NetZeroAICT.mrml.hanging import HangingProtocol  # noqa: E402
from ReaderStudyLib import lead  # noqa: E402
from ReaderStudyLib.reading import ReaderPackage, ReadingSession  # noqa: E402
from ReaderStudyLib.simulated_reader import SimulatedReader, look_at  # noqa: E402
from ReaderStudyLib.viewer import CaseViewer  # noqa: E402

DEMO_GRID = ((64, 64, 64), 3.0)  # voxels (i, j, k), mm: small enough for a laptop CPU
READERS = (("R1", 1.0), ("R2", 1.2), ("R3", 0.8))
TINY_UNET = {"name": "monai.networks.nets.UNet",
             "kwargs": {"spatial_dims": 3, "in_channels": 3, "out_channels": 1, "channels": [8, 16, 32],
                        "strides": [2, 2], "num_res_units": 1, "norm": "batch", "act": "prelu"}}


class SimulatedClock:
    """The store's clock for simulated readers: each call moves ``step_s`` on; ``jump(days)`` for washouts."""

    def __init__(self, step_s: float = 25.0):
        from datetime import datetime, timezone

        self.now, self.step_s = datetime(2026, 3, 2, 8, 30, tzinfo=timezone.utc), step_s

    def __call__(self):
        from datetime import timedelta

        self.now += timedelta(seconds=self.step_s)
        return self.now

    def jump(self, days: float) -> None:
        from datetime import timedelta

        self.now += timedelta(days=days)


def write_phantom_cases(folder: Path, indication: str, seeds, grid=DEMO_GRID) -> list[dict]:
    """One foundry case folder per seed (ncct, cta, masks, case.json); pathology alternates none/aneurysm."""
    from NetZeroAICT.foundry import make_pair

    cases = []
    for n, seed in enumerate(seeds):
        pair = make_pair(indication, seed, grid[0], grid[1], pathology="aneurysm" if n % 2 else "none")
        pair.save(folder / f"phantom{seed}")
        cases.append(pair.case)
    return cases


def demo_model(work: Path, indication: str, model_dir=None, epochs: int = 12, log=print,
               grid=DEMO_GRID) -> tuple[str, str]:
    """(model folder, how it was obtained): the given one, the shipped one, or a DEMO model trained here."""
    from NetZeroAICT.errors import NetZeroAICTError
    from NetZeroAICT.synthesis import find_model_dir

    if model_dir:
        return str(find_model_dir(indication, model_dir)), "given"
    try:
        return str(find_model_dir(indication)), "shipped"
    except NetZeroAICTError:
        pass
    from NetZeroAICT.synthesis.training import train

    data = work / "demo_model_data"
    seeds = list(range(81000, 81004))
    write_phantom_cases(data, indication, seeds, grid)
    names = [f"phantom{s}" for s in seeds]
    (data / "manifest.json").write_text(json.dumps({"indication": indication, "seeds": seeds, "split": {
        "train": names[:3], "validation": names[3:], "test": []}}))
    log(f"no shipped {indication} model: training a small DEMO model on {len(seeds)} foundry phantoms")
    started = time.perf_counter()
    train(indication, data, work / "demo_model", epochs=epochs, steps_per_epoch=20, batch_size=2, patch=32,
          learning_rate=5e-3, architecture=TINY_UNET, spacing_mm=grid[1], show_progress=False)
    return str(work / "demo_model"), f"DEMO model trained here ({epochs} epochs, {time.perf_counter() - started:.0f} s)"


def read_all_sessions(reader: SimulatedReader, package: ReaderPackage, store, clock, scene,
                      forbidden_terms=()) -> dict:
    """One simulated reader reads every session of the package; returns counts and the scene leaks found
    (``forbidden_terms``: case ids, patient ids and file names the lead knows, checked after every load)."""
    import vtk

    viewer = CaseViewer(HangingProtocol.from_dict(package.hanging_protocol), scene)
    counts = {"readings": 0, "leaks": []}
    for index, session_info in enumerate(package.sessions):
        if index:
            clock.jump(session_info.get("washout_days", 0) + 0.01)
        session = ReadingSession(package, store, reader.reader_id, session_info["id"])
        while session.current_code is not None:
            node = viewer.show(session.current_code, session.open_current())
            counts["leaks"] += scene_leaks(forbidden_terms, scene)
            findings = look_at(node)
            measured = {}
            measured_mm = reader.measured_diameter(findings)
            if measured_mm is not None and any(q.get("role") == "diameter" for q in session.questions):
                ruler = viewer.start_ruler("diameter", lambda q, length: measured.update({q: length}))
                a, b = findings.ends_ras
                scale = measured_mm / findings.diameter_mm  # the reader's hand: a little long or short
                centre = [(x + y) / 2 for x, y in zip(a, b)]
                for end in (a, b):
                    ruler.node.AddControlPoint(vtk.vtkVector3d(*[c + (e - c) * scale for c, e in zip(centre, end)]))
            answers = reader.answers(session.questions, findings, measured.get("diameter"))
            session.save({k: v for k, v in answers.items() if k != "diagnosis"})  # autosave while reading
            session.submit(answers)
            counts["readings"] += 1
        session.finish()
    viewer.clear()
    return counts


def run_demo_study(out_dir, n_cases: int = 12, indication: str = "aorta", model_dir=None, seed: int = 2026,
                   scene=None, train_epochs: int = 12, grid=DEMO_GRID, log=print) -> dict:
    """Run the whole demo study into ``out_dir``; returns a summary (paths, counts, timings, key results).

    ``grid``: (voxels (i, j, k), spacing mm) of the phantoms; ``train_epochs``: of the DEMO model, when one is
    trained; ``scene``: the MRML scene readers read in (default: a new headless one)."""
    from NetZeroAICT.study import ResultsStore
    from NetZeroAICT.synthesis import SynthesisEngine, synthesize_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    timings, started = {}, time.perf_counter()
    summary = {"indication": indication, "cases": n_cases, "readers": [r for r, _ in READERS]}

    def lap(name):
        nonlocal started
        timings[name] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()

    write_phantom_cases(out / "cases", indication, range(seed * 10, seed * 10 + n_cases), grid)
    lap("phantom cases")
    model, summary["model"] = demo_model(out, indication, model_dir, train_epochs, log, grid)
    lap("model")
    engine = SynthesisEngine(indication, model, "cpu")
    records = []

    def synthesize(ncct_path, indication_, out_path):
        records.append(synthesize_file(str(ncct_path), indication_, str(out_path), accept_warnings=True,
                                       engine=engine))
        return records[-1]

    folder = lead.StudyFolder(out / "study" / "protocol.yaml")
    protocol = lead.create_protocol(out / "cases", folder.protocol_path, study_id="demo-aorta",
                                    indication=indication, readers=[r for r, _ in READERS], seed=seed,
                                    washout_days=28, synthesize=synthesize, log=log)
    lap("synthesis")
    summary["synthesis_s_per_case"] = round(timings["synthesis"] / max(len(records), 1), 2)
    summary["protocol_problems"] = lead.protocol_problems(folder.protocol_path)
    key = lead.build_study_package(folder, seed)
    summary["package_audit"] = lead.audit(folder)
    lap("package")

    from NetZeroAICT.mrml.hanging import release_headless_views
    from NetZeroAICT.mrml.volumes import new_headless_scene

    own_scene = scene is None
    scene = scene or new_headless_scene()
    package = ReaderPackage.open(folder.package_dir)
    forbidden = [c["id"] for c in protocol.cases] + [Path(c[k]).name.split(".")[0] for c in protocol.cases
                                                      for k in ("real_cta", "synthetic_cta", "ncct") if k in c]
    stores, readings, leaks = [], 0, []
    for number, (reader_id, skill) in enumerate(READERS):
        clock = SimulatedClock()
        store_path = out / "sites" / reader_id / "answers.sqlite"
        store_path.parent.mkdir(parents=True, exist_ok=True)
        with ResultsStore(store_path, clock=clock) as store:
            counts = read_all_sessions(SimulatedReader(reader_id, seed + number, skill), package, store, clock,
                                       scene, forbidden)
        readings += counts["readings"]
        leaks += counts["leaks"]
        stores.append(store_path)
    if own_scene:
        release_headless_views(scene)
        scene.Clear(1)
    lap("reading")

    summary["readings"], summary["scene_leaks"] = readings, leaks
    summary["merge"] = lead.gather(folder, stores)
    with ResultsStore(folder.lead_store_path) as store:
        summary["progress"] = lead.progress_rows(store, protocol.study_id)
        report, results = lead.analyze(folder, store)
    lap("analysis")
    summary.update(report=str(report), answers_csv=str(folder.results_dir / "answers.csv"), timings_s=timings,
                   key_items=len(key.items), results=_headline(results))
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    return summary


def _headline(results: dict) -> dict:
    """The numbers a person reads first: mean AUC per modality and the RRRC difference, Turing accuracy."""
    headline = {}
    for qid, entry in (results.get("mrmc") or {}).items():
        rrrc = (entry.get("analyses") or {}).get("RRRC", {})
        headline[f"auc.{qid}"] = {"mean_auc": entry.get("mean_fom"),
                                  "difference": (rrrc.get("differences") or [None])[0]}
    for qid, entry in (results.get("turing") or {}).items():
        pooled = entry.get("pooled") or {}
        headline[f"turing.{qid}"] = {"accuracy": pooled.get("value"), "p_chance": pooled.get("p_chance"),
                                     "n": pooled.get("n")}
    return headline


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--cases", type=int, default=12)
    parser.add_argument("--indication", default="aorta")
    parser.add_argument("--model", help="model folder (default: shipped, else a demo model trained here)")
    args = parser.parse_args(argv)
    summary = run_demo_study(args.out, args.cases, args.indication, args.model)
    print(json.dumps({k: summary[k] for k in ("model", "readings", "scene_leaks", "package_audit", "report",
                                              "timings_s", "results")}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
