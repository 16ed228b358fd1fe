"""CLI: ``train`` (one model from paired cases) and ``models`` (rebuild the shipped models from scratch)."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from .errors import NetZeroAICTError
from .indications import INDICATIONS
from .synthesis.model_zoo import FINE_TUNE_LR_SHARE, SHIPPED_BUDGET
from .synthesis.network import ARCHITECTURE_PRESETS
from .synthesis.training import RECIPE, recipe


def _by_value(key, unit: str = "", of=None) -> str:
    """``key`` of each indication's shipped budget (:data:`SHIPPED_BUDGET`), or of ``of(indication)`` (e.g. its
    recipe), as help text: the others by indication, the value most of them share last, as "else" (e.g. "1 for
    aorta, else 0"; indications by the names --indication takes); None is "none"."""
    values = {name: key(SHIPPED_BUDGET[name] if of is None else of(name)) for name in INDICATIONS}
    ordered = list(values.values())
    common = max(ordered, key=ordered.count)
    text = lambda v: "none" if v is None else (f"{v:g}" if isinstance(v, float) else str(v)) + unit
    own = {}
    for name, value in values.items():
        if value != common:
            own.setdefault(text(value), []).append(name)
    parts = [f"{value} for {' and '.join(names)}" for value, names in own.items()]
    return ", ".join(parts + [f"else {text(common)}" if parts else text(common)])


def _shipped_training_text() -> str:
    """How each shipped model's training was budgeted (:data:`SHIPPED_BUDGET`), for ``models --minutes``."""
    parts = []
    for label, budget in SHIPPED_BUDGET.items():
        if "minutes" not in budget:
            parts.append(f"{label} {budget['epochs']} epochs")
        elif budget.get("device", "cpu") == "cuda":
            parts.append(f"{label} {budget['minutes']:g} min on one GPU (on a CPU the {budget['epochs']} epochs "
                         "that run reached)")
        else:
            restart = budget.get("restart_at_minutes")
            parts.append(f"{label} {budget['minutes']:g} min"
                         + ("" if restart is None else f" with a warm restart at {restart:g}"))
    return "; ".join(parts)


def register(subparsers) -> None:
    t = subparsers.add_parser(
        "train", help="train a synthesis model on paired NCCT/CTA cases",
        description="Train a synthesis model for one indication on a dataset folder (manifest.json + case folders "
                    "with ncct/cta/lumen .nii.gz). Writes model.json, model.safetensors, train_log.csv and a "
                    "checkpoint (resume with --resume).")
    t.add_argument("--indication", required=True, choices=list(INDICATIONS))
    t.add_argument("--data", required=True, help="dataset folder")
    t.add_argument("--out", required=True, help="model folder to write")
    t.add_argument("--epochs", type=int, default=20)
    t.add_argument("--steps-per-epoch", type=int, default=RECIPE["steps_per_epoch"])
    t.add_argument("--batch-size", type=int,
                   help="patches per training step (default: the indication's recipe, "
                        f"{_by_value(lambda r: r['batch_size'], of=recipe)})")
    t.add_argument("--patch", type=int,
                   help="patch edge, voxels at the model spacing (default: the indication's recipe, "
                        f"{_by_value(lambda r: r['patch'], of=recipe)})")
    t.add_argument("--lr", type=float, default=RECIPE["learning_rate"])
    t.add_argument("--mine-every", type=int, default=RECIPE["mine_every"],
                   help="epochs between hard-negative mining passes over the training cases (0: never)")
    t.add_argument("--warmup", type=float, default=RECIPE["warmup"],
                   help="share of the training (0-1) over which the learning rate ramps up linearly")
    t.add_argument("--false-contrast-weight", type=float,
                   help="share (0-1) of the vessel weight given to tissue voxels with false contrast (0: off; "
                        "default: the indication's recipe, as make models trains it)")
    t.add_argument("--false-contrast-band", type=int,
                   help="voxels beside the lumen (grown by one) where enhancement is not counted as false contrast, "
                        "in the loss or the mining: where a thin artery's blur spills (default: the indication's "
                        "recipe)")
    t.add_argument("--false-contrast-band-margin", type=float,
                   help="in that band, enhancement above the target by more than this share of the lumen enhancement "
                        "counts as false contrast after all (default: the indication's recipe; unset, the band is "
                        "left out of it entirely)")
    t.add_argument("--coarse-fraction", type=float,
                   help="share (0-1) of the patches shown as a thick-slice scan (3-4.5 mm slices) shows them "
                        "(default: the indication's recipe)")
    t.add_argument("--organ-fraction", type=float,
                   help="share (0-0.2) of the patches centred in the liver or spleen and shown at another density "
                        "(28-55 HU, as a fatty liver reads), from the cases' tissue maps "
                        "(default: the indication's recipe)")
    t.add_argument("--thin-vessel-share", type=float,
                   help="share (0-1) of the lumen-centred patches whose centre is drawn per unit of vessel length "
                        "instead of per lumen voxel, so thin arteries are as often the centre as wide ones "
                        "(default: the indication's recipe)")
    t.add_argument("--organ-false-contrast", choices=["on", "off"],
                   help="on: false contrast in enhancing organs away from the lumen (a fatty liver made arterial) "
                        "counts in the loss and in hard-negative mining as it does in tissue "
                        "(default: the indication's recipe)")
    t.add_argument("--architecture", choices=list(ARCHITECTURE_PRESETS),
                   help="network: unet (the shipped MONAI UNet) or unet-full-res (the same with a full-resolution "
                        "first level: sharper vessel edges, about 4x the training time per step and 7x the "
                        "inference time on a CPU; "
                        "or unet-input-skip (the same UNet with a small full-resolution head over its features and "
                        "the input: about 2.3x the training time per step, 1.1x the inference time); "
                        "default: the indication's recipe)")
    t.add_argument("--flips", choices=["xyz", "none"],
                   help="how training patches are flipped at random: xyz (along all three axes) or none (the "
                        "network learns the anatomy's sides, e.g. the aorta left of the spine and the vena cava "
                        "right; its test-time augmentation is then shifts, not a left-right flip; "
                        "default: the indication's recipe)")
    t.add_argument("--scan-resolution", choices=["on", "off"],
                   help="on: the network gets three more input channels telling it how coarse the scan (or a "
                        "thick-slice training patch) is along each axis; needs thick-slice patches. Measured on limb: no "
                        "sharper lumen, 3 mm scans worse (default: the indication's recipe, off)")
    t.add_argument("--tta-passes", type=int, choices=[2, 4, 8],
                   help="test-time augmentation written into the card: passes averaged per synthesis, flips (x, then "
                        "y, then z) for a network trained with flips, else shifts; more passes cost inference time "
                        "(default: the indication's recipe)")
    t.add_argument("--tta-lower-sd", type=float, metavar="K",
                   help="the card's enhancement: the test-time passes' mean less K of their standard deviations, "
                        "not below 0 (0: the mean; 0.5 thins the halo the passes disagree on around thin arteries "
                        "at a few HU of lumen brightness) (default: the indication's recipe)")
    t.add_argument("--keep", choices=["best", "last"],
                   help="which epoch's weights the model gets: last (the end of the learning-rate decay) or best "
                        "(the best validation score, on two crops per validation case) (default: the indication's "
                        "recipe: last, best for the aorta, pulmonary and limb models as they were shipped)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--spacing", type=float, help="model spacing, mm (default: per indication)")
    t.add_argument("--max-minutes", type=float, help="stop after the epoch in which this time runs out; with --resume "
                        "the time already trained counts")
    t.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    t.add_argument("--threads", type=int, help="CPU threads for torch")
    t.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint, with the network and spacing it "
                        "was trained with")
    t.add_argument("--init-from", metavar="MODELDIR",
                   help="start from this model folder's weights (checked against its card) instead of random ones: "
                        "fine-tune e.g. a shipped model (Resources/Models/<indication>) on more or on your own "
                        "cases; its network is trained, its spacing is the default; give a lower --lr (the peak of "
                        "a new warm-up and decay), e.g. "
                        f"{FINE_TUNE_LR_SHARE:g} of the default, as make models fine-tunes")
    t.set_defaults(func=_train)

    m = subparsers.add_parser(
        "models", help="rebuild the shipped models from scratch (phantom data, training, held-out evaluation)",
        description="For each indication: generate a phantom dataset with the foundry, train a model, evaluate it "
                    "on held-out phantom seeds and install it into Resources/Models/<indication>/.")
    which = m.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="all five indications")
    which.add_argument("--indication", action="append", choices=list(INDICATIONS))
    m.add_argument("--work", default="build/models-work", help="folder for datasets and training runs")
    m.add_argument("--install", help="where models go (default: <repo>/Resources/Models)")
    m.add_argument("--minutes", type=float,
                   help="training time per indication, minutes (default: what the shipped model of each "
                        f"indication was trained with, on a 2-core CPU unless said: {_shipped_training_text()})")
    m.add_argument("--epochs", type=int,
                   help="train this many epochs (the learning rate's schedule over them) instead of a time budget")
    m.add_argument("--restart-at", type=float, metavar="MINUTES",
                   help="with a time budget: train to a budget of this many minutes first, then go on from the "
                        "checkpoint to --minutes in all (a warm restart of the learning rate; default: the shipped "
                        f"model's, {_by_value(lambda b: b.get('restart_at_minutes'), ' min')})")
    m.add_argument("--fine-tune-minutes", type=float, metavar="MINUTES",
                   help="after that training, fine-tune its model for this many minutes: a new run from its weights "
                        f"at {FINE_TUNE_LR_SHARE:g} of the recipe's learning rate, on --fine-tune-cases phantoms; "
                        "0: none (default: the shipped model's where the rebuild has its budget, "
                        f"{_by_value(lambda b: b.get('fine_tune', {}).get('minutes'), ' min')})")
    m.add_argument("--fine-tune-cases", type=int, metavar="N",
                   help="phantom training cases of the fine-tuning (default: the shipped model's, else "
                        "--train-cases' default)")
    m.add_argument("--train-cases", type=int,
                   help="phantom training cases per indication (default: the shipped model's, "
                        f"{_by_value(lambda b: b['train_cases'])})")
    m.add_argument("--test-cases", type=int, default=10,
                   help="held-out phantoms (seeds 20001...) the model is evaluated on (default 10)")
    m.add_argument("--seed", type=int,
                   help=f"the training's random seed (default: the shipped model's, {_by_value(lambda b: b['seed'])})")
    m.add_argument("--real-cta", nargs="+", default=[], metavar="CT",
                   help="contrast-enhanced CTs (files or DICOM folders) of the indication's region, arterial phase: "
                        "each joins the training cases as a virtual non-contrast pair")
    m.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    m.add_argument("--threads", type=int, default=2)
    m.add_argument("--batch-size", type=int,
                   help="patches per training step (default: the indication's recipe); a GPU takes more per step")
    m.add_argument("--parallel", type=int, default=1, metavar="N",
                   help="train up to N indications at once, each in a process of its own (for a GPU: one card "
                        "trains several of these small networks at once; on a CPU they only share the cores)")
    m.add_argument("--phantom-workers", type=int, default=min(4, os.cpu_count() or 1), metavar="N",
                   help="phantoms made at once, each in a process of its own (default: the CPU cores, at most 4)")
    m.add_argument("--resume", action="store_true",
                   help="go on with an interrupted training from its checkpoint in --work (the --minutes budget "
                        "counts the time it already trained); indications without one start afresh")
    m.add_argument("--evaluate-only", action="store_true",
                   help="do not train: evaluate the installed models on their held-out seeds again, update the cards")
    m.add_argument("--split", choices=["test", "validation"], default="test",
                   help="with --evaluate-only: the held-out test phantoms (the card's metrics_held_out, the default) "
                        "or the validation phantoms 10001-10006 (metrics_validation: for choosing between models)")
    m.set_defaults(func=_models)


