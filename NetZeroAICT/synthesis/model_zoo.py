"""Rebuilding a shipped model from scratch: phantom dataset → training → held-out evaluation → install.

Seeds: training cases 1…n, validation 10001 (the training's per-epoch check), held-out test cases 20001…; the
test seeds are never used in training. Choosing between trained models (seeds, recipes, budgets) is done on the
validation phantoms 10001–10006 (:data:`SELECTION_SEEDS`, ``models --evaluate-only --split validation``), so the
held-out numbers stay a report. Real contrast CTs given with ``real_cta`` join the training cases as pairs of a
virtual non-contrast CT and the CT itself (:func:`add_real_cta_cases`). Everything runs on this machine;
nothing is downloaded.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np

from ..errors import NetZeroAICTError
from .evaluation import case_metrics, summarise
from .model_card import (CARD_NAME, REPO_DIR, WEIGHTS_NAME, ModelCard, load_model, next_version, read_card,
                         set_version)
from .training import card_notes, recipe, train

VALIDATION_SEEDS = (10001,)
#: Validation phantoms for choosing between trained models, whole volumes (the first is also the training's
#: per-epoch check): never the test seeds, which report how the chosen model does.
SELECTION_SEEDS = tuple(range(10001, 10007))
TEST_SEED_START = 20001
#: Held-out phantoms a rebuild reports on (20001…20010). Four were too few: the phantoms draw each case's contrast
#: level and heart enhancement at random, and on four cases one unlucky draw moved a mean Dice by 0.06.
TEST_CASES = 10

#: The training budget each shipped model was trained with (its card's ``training.command``): minutes of training
#: or a number of ``epochs``, phantom training cases, the training seed, and the device it ran on (``cpu``, this
#: 2-core machine, unless ``device`` says ``cuda``: one GPU, the five indications at once as ``models --parallel
#: 5`` runs them). ``make models`` (``models --all``) uses it, so it rebuilds the shipped models, not others;
#: ``--minutes``, ``--epochs``, ``--train-cases`` and ``--seed`` override it. A budget in epochs is the same
#: training on any device; a time budget is not, so a GPU-trained model rebuilt on a CPU trains the ``epochs`` its
#: GPU run reached instead, with the learning-rate schedule over those epochs (:func:`rebuild_epochs`). Change it
#: with the model it describes (a test compares it with every shipped card). The aorta's seed 1 was chosen over
#: seed 0 on the validation phantoms (docs/models.md, "Two seeds on six validation phantoms").
#: ``restart_at_minutes``: the run first trained to a budget of that many minutes, its learning rate's cosine
#: ending there, then went on from its checkpoint to ``minutes`` in all (a warm restart, :func:`restart_minutes`).
#: ``fine_tune``: the model that run made was then fine-tuned, a new run from its weights for ``minutes`` on
#: ``train_cases`` phantoms, its peak learning rate :data:`FINE_TUNE_LR_SHARE` of the recipe's
#: (:func:`fine_tune_budget`).
SHIPPED_BUDGET: dict[str, dict] = {"aorta": {"epochs": 1668, "train_cases": 20, "seed": 1},
                                   "pulmonary": {"minutes": 6.5, "train_cases": 20, "seed": 0, "device": "cuda",
                                                 "epochs": 194},
                                   "neck_brain": {"minutes": 150.0, "restart_at_minutes": 95.0, "train_cases": 10,
                                                  "seed": 0, "fine_tune": {"minutes": 45.0, "train_cases": 20}},
                                   "limb": {"epochs": 400, "train_cases": 20, "seed": 0},
                                   "coronary": {"epochs": 587, "train_cases": 20, "seed": 0}}


def training_budget(indication: str, minutes: float | None = None,
                    n_train: int | None = None) -> tuple[float | None, int]:
    """``(minutes, n_train)`` for a rebuild: each one given, or else the shipped model's (:data:`SHIPPED_BUDGET`).
    The minutes are None for a model budgeted in epochs alone (:func:`rebuild_epochs` gives them)."""
    shipped = SHIPPED_BUDGET[indication]
    if minutes is None:
        minutes = shipped.get("minutes")
    return (None if minutes is None else float(minutes),
            int(shipped["train_cases"] if n_train is None else n_train))


def shipped_device(indication: str) -> str:
    """The kind of device the shipped model of ``indication`` was trained on: ``cpu`` or ``cuda``."""
    return str(SHIPPED_BUDGET[indication].get("device", "cpu"))


def rebuild_epochs(indication: str, device: str, minutes: float | None = None,
                   epochs: int | None = None) -> int | None:
    """How many epochs a rebuild trains, or None for the time budget (:func:`training_budget`).

    ``epochs`` when given; else, with no ``minutes`` given, the shipped model's epochs where its budget is epochs
    alone, or where its run was on a GPU and this one is not (the epochs that run reached: its minutes on this
    CPU would be a small share of that training)."""
    if epochs is not None:
        if epochs < 1:
            raise NetZeroAICTError(f"{epochs} epochs", where="--epochs", hint="give 1 or more")
        if minutes is not None:
            raise NetZeroAICTError("give a time budget or a number of epochs, not both", where="--epochs",
                                   hint="leave --minutes out")
        return int(epochs)
    shipped = SHIPPED_BUDGET[indication]
    if minutes is None and ("minutes" not in shipped
                            or shipped_device(indication) == "cuda" and not str(device).startswith("cuda")):
        return int(shipped["epochs"])
    return None


def restart_minutes(indication: str, device: str, minutes: float | None = None, epochs: int | None = None,
                    restart_at: float | None = None) -> float | None:
    """Where a rebuild's time budget has its warm restart, in minutes of training, or None for none.

    With a restart the training runs to a budget of ``restart_at`` minutes (warm-up, cosine decay and thick-slice
    ramp over those), then goes on from its checkpoint to the whole budget: the learning rate back up to where a
    cosine over the whole budget is at that time, and down along it to the end. ``restart_at`` when given (it needs
    a time budget, and must end before it); else the shipped model's (:data:`SHIPPED_BUDGET`) where the rebuild
    uses the shipped budget (neither ``minutes`` nor ``epochs`` given, and a time budget on this ``device``)."""
    epochs = rebuild_epochs(indication, device, minutes, epochs)
    total, _ = training_budget(indication, minutes)
    if restart_at is None:
        if minutes is not None or epochs is not None:
            return None
        restart_at = SHIPPED_BUDGET[indication].get("restart_at_minutes")
        return None if restart_at is None else float(restart_at)
    if epochs is not None or total is None:
        raise NetZeroAICTError("a warm restart needs a time budget: this rebuild is budgeted in epochs",
                               where="--restart-at", hint="give --minutes, or leave --restart-at out")
    if not 0 < restart_at < total:
        raise NetZeroAICTError(f"a restart at {restart_at:g} min of a {total:g}-minute budget",
                               where="--restart-at", hint="give a time within the budget (above 0, below --minutes)")
    return float(restart_at)


#: A fine-tuning's peak learning rate, as a share of the recipe's: the network starts trained, and the run's
#: warm-up and cosine decay go from this share of the first run's peak to 5 % of it. Chosen on the validation
#: phantoms for neck & brain (0.3 against 0.1; docs/models.md, "A fine-tuning on twenty phantoms").
FINE_TUNE_LR_SHARE = 0.3


def fine_tune_budget(indication: str, device: str, minutes: float | None = None, epochs: int | None = None,
                     restart_at: float | None = None, fine_minutes: float | None = None,
                     fine_cases: int | None = None) -> dict | None:
    """The fine-tuning stage of a rebuild, ``{"minutes", "train_cases"}``, or None for none.

    ``fine_minutes`` (0: none) and ``fine_cases`` when given; else the shipped model's (:data:`SHIPPED_BUDGET`)
    where the rebuild trains the shipped budget (no ``minutes``, ``epochs`` or ``restart_at`` of its own), so
    that ``make models`` rebuilds the shipped model and another budget trains only what it says."""
    shipped = SHIPPED_BUDGET[indication].get("fine_tune")
    if fine_minutes is None:
        own_budget = minutes is not None or epochs is not None or restart_at is not None
        if shipped is None or own_budget or rebuild_epochs(indication, device) is not None:
            if fine_cases is not None:
                raise NetZeroAICTError("phantoms for a fine-tuning, but no fine-tuning", where="--fine-tune-cases",
                                       hint="give --fine-tune-minutes too")
            return None
        fine_minutes = shipped["minutes"]
    if fine_minutes == 0:
        return None
    if fine_minutes < 0:
        raise NetZeroAICTError(f"a fine-tuning of {fine_minutes:g} min", where="--fine-tune-minutes",
                               hint="give minutes above 0, or 0 for none")
    cases = fine_cases if fine_cases is not None else (shipped or {}).get("train_cases")
    if cases is None:
        cases = training_budget(indication)[1]
    if cases < 1:
        raise NetZeroAICTError(f"{cases} phantoms", where="--fine-tune-cases", hint="give 1 or more")
    return {"minutes": float(fine_minutes), "train_cases": int(cases)}


def shipped_seed(indication: str, seed: int | None = None) -> int:
    """The training seed of a rebuild: ``seed`` when given, or else the shipped model's (:data:`SHIPPED_BUDGET`)."""
    return int(SHIPPED_BUDGET[indication].get("seed", 0) if seed is None else seed)


