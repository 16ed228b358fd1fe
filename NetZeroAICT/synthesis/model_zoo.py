"""Rebuilding a shipped model from scratch: phantom dataset → training → held-out evaluation → install.

Seeds: training cases 1…n, validation 10001, held-out test cases 20001…; the test seeds are never used in
training or model selection. Everything runs on this machine; nothing is downloaded.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np

from .evaluation import case_metrics, summarise
from .model_card import CARD_NAME, REPO_DIR, WEIGHTS_NAME, ModelCard, read_card
from .training import train

VALIDATION_SEEDS = (10001,)
TEST_SEED_START = 20001


def build_phantom_dataset(indication: str, folder, n_train: int, n_test: int, log=print) -> Path:
    """Write (or complete) a phantom dataset folder with a manifest; existing cases are kept."""
    from ..foundry import make_pair

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    seeds = {"train": list(range(1, n_train + 1)), "validation": list(VALIDATION_SEEDS),
             "test": list(range(TEST_SEED_START, TEST_SEED_START + n_test))}
    split = {}
    for part, part_seeds in seeds.items():
        split[part] = []
        for seed in part_seeds:
            name = f"{indication}_{seed:05d}"
            if not (folder / name / "case.json").is_file():
                t = time.perf_counter()
                make_pair(indication, seed).save(folder / name)
                log(f"  phantom {name} ({time.perf_counter() - t:.1f} s)")
            split[part].append(name)
    manifest = {"indication": indication, "synthetic": True, "seeds": seeds, "split": split,
                "generator": "NetZeroAICT.foundry.make_pair (default grid of the indication)"}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return folder


def evaluate_model(model_dir, data_dir, cases: list[str], device: str = "cpu") -> dict:
    """Run the full synthesis (card settings, TTA) on each case's NCCT and compare with its true CTA."""
    from ..volume_io import read_volume
    from .engine import SynthesisEngine

    engine = SynthesisEngine(read_card(model_dir).indication, model_dir, device)
    rows = []
    for name in cases:
        folder = Path(data_dir) / name
        ncct = read_volume(folder / "ncct.nii.gz")
        result = engine.synthesize(ncct, accept_warnings=True)
        masks = {m: read_volume(folder / f"{m}.nii.gz", label=True).voxels
                 for m in ("lumen", "body", "enhancing") if (folder / f"{m}.nii.gz").is_file()}
        body = masks.get("body", ncct.voxels > -400)
        row = case_metrics(result.cta.voxels, ncct.voxels, read_volume(folder / "cta.nii.gz").voxels,
                           masks["lumen"], body, masks.get("enhancing"))
        row["inference_s"] = result.record["timings_s"]["total"]
        rows.append({"case": name, **{k: round(v, 4) for k, v in row.items()}})
    summary = summarise([{k: v for k, v in r.items() if k != "case"} for r in rows])
    return {"cases": rows, "summary": summary,
            "method": "NetZeroAICT.synthesis.evaluation.case_metrics (definitions in its docstring)"}


def rebuild_model(indication: str, work_dir="build/models-work", install_dir=None, minutes: float = 30.0,
                  n_train: int = 12, n_test: int = 4, device: str = "cpu", threads: int | None = 2,
                  log=print) -> ModelCard:
    """Generate data, train for ``minutes``, evaluate on held-out seeds, install; return the final card."""
    work = Path(work_dir) / indication
    log(f"[{indication}] phantom dataset: {n_train} training, {len(VALIDATION_SEEDS)} validation, {n_test} test")
    data = build_phantom_dataset(indication, work / "data", n_train, n_test, log)
    manifest = json.loads((data / "manifest.json").read_text())
    model_dir = work / "model"
    if model_dir.exists():
        shutil.rmtree(model_dir)
    command = (f"python -m NetZeroAICT models --indication {indication} --minutes {minutes:g} "
               f"--train-cases {n_train} --test-cases {n_test}")
    log(f"[{indication}] training for {minutes:g} min")
    card = train(indication, data, model_dir, epochs=1000, steps_per_epoch=25, batch_size=2, patch=48,
                 learning_rate=3e-3,
                 device=device, max_minutes=minutes, threads=threads, command=command, show_progress=False)
    log(f"[{indication}] evaluating on held-out seeds {manifest['seeds']['test']}")
    metrics = evaluate_model(model_dir, data, manifest["split"]["test"], device)
    metrics["test_seeds"] = manifest["seeds"]["test"]
    card.metrics_held_out = metrics
    card.training["dataset"] = {"generator": manifest["generator"], "seeds": manifest["seeds"]}
    (model_dir / CARD_NAME).write_text(json.dumps(card.to_dict(), indent=2) + "\n")
    install = Path(install_dir) if install_dir else REPO_DIR / "Resources" / "Models"
    target = install / indication
    target.mkdir(parents=True, exist_ok=True)
    for name in (CARD_NAME, WEIGHTS_NAME):
        shutil.copy2(model_dir / name, target / name)
    read_card(target)  # validates the installed card
    log(f"[{indication}] installed into {target}: " + json.dumps(
        {k: v["mean"] for k, v in metrics["summary"].items() if isinstance(v, dict) and "mean" in v}))
    return card