def _train(args) -> int:
    from .synthesis.engine import resolve_device
    from .synthesis.training import checkpoint_settings, train

    own = recipe(args.indication)   # what an option not given takes: make models' settings for the indication
    for option in ("false_contrast_weight", "false_contrast_band", "false_contrast_band_margin", "coarse_fraction",
                   "patch", "batch_size", "organ_fraction", "tta_passes", "keep", "tta_lower_sd",
                   "thin_vessel_share"):
        if getattr(args, option) is None:
            setattr(args, option, own[option])
    # a model to start from brings its network, and so does a checkpoint that records the one it was trained with
    recorded = args.resume and "architecture" in checkpoint_settings(args.out)
    if args.architecture is None and args.init_from is None and not recorded:
        args.architecture = own["architecture"]
    organ_false_contrast = (own["organ_false_contrast"] if args.organ_false_contrast is None
                            else args.organ_false_contrast == "on")
    scan_resolution = own["scan_resolution"] if args.scan_resolution is None else args.scan_resolution == "on"
    flip_axes = own["flip_axes"] if args.flips is None else {"xyz": (0, 1, 2), "none": ()}[args.flips]
    card = train(args.indication, args.data, args.out, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch,
                 batch_size=args.batch_size, patch=args.patch, learning_rate=args.lr,
                 mine_every=args.mine_every, warmup=args.warmup,
                 false_contrast_weight=args.false_contrast_weight, coarse_fraction=args.coarse_fraction,
                 architecture=args.architecture, seed=args.seed, organ_fraction=args.organ_fraction,
                 organ_false_contrast=organ_false_contrast, false_contrast_band=args.false_contrast_band,
                 false_contrast_band_margin=args.false_contrast_band_margin, scan_resolution=scan_resolution,
                 tta_passes=args.tta_passes, tta_lower_sd=args.tta_lower_sd, keep=args.keep,
                 thin_vessel_share=args.thin_vessel_share, device=resolve_device(args.device),
                 spacing_mm=args.spacing, max_minutes=args.max_minutes,
                 resume=args.resume, threads=args.threads, flip_axes=tuple(flip_axes), init_from=args.init_from,
                 command="python -m NetZeroAICT " + " ".join(shlex.quote(a) for a in sys.argv[1:]))
    print(f"{args.out}: {card.model_id} v{card.version}, weights of epoch {card.training['kept_epoch']} "
          f"({card.training['keep']}; best {card.training['best_epoch']}) of {card.training['epochs_run']}, "
          f"weights sha256 {card.weights['sha256']}")
    return 0