def build_phantom_dataset(indication: str, folder, n_train: int, n_test: int, log=print, real_cta=(),
                          workers: int = 1) -> Path:
    """Write (or complete) a phantom dataset folder with a manifest; existing cases are kept.

    ``real_cta``: contrast-enhanced CTs (files or DICOM folders) added to the training split as virtual
    non-contrast pairs (:func:`add_real_cta_cases`); validation and test stay phantoms, whose ground truth is
    exact. ``workers``: phantoms made at once, each in a process of its own (:func:`phantom_cases`).
    """
    from ..foundry.phantom import GENERATOR_VERSION

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    seeds = {"train": list(range(1, n_train + 1)), "validation": list(VALIDATION_SEEDS),
             "test": list(range(TEST_SEED_START, TEST_SEED_START + n_test))}
    names = iter(phantom_cases(indication, folder, [s for part in seeds.values() for s in part], log, workers))
    split = {part: [next(names) for _ in part_seeds] for part, part_seeds in seeds.items()}
    real = add_real_cta_cases(folder, real_cta, log) if real_cta else []
    split["train"] += [r["name"] for r in real]
    manifest = {"indication": indication, "synthetic": not real, "seeds": seeds, "split": split,
                "generator": "NetZeroAICT.foundry.make_pair (default grid of the indication)",
                "generator_version": GENERATOR_VERSION}
    if real:
        manifest["real_cta"] = real
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return folder