def _models(args) -> int:
    from .synthesis.engine import resolve_device
    from .synthesis import model_zoo

    names = list(INDICATIONS) if args.all else args.indication
    if args.real_cta and len(names) != 1:
        raise NetZeroAICTError("--real-cta needs exactly one --indication: the CTs are of one body region",
                               where="--real-cta", hint="run models once per indication with its own CTs")
    for path in args.real_cta:   # before hours of phantoms and training
        if not Path(path).exists():
            raise NetZeroAICTError("no such file or folder", where=f"--real-cta {path}")
    model_zoo.check_parallel(args.parallel)
    model_zoo.check_at_once(args.phantom_workers, "phantoms", "--phantom-workers")
    settings = dict(work_dir=args.work, install_dir=args.install, minutes=args.minutes, n_train=args.train_cases,
                    n_test=args.test_cases, device=resolve_device(args.device), threads=args.threads,
                    real_cta=args.real_cta, resume=args.resume, batch_size=args.batch_size, seed=args.seed,
                    epochs=args.epochs, phantom_workers=args.phantom_workers, restart_at=args.restart_at,
                    fine_minutes=args.fine_tune_minutes, fine_cases=args.fine_tune_cases)
    if not args.evaluate_only:
        for name in names:   # a bad budget is refused before hours of phantoms and training
            model_zoo.restart_minutes(name, settings["device"], args.minutes, args.epochs, args.restart_at)
            model_zoo.fine_tune_budget(name, settings["device"], args.minutes, args.epochs, args.restart_at,
                                       args.fine_tune_minutes, args.fine_tune_cases)
    if args.split != "test" and not args.evaluate_only:
        raise NetZeroAICTError("--split chooses what --evaluate-only evaluates on", where="--split",
                               hint="add --evaluate-only, or leave --split out (a rebuild evaluates on the test seeds)")
    if args.parallel > 1 and len(names) > 1 and not args.evaluate_only:
        summaries = model_zoo.rebuild_models_parallel(names, args.parallel, **settings)
        for name in names:
            print(f"{name}: {summaries[name]}", flush=True)
        return 0
    for name in names:
        if args.evaluate_only:
            model_zoo.reevaluate_model(name, work_dir=args.work, install_dir=args.install, n_test=args.test_cases,
                                       device=settings["device"], split=args.split,
                                       phantom_workers=args.phantom_workers)
            continue
        card = model_zoo.rebuild_model(name, **settings)
        print(f"{name}: {card.metrics_held_out.get('summary', card.metrics_held_out)}", flush=True)
    return 0