def _make_phantom(job: tuple[str, int, str]) -> float:
    """Make and save one phantom pair (module level: it runs in a spawned process); returns its seconds."""
    from ..foundry import make_pair

    indication, seed, path = job
    start = time.perf_counter()
    make_pair(indication, seed).save(Path(path))
    return time.perf_counter() - start


def phantom_cases(indication: str, folder, seeds, log=print, workers: int = 1) -> list[str]:
    """The case names of ``seeds`` in ``folder``, each generated where it is missing or was made by an older
    foundry. With ``workers`` > 1 the missing ones are made that many at a time, each in a process of its own
    (a phantom is a seeded draw, so it comes out the same either way)."""
    from ..foundry.phantom import GENERATOR_VERSION

    check_at_once(workers, "phantoms", "--phantom-workers")
    names = [f"{indication}_{seed:05d}" for seed in seeds]
    jobs = [(indication, seed, str(Path(folder) / name)) for seed, name in zip(seeds, names)
            if _generator_version(Path(folder) / name) != GENERATOR_VERSION]
    if workers > 1 and len(jobs) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=multiprocessing.get_context("spawn")) as pool:
            for job, seconds in zip(jobs, pool.map(_make_phantom, jobs)):
                log(f"  phantom {Path(job[2]).name} ({seconds:.1f} s)")
    else:
        for job in jobs:
            log(f"  phantom {Path(job[2]).name} ({_make_phantom(job):.1f} s)")
    return names


#: What a real-CTA training case's ncct.nii.gz is.
REAL_CTA_NCCT = ("virtual non-contrast made from the real contrast CT by NetZeroAICT.foundry.vnc "
                 "(enhanced blood and parenchyma brought to unenhanced HU; everything else as scanned)")


def add_real_cta_cases(folder, sources, log=print) -> list[dict]:
    """Write one training case ``real_cta_001``, ``real_cta_002``, … per contrast-enhanced CT in ``sources``.

    The case's ``cta.nii.gz`` is the CT itself and its ``ncct.nii.gz`` the virtual non-contrast
    (:func:`NetZeroAICT.foundry.vnc.virtual_non_contrast`); ``lumen`` is the enhanced blood it found,
    ``enhancing`` every other voxel the VNC changed (enhanced parenchyma), ``body`` the voxels above −500 HU.
    Only voxels and geometry are written: no DICOM tag, file name or path of the source (``case.json`` names it
    by the SHA-256 of its voxels). A case already written from the same CT is kept. Use arterial-phase CTs of
    the indication's region: whatever is enhanced in them, veins included, is what the model learns to add.
    Returns one entry per case for the manifest.
    """
    import numpy as np

    from ..characterise import characterise
    from ..foundry.vnc import virtual_non_contrast
    from ..volume import Volume
    from ..volume_io import read_volume, volume_sha256, write_volume

    folder = Path(folder)
    entries = []
    for k, source in enumerate(sources, start=1):
        name = f"real_cta_{k:03d}"
        case_dir = folder / name
        read = read_volume(source)
        cta = Volume(np.asarray(read.voxels, dtype=np.float32), read.spacing_mm, read.origin_lps, read.direction_lps)
        digest = volume_sha256(cta)
        del read
        try:
            done = json.loads((case_dir / "case.json").read_text()).get("source_sha256") == digest
        except (OSError, json.JSONDecodeError):
            done = False
        if not done:
            t = time.perf_counter()
            found = characterise(cta)
            if not found.is_ct or found.phase == "non_contrast":
                what = "not a CT" if not found.is_ct else (f"non-contrast (blood pool {found.blood_pool_hu:.0f} HU)"
                                                            if found.blood_pool_hu is not None else "non-contrast")
                raise NetZeroAICTError(f"this image does not look contrast-enhanced: it reads as {what}",
                                       where=f"--real-cta {source}",
                                       hint="give arterial-phase CT angiograms (lumen above about 150 HU)")
            vnc, blood = virtual_non_contrast(cta)
            lumen = blood.voxels > 0
            if not lumen.any():
                raise NetZeroAICTError("no enhanced blood found in this CT", where=f"--real-cta {source}",
                                       hint="give arterial-phase CT angiograms (lumen above about 150 HU)")
            enhancing = (vnc.voxels != cta.voxels) & ~lumen
            case_dir.mkdir(parents=True, exist_ok=True)
            (case_dir / "case.json").unlink(missing_ok=True)
            write_volume(cta, case_dir / "cta.nii.gz", description="real contrast-enhanced CT (voxels only)")
            write_volume(cta.with_voxels(vnc.voxels), case_dir / "ncct.nii.gz",
                         description="SYNTHETIC virtual non-contrast from a real CT")
            for mask_name, mask in (("lumen", lumen), ("enhancing", enhancing), ("body", cta.voxels > -500)):
                write_volume(cta.with_voxels(mask.astype(np.uint8)), case_dir / f"{mask_name}.nii.gz")
            case = {"name": name, "source": "real contrast-enhanced CT", "source_sha256": digest,
                    "ncct": REAL_CTA_NCCT, "synthetic_ncct": True, "shape_ijk": list(cta.shape_ijk),
                    "spacing_mm": [round(s, 4) for s in cta.spacing_mm],
                    "lumen_voxels": int(lumen.sum()), "enhancing_voxels": int(enhancing.sum())}
            tmp = case_dir / ".case.json.tmp"
            tmp.write_text(json.dumps(case, indent=2))
            tmp.replace(case_dir / "case.json")
            log(f"  real CTA {name}: virtual non-contrast pair ({time.perf_counter() - t:.1f} s)")
        case = json.loads((case_dir / "case.json").read_text())
        entries.append({key: case[key] for key in ("name", "source_sha256", "shape_ijk", "spacing_mm", "ncct")})
    return entries


def _generator_version(case_folder: Path) -> str | None:
    """The foundry version that made a saved phantom, or None when it is missing or incomplete."""
    try:
        return json.loads((case_folder / "case.json").read_text()).get("generator_version")
    except (OSError, json.JSONDecodeError):
        return None


def _rounded(value):
    """A metric to 4 places; a breakdown (dict) part by part."""
    return {k: round(v, 4) for k, v in value.items()} if isinstance(value, dict) else round(value, 4)


def _tissue_labels(folder: Path) -> tuple[np.ndarray | None, dict[int, str]]:
    """A phantom case's tissue label map and its label names (``case.json``'s ``tissue_labels``), or
    ``(None, {})`` for a case without them (users' registered pairs)."""
    from ..volume_io import read_volume

    if not (folder / "tissue.nii.gz").is_file():
        return None, {}
    try:
        labels = json.loads((folder / "case.json").read_text()).get("tissue_labels", {})
    except (OSError, json.JSONDecodeError):
        labels = {}
    return read_volume(folder / "tissue.nii.gz", label=True).voxels, {int(v): k for k, v in labels.items()}


def evaluate_model(model_dir, data_dir, cases: list[str], device: str = "cpu") -> dict:
    """Run the full synthesis (card settings, TTA) on each case's NCCT and compare with its true CTA.

    ``cases``/``summary`` are at the model's default contrast level: what a user gets. For a contrast-normalised
    model ``matched_level`` repeats the run at each case's true lumen enhancement (measured on its reference
    CTA): the phantoms' contrast level is drawn at random per case and is not visible in the NCCT, so this is the
    part of the error the model itself can remove. ``thick_voxels`` holds the same for each case as a scan with
    voxels of about 3 mm shows it (:func:`~NetZeroAICT.synthesis.evaluation.thick_voxels`).
    """
    from ..volume_io import read_volume
    from .engine import SynthesisEngine
    from .evaluation import thick_voxel_factor, thick_voxels
    from .training_data import lumen_enhancement_hu

    card = read_card(model_dir)
    engine = SynthesisEngine(card.indication, model_dir, device)
    engine.reuse_network_output = True    # the true-level run reuses the default-level run's network output
    tables = {name: ([], []) for name in ("phantom", "thick")}
    for name in cases:
        folder = Path(data_dir) / name
        ncct = read_volume(folder / "ncct.nii.gz")
        cta = read_volume(folder / "cta.nii.gz").voxels
        masks = {m: read_volume(folder / f"{m}.nii.gz", label=True).voxels
                 for m in ("lumen", "body", "enhancing") if (folder / f"{m}.nii.gz").is_file()}
        masks.setdefault("body", (ncct.voxels > -400).astype(np.uint8))
        tissue, tissue_names = _tissue_labels(folder)
        factor = thick_voxel_factor(min(ncct.spacing_mm))
        versions = {"phantom": (ncct, cta, masks), "thick": thick_voxels(ncct, cta, masks, factor)}
        for version, (image, reference, truth) in versions.items():
            rows, matched = tables[version]
            levels = [None] + ([lumen_enhancement_hu(reference - image.voxels, truth["lumen"])]
                               if card.normalised else [])
            for level, out in zip(levels, (rows, matched)):
                engine.lumen_enhancement_hu = level
                result = engine.synthesize(image, accept_warnings=True)
                row = case_metrics(result.cta.voxels, image.voxels, reference, truth["lumen"], truth["body"],
                                   truth.get("enhancing"), image.spacing_mm,
                                   tissue if version == "phantom" else None, tissue_names)
                row["lumen_enhancement_hu"] = result.record["contrast_level"].get("lumen_enhancement_hu", 0.0)
                row["inference_s"] = result.record["timings_s"]["total"]
                out.append({"case": name, **{k: _rounded(v) for k, v in row.items()}})
    engine.lumen_enhancement_hu = None

    def summary_of(table):
        return summarise([{k: v for k, v in r.items() if k != "case"} for r in table])

    def section(rows, matched):
        part = {"cases": rows, "summary": summary_of(rows), "contrast_level": "model default"}
        if matched:
            part["matched_level"] = {"cases": matched, "summary": summary_of(matched),
                                     "contrast_level": "each case's true lumen enhancement (median of CTA − NCCT "
                                                       "inside its lumen eroded by 1 voxel)"}
        return part

    metrics = {**section(*tables["phantom"]),
               "method": "NetZeroAICT.synthesis.evaluation.case_metrics (definitions in its docstring)"}
    if cases:
        spacing = [float(s) * factor for s in ncct.spacing_mm]
        metrics["thick_voxels"] = {**section(*tables["thick"]), "block_voxels": factor, "spacing_mm": spacing,
                                   "what": f"each test phantom as a scan with {factor}× larger voxels shows it "
                                           f"(NCCT, CTA and masks averaged over blocks of {factor}³ voxels); "
                                           "metrics on that coarse grid"}
    return metrics


def rebuild_model(indication: str, work_dir="build/models-work", install_dir=None, minutes: float | None = None,
                  n_train: int | None = None, n_test: int = TEST_CASES, device: str = "cpu", threads: int | None = 2,
                  log=print, real_cta=(), resume: bool = False, batch_size: int | None = None,
                  seed: int | None = None, epochs: int | None = None, phantom_workers: int = 1,
                  restart_at: float | None = None, fine_minutes: float | None = None,
                  fine_cases: int | None = None) -> ModelCard:
    """Generate data, train for ``minutes`` (or ``epochs``), evaluate on held-out seeds, install; return the final
    card.

    ``minutes``, ``n_train`` (phantom training cases) and ``seed`` (the training's random seed) default to the
    shipped model's (:data:`SHIPPED_BUDGET`). ``epochs``: train that many epochs, with the learning-rate schedule
    over them, instead of a time budget; a GPU-trained shipped model rebuilt on a CPU does so by default
    (:func:`rebuild_epochs`). ``restart_at``: minutes into the time budget where the learning rate has a warm
    restart (the first part trained as a run of its own, then resumed); by default the shipped model's
    (:func:`restart_minutes`). ``fine_minutes``, ``fine_cases``: then a fine-tuning, a new run from the trained
    model's weights on that many phantoms (:func:`fine_tune_budget`: by default the shipped model's); the model
    installed is the fine-tuned one, its card naming the first run's model (``training.initialised_from``).

    ``batch_size``: patches per training step instead of the recipe's (a GPU takes more per step for about the
    same time: more patches seen within the same minutes).

    ``real_cta``: contrast-enhanced CTs added to the training cases (:func:`add_real_cta_cases`). ``resume``: go
    on with the training in ``work_dir`` where an interrupted run stopped (its checkpoint), within the same
    ``minutes`` in all; without a checkpoint the training starts afresh. ``phantom_workers``: phantoms made at
    once (:func:`phantom_cases`)."""
    shipped_epochs = epochs is None and minutes is None
    fine = fine_tune_budget(indication, device, minutes, epochs, restart_at, fine_minutes, fine_cases)
    restart_at = restart_minutes(indication, device, minutes, epochs, restart_at)
    epochs = rebuild_epochs(indication, device, minutes, epochs)
    shipped_epochs = shipped_epochs and epochs is not None
    minutes, n_train = training_budget(indication, minutes, n_train)
    seed = shipped_seed(indication, seed)
    work = Path(work_dir) / indication
    log(f"[{indication}] phantom dataset: {n_train} training, {len(VALIDATION_SEEDS)} validation, {n_test} test"
        + (f"; {len(real_cta)} real CTA(s) as virtual non-contrast pairs" if real_cta else ""))
    data = build_phantom_dataset(indication, work / "data", n_train, n_test, log, real_cta=real_cta,
                                 workers=phantom_workers)
    manifest = json.loads((data / "manifest.json").read_text())
    model_dir = work / "model"
    resume = resume and (model_dir / "checkpoint" / "state.json").is_file()
    if model_dir.exists() and not resume:
        shutil.rmtree(model_dir)
    budget = (f"--epochs {epochs}" if epochs else f"--minutes {minutes:g}"
              + (f" --restart-at {restart_at:g}" if restart_at else ""))
    command = (f"python -m NetZeroAICT models --indication {indication} {budget} "
               f"--train-cases {n_train} --test-cases {n_test}"
               + (f" --seed {seed}" if seed else "")
               + (f" --device {device}" if device != "cpu" else "")
               + (f" --batch-size {batch_size}" if batch_size else "")
               + (f" --fine-tune-minutes {fine['minutes']:g} --fine-tune-cases {fine['train_cases']}"
                  if fine else "")
               + (f" --real-cta <{len(real_cta)} CT(s): training.dataset.real_cta>" if real_cta else "")
               + (" --resume  (the run went on from its checkpoint; a finished one only wrote its model again)"
                  if resume else ""))
    planned = (f"{epochs} epochs" + (f" (the shipped model's, trained on a GPU in {minutes:g} min)"
                                      if shipped_epochs and minutes is not None else "")
               if epochs else f"{minutes:g} min")
    restart_text = f", with a warm restart at {restart_at:g} min" if restart_at else ""
    log(f"[{indication}] going on with the training in {model_dir}, {planned} in all{restart_text}" if resume
        else f"[{indication}] training for {planned}{restart_text}")
    settings = {**recipe(indication), **({"batch_size": batch_size} if batch_size else {})}
    # with a warm restart: a run to the restart's budget, then the same run resumed to the whole budget
    for stage, stage_minutes in enumerate([restart_at, minutes] if restart_at else [minutes]):
        card = train(indication, data, model_dir, epochs=epochs or 100_000, **settings,   # else the time budget ends it
                     seed=seed, device=device, max_minutes=None if epochs else stage_minutes, threads=threads,
                     command=command, show_progress=False, resume=resume or stage > 0)
    if restart_at:
        card.training["restart_at_minutes"] = restart_at
        card.training["lr_schedule"] += (f"; first trained to a {restart_at:g}-minute budget, then on from its "
                                         f"checkpoint to {minutes:g} minutes in all: a warm restart, the learning "
                                         f"rate back up to the {minutes:g}-minute cosine's value at {restart_at:g} "
                                         "minutes and down along it")
    _describe_data(card, manifest, f"{indication}/data")
    (model_dir / CARD_NAME).write_text(json.dumps(card.to_dict(), indent=2) + "\n")
    if fine:
        log(f"[{indication}] fine-tuning dataset: {fine['train_cases']} training phantoms")
        fine_data = build_phantom_dataset(indication, work / "data-fine-tune", fine["train_cases"], n_test, log,
                                          real_cta=real_cta, workers=phantom_workers)
        fine_dir = work / "model-fine-tune"
        fine_resume = resume and (fine_dir / "checkpoint" / "state.json").is_file()
        if fine_dir.exists() and not fine_resume:
            shutil.rmtree(fine_dir)
        log(f"[{indication}] fine-tuning for {fine['minutes']:g} min from {model_dir}")
        card = train(indication, fine_data, fine_dir, epochs=100_000,
                     **{**settings, "learning_rate": settings["learning_rate"] * FINE_TUNE_LR_SHARE},
                     seed=seed, device=device, max_minutes=fine["minutes"], threads=threads, command=command,
                     show_progress=False, resume=fine_resume, init_from=model_dir)
        card.training["lr_schedule"] += f" (a fine-tuning: {FINE_TUNE_LR_SHARE:g} of the recipe's peak)"
        _describe_data(card, json.loads((fine_data / "manifest.json").read_text()), f"{indication}/data-fine-tune")
        model_dir = fine_dir
        (model_dir / CARD_NAME).write_text(json.dumps(card.to_dict(), indent=2) + "\n")
    target = _install_dir(install_dir) / indication
    version = next_version(_installed_card(target, log), card)
    set_version(model_dir, version)
    log(f"[{indication}] version {version}")
    target.mkdir(parents=True, exist_ok=True)
    for name in (CARD_NAME, WEIGHTS_NAME):
        shutil.copy2(model_dir / name, target / name)
    card = reevaluate_model(indication, work_dir, install_dir, n_test, device, log)
    log(f"[{indication}] installed into {target}")
    return card


def _describe_data(card: ModelCard, manifest: dict, folder: str) -> None:
    """Say in ``card`` what a rebuild trained it on: the folder is this machine's; what is in it (generator,
    seeds) is what another machine needs."""
    card.training["data"] = f"{folder} in the models work folder (made by the command; see dataset)"
    card.training["dataset"] = {"generator": manifest["generator"], "seeds": manifest["seeds"],
                                "generator_version": manifest.get("generator_version"),
                                **({"real_cta": manifest["real_cta"]} if manifest.get("real_cta") else {})}


def _installed_card(target: Path, log=print) -> ModelCard | None:
    """The card of the model a rebuild replaces, or None where there is none (or none readable: the new model
    then starts again at 1.0.0, which the log says)."""
    if not (target / CARD_NAME).is_file():
        return None
    try:
        return read_card(target)
    except NetZeroAICTError as error:
        log(f"  the model in {target} has no readable card ({error}); the new one is version 1.0.0")
        return None


def _rebuild_worker(indication: str, kwargs: dict) -> dict:
    """One indication's :func:`rebuild_model` in a process of its own; returns the held-out summary."""
    card = rebuild_model(indication, log=lambda message: print(message, flush=True), **kwargs)
    return card.metrics_held_out.get("summary", card.metrics_held_out)


def check_at_once(count: int, what: str, where: str) -> None:
    """Refuses fewer than one of ``what`` (indications, phantoms) at a time; ``where`` names the setting."""
    if count < 1:
        raise NetZeroAICTError(f"{count} {what} at once", where=where, hint="give 1 or more (1: one after another)")


def check_parallel(parallel: int) -> None:
    """Refuses fewer than one indication at a time."""
    check_at_once(parallel, "indications", "--parallel")


def rebuild_models_parallel(indications: list[str], parallel: int, worker=_rebuild_worker, log=print,
                            **kwargs) -> dict[str, dict]:
    """:func:`rebuild_model` for several indications, up to ``parallel`` at once, each in a process of its own
    (one GPU trains several of these small networks at once, each process feeding it patches from the CPU).

    Each indication's work folder is its own, so runs do not share files. A failed indication does not stop the
    others; once all have ended, the failures are raised together with what each one said. Returns each
    indication's held-out summary. ``worker(indication, kwargs)`` runs in the child (module level, for spawn)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    check_parallel(parallel)
    results, failures = {}, {}
    context = multiprocessing.get_context("spawn")   # CUDA cannot be used in a forked child
    with ProcessPoolExecutor(max_workers=min(parallel, len(indications)), mp_context=context) as pool:
        futures = {pool.submit(worker, name, kwargs): name for name in indications}
        for future in as_completed(futures):
            name = futures[future]
            try:
                results[name] = future.result()
            except Exception as error:  # noqa: BLE001 - reported with the others below
                failures[name] = f"{type(error).__name__}: {error}"
                log(f"[{name}] failed: {failures[name]}")
    if failures:
        done = ", ".join(sorted(results)) or "none"
        raise NetZeroAICTError("; ".join(f"{name}: {why}" for name, why in sorted(failures.items())),
                               where=f"models --parallel: {len(failures)} of {len(indications)} indications failed",
                               hint=f"installed: {done}; run the failed ones again")
    return {name: results[name] for name in indications}


def _install_dir(install_dir) -> Path:
    return Path(install_dir) if install_dir else REPO_DIR / "Resources" / "Models"


#: What ``models --evaluate-only --split`` evaluates on.
SPLITS = ("test", "validation")


def reevaluate_model(indication: str, work_dir="build/models-work", install_dir=None, n_test: int = TEST_CASES,
                     device: str = "cpu", log=print, split: str = "test", phantom_workers: int = 1) -> ModelCard:
    """Evaluate the installed model of ``indication`` again (generating any phantom that is missing) and write
    the metrics into its card; the weights are not touched.

    ``split``: ``test``, its held-out phantom seeds (``metrics_held_out``: what the card reports), or
    ``validation``, the validation phantoms :data:`SELECTION_SEEDS` (``metrics_validation``: what choosing
    between trained models may look at)."""
    from ..foundry.phantom import GENERATOR_VERSION

    if split not in SPLITS:
        raise NetZeroAICTError(f"unknown split {split!r}", where="--split", hint=f"use one of {', '.join(SPLITS)}")
    target = _install_dir(install_dir) / indication
    card = read_card(target)
    folder = Path(work_dir) / indication / "data"
    if split == "validation":
        folder.mkdir(parents=True, exist_ok=True)
        cases = phantom_cases(indication, folder, SELECTION_SEEDS, log, phantom_workers)
        log(f"[{indication}] evaluating on validation seeds {list(SELECTION_SEEDS)}")
        metrics = evaluate_model(target, folder, cases, device)
        metrics.update(validation_seeds=list(SELECTION_SEEDS), validation_generator_version=GENERATOR_VERSION)
        card.metrics_validation = metrics
    else:   # the test phantoms alone: the data set's manifest (its training cases) is left as it is
        seeds = list(range(TEST_SEED_START, TEST_SEED_START + n_test))
        folder.mkdir(parents=True, exist_ok=True)
        cases = phantom_cases(indication, folder, seeds, log, phantom_workers)
        log(f"[{indication}] evaluating on held-out seeds {seeds}")
        metrics = evaluate_model(target, folder, cases, device)
        metrics["test_seeds"] = seeds
        metrics["test_generator_version"] = GENERATOR_VERSION   # phantoms change between versions
        card.metrics_held_out = metrics
    if "mode" not in card.inference or "halo_vox" not in card.inference:
        # a card from before exact inference: say how the engine ran it (and runs it now)
        from .inference import receptive_halo
        from .network import network_stride

        _, network = load_model(target, device)
        card.inference = {"mode": "exact", **card.inference, "halo_vox": receptive_halo(
            network, card.n_input_channels, network_stride(card.architecture), device)}
    card.notes = card_notes(card)  # the current description of what the metrics mean
    tmp = target / f".{CARD_NAME}.tmp"
    tmp.write_text(json.dumps(card.to_dict(), indent=2) + "\n")
    tmp.replace(target / CARD_NAME)
    read_card(target)  # validates the card written
    thick = metrics.get("thick_voxels", {})
    for label, part in (("default level", metrics), ("matched level", metrics.get("matched_level")),
                        ("thick voxels, default level", thick), ("thick voxels, matched level",
                                                                 thick.get("matched_level"))):
        if part:
            log(f"[{indication}] {split}, {label}: " + json.dumps(
                {k: v["mean"] for k, v in part["summary"].items() if isinstance(v, dict) and "mean" in v}))
    return card
