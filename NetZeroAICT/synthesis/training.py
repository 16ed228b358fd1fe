"""Training a synthesis model on paired NCCT/CTA cases.

Loss = vessel-weighted L1 of the enhancement + λ · L1 of its spatial gradients (keeps vessel edges sharp).
Each epoch ends with validation on whole validation cases (the engine's inference at the model spacing), a CSV log
row and a checkpoint (safetensors + JSON, never pickle) from which ``resume=True`` continues; a run killed while
it saves keeps the previous epoch's checkpoint whole. The final model folder holds the weights of the last epoch
(or, with ``keep="best"``, of the best-scored one) and a model card saying exactly what they were trained on.
"""

from __future__ import annotations

import csv
import datetime
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from ..errors import NetZeroAICTError
from ..indications import get_indication
from .inference import InferenceSettings, check_lower_sd, predict_enhancement, receptive_halo
from .model_card import CARD_NAME, ModelCard, save_model, validate_card
from .network import (SCAN_RESOLUTION_CHANNELS, architecture_preset, build_network, card_slab_voxels,
                      default_architecture, has_fifth_level, has_full_resolution_level, network_stride,
                      window_channels_torch)
from .training_data import (COARSE_SLICE_MM, COARSE_XY_FACTORS, DENSITY_VARIABLE_ORGANS, ORGAN_SHOWN_HU, PatchSampler,
                            away_from_lumen, beside_lumen, check_thin_vessel_share, coarse_z_factors,
                            load_training_case, read_manifest)

#: Per-indication model spacing (mm), the phantoms' own spacing: coarse enough for 2 CPU cores, fine enough
#: for the vessels' calibre (coronary arteries 2–4 mm, carotids 5–7 mm, aorta 20–30 mm).
MODEL_SPACING_MM = {"aorta": 1.5, "pulmonary": 1.25, "limb": 1.5, "neck_brain": 0.9, "coronary": 0.7}
#: Validation runs on the lumen's bounding box (plus a margin), at most this many voxels per side.
VALIDATION_BOX = 112
WINDOWS_HU = [[-1000.0, 1000.0], [-150.0, 250.0], [0.0, 100.0]]
ENHANCEMENT_SCALE_HU = 500.0


#: Share of the loss the vessel class (voxels near the lumen, enhancing organs) holds in each batch, and the
#: range of the per-voxel weight that gives it (relative to a tissue voxel).
VESSEL_SHARE = 0.25
VESSEL_WEIGHT_RANGE = (11.0, 40.0)


#: Enhancement (network units, a share of the lumen's) above the target beyond which a tissue voxel counts as
#: false contrast in the loss.
FALSE_CONTRAST_MARGIN = 0.1


def false_contrast_where(over, away, weight, margin: float, band: int = 0, band_threshold: float | None = None):
    """Where ``over`` (prediction − target; numpy or torch, shaped like ``weight``) is false contrast: ``away``
    voxels more than ``margin`` above the target. Within ``band`` voxels of the near-lumen voxels
    (:func:`~NetZeroAICT.synthesis.training_data.beside_lumen`) nothing is, or with ``band_threshold`` only what
    is above that too."""
    false = away & (over > margin)
    if band > 0:
        spill = beside_lumen(weight, band)
        false = false & ~spill
        if band_threshold is not None:
            false = false | (away & spill & (over > max(margin, band_threshold)))
    return false


def enhancement_loss(pred, target, weight, gradient_weight: float = 0.5, mse_weight: float = 1.0,
                     false_contrast_weight: float = 0.0, organ_false_contrast: bool = False,
                     false_contrast_band: int = 0, false_contrast_band_margin: float | None = None):
    """Vessel-weighted L1 + MSE of the enhancement + gradient L1; tensors (B, 1, z, y, x), the enhancement in
    network units.

    Voxels with ``weight`` > 1 (near the lumen, enhancing organs) form the vessel class. Its per-voxel weight
    is set per batch so that the class holds :data:`VESSEL_SHARE` of the loss, within
    :data:`VESSEL_WEIGHT_RANGE`: a fixed weight lets tibial or coronary arteries (~0.1 % of the voxels) drown
    ("no enhancement anywhere" fits almost perfectly), while an equal share for both classes makes synthesising
    contrast in every blood-like voxel (muscle, bowel) cheap. The MSE term gives large early gradients where
    whole vessels are missed; the gradient term keeps vessel edges sharp.

    ``false_contrast_weight`` (0–1) makes false contrast cost like missed contrast: a tissue voxel (weight ≤ 1)
    where the prediction exceeds the target by more than :data:`FALSE_CONTRAST_MARGIN` gets that share of the
    vessel class's per-voxel weight. Without it, where tissue looks like a vessel (a jugular vein beside the
    carotid) enhancing it costs 11–40 times less than missing the artery, so the network enhances both.
    With ``organ_false_contrast`` the voxels of enhancing organs away from the lumen
    (:func:`~NetZeroAICT.synthesis.training_data.away_from_lumen`) count too: otherwise a liver made arterial
    costs only an organ voxel's share of the vessel weight (3/13), however far above its target it goes.
    ``false_contrast_band`` (voxels) leaves the tissue that close to the near-lumen voxels out of that: there a
    blurred thin artery spills over, and counting the spill as false contrast teaches the network to leave thin
    arteries out. With ``false_contrast_band_margin`` the spill there counts again above that margin (a share of
    the lumen enhancement; e.g. 0.25 keeps a spill below the Dice's 150 HU): a faint halo is free, a false lumen
    is not.
    """
    import torch

    error = pred - target
    per_voxel = error.abs() + mse_weight * error ** 2
    vessel = weight > 1.0
    n_vessel = int(vessel.sum())
    n_other = vessel.numel() - n_vessel
    low, high = VESSEL_WEIGHT_RANGE
    factor = min(max(VESSEL_SHARE / (1 - VESSEL_SHARE) * n_other / max(n_vessel, 1), low), high)
    w = torch.where(vessel, weight / weight.amax().clamp_min(1.0) * factor, torch.ones_like(weight))
    if false_contrast_weight > 0:
        away = away_from_lumen(weight) if organ_false_contrast else ~vessel
        false = false_contrast_where(error.detach(), away, weight, FALSE_CONTRAST_MARGIN, false_contrast_band,
                                     false_contrast_band_margin)
        w = torch.where(false, torch.full_like(w, max(1.0, false_contrast_weight * factor)), w)
    loss = (w * per_voxel).sum() / w.sum()
    grad = 0.0
    for dim in (2, 3, 4):
        grad = grad + (pred.diff(dim=dim) - target.diff(dim=dim)).abs().mean()
    return loss + gradient_weight * grad / 3.0


def _gated_prediction(network, case, card: ModelCard, device: str) -> np.ndarray:
    """The enhancement (HU) the engine would add to ``case`` at the model spacing: exact inference without TTA,
    at the case's own lumen enhancement for a contrast-normalised model, gated. ``network`` in eval mode."""
    from .inference import gate_enhancement

    settings = InferenceSettings(mode="exact", tta_flips=[()], align=network_stride(card.architecture),
                                 input_constants=card.resolution_channels())
    scale = case.lumen_enhancement_hu if card.normalised else card.enhancement_scale_hu
    pred, _ = predict_enhancement(network, case.ncct_hu, card.windows_hu, scale, card.min_body_hu, settings, device)
    return gate_enhancement(pred, case.ncct_hu, card.enhancement_gate_hu, card.min_body_hu, card.max_enhanced_ncct_hu)


def validation_metrics(network, crops, card: ModelCard, device: str) -> dict:
    """Lumen MAE, non-vessel MAE (HU) and a lumen score at the model spacing over validation ``crops``
    (:func:`validation_crops`): lumen MAE over the crops holding lumen, non-vessel MAE over all.

    A contrast-normalised model is scored at each case's own lumen enhancement (the level is a run setting)."""
    lumen_mae, other_mae = [], []
    network.eval()
    for case in crops:
        err = np.abs(_gated_prediction(network, case, card, device) - case.enhancement_hu)
        lumen = case.lumen > 0
        if lumen.any():
            lumen_mae.append(float(err[lumen].mean()))
        body = case.ncct_hu >= card.min_body_hu
        if (body & ~lumen).any():
            other_mae.append(float(err[body & ~lumen].mean()))
    network.train()
    result = {"val_lumen_mae_hu": float(np.mean(lumen_mae)) if lumen_mae else 0.0,
              "val_nonvessel_mae_hu": float(np.mean(other_mae)) if other_mae else 0.0}
    result["val_score"] = result["val_lumen_mae_hu"] + 3.0 * result["val_nonvessel_mae_hu"]
    return result


#: A voxel away from the vessels is a hard negative when the network puts this much more enhancement there than
#: the target has (HU; the lumen Dice threshold is 150 HU, unenhanced blood ≈ 40 HU).
HARD_NEGATIVE_HU = 50.0


def mine_hard_negatives(network, cases, card: ModelCard, device: str, organs: bool = False,
                        band: int = 0, band_margin: float | None = None) -> list[np.ndarray]:
    """Per training case, the voxels (n, 3; z, y, x) away from the vessels and enhancing organs (loss weight 1)
    where the network, run as the engine runs it (whole case, no TTA, gated), synthesises at least
    :data:`HARD_NEGATIVE_HU` more enhancement than the target: false contrast in an unopacified vein, a fat
    plane, muscle. They are what the training meets next.

    Only false contrast counts. Taking every voxel outside the lumen that is off by as much (enhancing organs
    too) was tried once on neck & brain (30 min) and coronary (25 min): held-out Dice 0.62 and 0.89, against
    0.68 and 0.93 for models trained without mining in less time (24 and 14 min). On the coronary phantoms it
    found 7–10 M such voxels in 10 cases (the myocardium, which an NCCT does not tell from the blood pool, holds
    about 0.7 M per case and was the largest error on a held-out case), so those patches gathered on the heart.
    With ``organs`` the voxels of enhancing organs away from the lumen where it synthesises that much false
    contrast count too (a fatty liver made arterial); still only false contrast, never missed enhancement.
    ``band``: voxels within this many of the near-lumen ones are not mined, or with ``band_margin`` only where
    the false enhancement there is above that share of the case's lumen enhancement (and
    :data:`HARD_NEGATIVE_HU`) (:func:`enhancement_loss`'s ``false_contrast_band`` and its margin)."""
    was_training = network.training
    network.eval()
    found = []
    for case in cases:
        pred = _gated_prediction(network, case, card, device)
        away = away_from_lumen(case.weight) if organs else case.weight <= 1.0
        false = false_contrast_where(pred - case.enhancement_hu, away, case.weight, HARD_NEGATIVE_HU, band,
                                     None if band_margin is None else band_margin * case.lumen_enhancement_hu)
        found.append(np.argwhere(false))
    network.train(was_training)
    return found


def validation_crops(case, seed: int = 0) -> list:
    """Two crops of a validation case, at most VALIDATION_BOX voxels per side: around its lumen, and around
    a blood-like tissue voxel away from the vessels (where synthesised contrast would be false)."""
    from .training_data import blood_like_tissue

    crops = [_crop(case, np.argwhere(case.lumen > 0), margin=8)]
    candidates = np.argwhere(blood_like_tissue(case))
    if len(candidates):
        centre = candidates[np.random.default_rng(seed).integers(len(candidates))]
        crops.append(_crop(case, centre[None], margin=VALIDATION_BOX // 2))
    return crops


def _crop(case, points: np.ndarray, margin: int):
    """The case cropped to the bounding box of ``points`` grown by ``margin``, at most VALIDATION_BOX per side."""
    from dataclasses import replace

    if not len(points):
        return case
    low, high = points.min(0) - margin, points.max(0) + margin + 1
    centre = (low + high) // 2
    low = np.maximum(np.maximum(low, centre - VALIDATION_BOX // 2), 0)
    high = np.minimum(np.minimum(high, low + VALIDATION_BOX), case.lumen.shape)
    box = tuple(slice(int(a), int(b)) for a, b in zip(low, high))
    return replace(case, ncct_hu=case.ncct_hu[box], enhancement_hu=case.enhancement_hu[box], lumen=case.lumen[box],
                   weight=case.weight[box])


#: Test-time augmentation of a network trained without flips: the volume is run as it is and shifted by
#: these (z, y, x) voxels against the network's stride-8 grid, so each pass samples the anatomy differently.
SHIFT_TTA = ((0, 0, 0), (4, 4, 4))
#: The passes of a test-time augmentation (``tta_passes``): for a network trained with flips, flips along x, then y,
#: then z (each list holds the axes of one pass, 0 = z); for one trained without, shifts over the corners of a
#: half-stride cube. Two is the default; more passes average more predictions (what it bought: docs/models.md).
TTA_FLIPS = {2: [[], [2]], 4: [[], [2], [1], [1, 2]], 8: [[], [2], [1], [1, 2], [0], [0, 2], [0, 1], [0, 1, 2]]}
TTA_SHIFTS = {2: [list(t) for t in SHIFT_TTA], 4: [[0, 0, 0], [4, 4, 4], [0, 4, 0], [4, 0, 4]],
              8: [[z, y, x] for z in (0, 4) for y in (0, 4) for x in (0, 4)]}


def tta_settings(flip_axes=(0, 1, 2), passes: int = 2) -> dict:
    """The card's test-time augmentation for a network trained with random flips along ``flip_axes``: ``passes``
    flips where it was trained with flips along x (the left-right flip first), else ``passes`` shifts. A flip the
    network never saw in training is refused."""
    if passes not in TTA_FLIPS:
        raise NetZeroAICTError(f"{passes} test-time passes", where="training settings: tta_passes",
                               hint=f"use one of {', '.join(map(str, TTA_FLIPS))}")
    if 2 not in flip_axes:
        return {"tta_flips": [[]], "tta_shifts": TTA_SHIFTS[passes]}
    flips = TTA_FLIPS[passes]
    unseen = sorted({a for f in flips for a in f} - set(flip_axes))
    if unseen:
        raise NetZeroAICTError(f"{passes} test-time flips need flips along {'/'.join('zyx'[a] for a in unseen)} "
                               "in training", where="training settings: tta_passes, flips",
                               hint="train with flips along all axes, or use 2 passes")
    return {"tta_flips": flips}


#: Written into every card (:func:`card_notes` adds where and how long it was trained): why this network, and
#: what the metrics mean.
CARD_NOTES = ("Architecture chosen by measurement on a 2-core CPU (64^3 patches, 3 input windows): MONAI UNet with "
              "strided convolutions and one residual unit per level infers at about 0.7-0.9 us/voxel and trains a "
              "2x64^3 step in about 1.5 s, against 2.4 us/voxel and 7.5 s for MONAI BasicUNet with 8 base features "
              "(1.4 MB); 8-64 channels keep the weights near 0.6 MB. Batch norm is a fixed affine map in eval mode, so "
              "a 96^3 inference window may exceed the 48^3 training patch; windows start at multiples of the network's "
              "stride (8 voxels). bf16 autocast on this CPU gave only about 10 % speed for about 5 HU of error and is "
              "not used. The network predicts the enhancement relative to the case's lumen enhancement: the phantoms "
              "draw the contrast level at random per case and an NCCT does not show it, so metrics_held_out.summary "
              "is what a run at the default level gives and metrics_held_out.matched_level the model's error with "
              "the level right.")

#: Added to the notes of a card whose network has a first level at full resolution (``unet-full-res``).
FULL_RESOLUTION_NOTE = ("This network has a first level at full resolution (strides 1, 2, 2, 2; channels 8, 8, 16, "
                        "32, 64): sharper vessel edges than the strided UNet, for about 5x its inference time on a "
                        "2-core CPU.")

#: Added to the notes of a UNet with a fifth level (``unet-deep``, :func:`~.network.deep_architecture`), whose
#: stride, patch and size are not the ones :data:`CARD_NOTES` gives.
FIFTH_LEVEL_NOTE = ("Unlike the four-level UNet above, this network has a fifth level (channels 8, 16, 32, 64, 128; "
                    "strides 2, 2, 2, 2, so windows and slabs start at multiples of 16 voxels): twice the receptive "
                    "field, about 64 voxels each way, trained on 64^3 patches, for about 4x the weights (2.5 MB) and "
                    "about 1.3x the inference time on a 2-core CPU.")


def card_notes(card: ModelCard) -> str:
    """The notes of ``card``: :data:`CARD_NOTES`, the full-resolution or fifth-level note where its network has
    that level, and what it was trained on, where and for how long (from its ``training`` section)."""
    parts = ([CARD_NOTES] + ([FULL_RESOLUTION_NOTE] if has_full_resolution_level(card.architecture) else [])
             + ([FIFTH_LEVEL_NOTE] if has_fifth_level(card.architecture) else []))
    training = card.training or {}
    device = str(training.get("device", "cpu"))
    where = ("CPU" if device == "cpu" else training.get("device_name") or "a GPU")
    budget = ("a fixed time budget" if training.get("max_minutes") else "a fixed number of epochs")
    parts.append(f"Trained on phantoms only, on {where}, for {budget}; research use only.")
    return " ".join(parts)


def new_card(indication: str, spacing_mm: float | None = None, patch: int = 64, architecture: dict | None = None,
             version: str = "1.0.0", flip_axes=(0, 1, 2), scan_resolution: bool = False,
             tta_passes: int = 2, tta_lower_sd: float = 0.0) -> ModelCard:
    """A card for a new model of ``indication`` with the shipped defaults. Its test-time augmentation is
    ``tta_passes`` flips, the left-right flip first, for a network trained with flips along x (``flip_axes``),
    and otherwise shifts of the volume against the network's stride (:data:`SHIFT_TTA`, :func:`tta_settings`):
    a network that knows the anatomy's sides would take a flipped vena cava for the aorta. ``tta_lower_sd``
    (above 0) makes the enhancement the passes' mean less that many of their standard deviations. With
    ``scan_resolution`` the network gets the three scan-resolution input channels after the windows
    (``ModelCard.scan_resolution``), up to the coarsest thick-slice patch."""
    get_indication(indication)
    spacing = float(spacing_mm or MODEL_SPACING_MM[indication])
    resolution = ({"max_factor_zyx": [max(coarse_z_factors(spacing))] + [max(COARSE_XY_FACTORS)] * 2}
                  if scan_resolution else {})
    n_inputs = len(WINDOWS_HU) + (SCAN_RESOLUTION_CHANNELS if resolution else 0)
    architecture = architecture or default_architecture(n_inputs)
    slab = card_slab_voxels(architecture)
    return ModelCard(model_id=f"nzct-{indication}", indication=indication, version=version,
                     architecture=architecture,
                     spacing_mm=spacing, windows_hu=WINDOWS_HU, scan_resolution=resolution,
                     enhancement_scale_hu=ENHANCEMENT_SCALE_HU, patch_size=[patch] * 3,
                     inference={"mode": "exact", "precision": "fp32",
                                **tta_settings(flip_axes, tta_passes),
                                **({"tta_lower_sd": float(tta_lower_sd)} if tta_lower_sd else {}),
                                "overlap": 0.25, "roi_size": [96, 96, 96], "sw_batch_size": 1,
                                **({"max_slab_voxels": slab} if slab else {})}, notes=CARD_NOTES)


#: The recipe of the shipped models (``make models``) and the defaults of ``python -m NetZeroAICT train``, both
#: with the overrides of :data:`RECIPE_BY_INDICATION` (:func:`recipe`).
RECIPE = {"steps_per_epoch": 25, "batch_size": 2, "patch": 48, "learning_rate": 3e-3, "mine_every": 75,
          "warmup": 0.05, "false_contrast_weight": 1.0, "coarse_fraction": 0.35, "architecture": "unet",
          "flip_axes": (0, 1, 2), "organ_fraction": 0.0, "organ_false_contrast": False,
          "false_contrast_band": 0, "false_contrast_band_margin": None, "scan_resolution": False, "tta_passes": 2,
          "tta_lower_sd": 0.0, "keep": "last", "thin_vessel_share": 0.0}
#: Where an indication's shipped model was trained with other settings than :data:`RECIPE`, each chosen by
#: measurement on held-out phantoms. The measurements behind every override are in docs/models.md, under the
#: indication's section: neck & brain's false-contrast weight and 8 test-time flips ("Neck & brain"); coronary's
#: weight 0, no flips, organ patches with organ false contrast in the mining and 8 patches per step ("Coronary");
#: the lower bound of neck & brain's and coronary's test-time passes ("The passes' lower bound" under "Training
#: recipe"); the aorta's organ patches, organ false contrast and no flips ("Organ patches", "Organ false
#: contrast", "The vena cava"), and its network with a fifth level on 64³ patches ("A fifth level"); the pulmonary
#: organ patches, no flips and organ false contrast ("Pulmonary"), and its full-resolution
#: network with 8 patches per step, trained on a GPU ("Full resolution on a GPU"); the limb's full-resolution
#: network with 8 patches per step, 0.6 of them thick-slice, and 4 test-time flips ("Limb"). The aorta, pulmonary
#: and limb models keep their runs' best-scored epoch, the others the last ("The last epoch" under "Training
#: recipe"). Keep the history there, not here.
RECIPE_BY_INDICATION: dict[str, dict] = {"neck_brain": {"false_contrast_weight": 0.5, "tta_passes": 8,
                                                        "tta_lower_sd": 0.5},
                                         "coronary": {"false_contrast_weight": 0.0, "flip_axes": (),
                                                      "organ_fraction": 0.2, "organ_false_contrast": True,
                                                      "batch_size": 8, "tta_lower_sd": 1.0},
                                         "aorta": {"organ_fraction": 0.2, "organ_false_contrast": True,
                                                   "flip_axes": (), "keep": "best", "architecture": "unet-deep",
                                                   "patch": 64},
                                         "pulmonary": {"organ_fraction": 0.15, "flip_axes": (),
                                                       "organ_false_contrast": True, "architecture": "unet-full-res",
                                                       "batch_size": 8, "keep": "best"},
                                         "limb": {"architecture": "unet-full-res", "batch_size": 8,
                                                  "coarse_fraction": 0.6, "tta_passes": 4, "keep": "best"}}


def recipe(indication: str) -> dict:
    """The training settings ``make models`` uses for ``indication``."""
    return {**RECIPE, **RECIPE_BY_INDICATION.get(indication, {})}


#: The epochs whose weights a training can give its model (``train(keep=...)``), as the card's
#: ``training.validation`` says it.
KEPT_EPOCH = {"best": "the best epoch's weights kept",
              "last": "the last epoch's weights kept (the end of the learning-rate decay; the score chose the "
                      "best epoch only for the record)"}


#: Thick-slice patches come in gradually over this share of the training (:func:`coarse_share`).
COARSE_RAMP = 0.25


def coarse_share(done: float) -> float:
    """Share (0–1) of the thick-slice fraction in use when ``done`` (0–1) of the training is done: none at the
    start, rising linearly to all of it at :data:`COARSE_RAMP`. A fresh network has first to find the vessels
    at all; with thick-slice patches from the first step a 0.9 mm neck & brain run, whose arteries blur to a
    fifth of their contrast in a 4.5 mm slice, still enhanced nothing anywhere after 340 epochs (13 min)."""
    return float(min(1.0, max(done, 0.0) / COARSE_RAMP)) if COARSE_RAMP > 0 else 1.0


#: The learning rate decays (cosine) to this share of its peak by the end of training.
FINAL_LR_SHARE = 0.05


def lr_share(done: float, warmup: float = RECIPE["warmup"]) -> float:
    """Learning rate, as a share of its peak, when ``done`` (0–1) of the training is done: a linear warm-up over
    the first ``warmup`` of it, then a cosine decay over the rest to :data:`FINAL_LR_SHARE`.

    Without the warm-up a fresh network taking full-rate Adam steps could settle on "no enhancement anywhere"
    and stay there for minutes (neck & brain, 30-min run: ~175 epochs).
    """
    done = min(max(done, 0.0), 1.0)
    ramp = min(1.0, (done + 1e-3) / warmup) if warmup > 0 else 1.0
    decay = max(done - warmup, 0.0) / (1 - warmup) if warmup < 1 else 0.0
    cosine = FINAL_LR_SHARE + (1 - FINAL_LR_SHARE) * 0.5 * (1 + np.cos(np.pi * decay))
    return float(ramp * cosine)


def train(indication: str, data_dir, out_dir, *, epochs: int = 20, steps_per_epoch: int = RECIPE["steps_per_epoch"],
          batch_size: int = RECIPE["batch_size"], patch: int = RECIPE["patch"],
          learning_rate: float = RECIPE["learning_rate"], mine_every: int = RECIPE["mine_every"],
          warmup: float = RECIPE["warmup"], false_contrast_weight: float = RECIPE["false_contrast_weight"],
          coarse_fraction: float = RECIPE["coarse_fraction"], seed: int = 0, device: str = "cpu",
          spacing_mm: float | None = None, max_minutes: float | None = None, resume: bool = False,
          architecture: dict | str | None = None, command: str | None = None, show_progress: bool = True,
          threads: int | None = None, normalise: bool = True,
          flip_axes: tuple[int, ...] = RECIPE["flip_axes"],
          organ_fraction: float = RECIPE["organ_fraction"],
          organ_false_contrast: bool = RECIPE["organ_false_contrast"],
          false_contrast_band: int = RECIPE["false_contrast_band"],
          false_contrast_band_margin: float | None = RECIPE["false_contrast_band_margin"],
          scan_resolution: bool = RECIPE["scan_resolution"], tta_passes: int = RECIPE["tta_passes"],
          tta_lower_sd: float = RECIPE["tta_lower_sd"], keep: str = RECIPE["keep"],
          thin_vessel_share: float = RECIPE["thin_vessel_share"],
          init_from: str | os.PathLike | None = None) -> ModelCard:
    """Train a model for ``indication`` on the paired cases in ``data_dir``; write it to ``out_dir``.

    Returns the card written to ``out_dir/model.json``. ``max_minutes`` stops training after the epoch in which
    the time runs out (the card records the epochs actually run); it is the budget of the whole training, so a
    resumed run goes on with the time, learning-rate and thick-slice schedules where the interrupted one stopped,
    and one whose budget is spent only writes its model; it goes on with the network (``architecture``) and spacing
    its checkpoint records where they are not given, and refuses others. Every ``mine_every`` epochs (0: never) the
    network is run on the whole training cases and the voxels where it synthesises false contrast become
    centres of negative patches (:func:`mine_hard_negatives`). ``out_dir/checkpoint`` holds the last epoch
    and the best one so far, ``out_dir/train_log.csv`` one row per epoch (``elapsed_s``: training time so far).
    ``architecture``: a card's architecture entry, or the name of a preset
    (:data:`~NetZeroAICT.synthesis.network.ARCHITECTURE_PRESETS`); None is the shipped UNet.
    ``organ_fraction``: share of the patches centred in a liver or spleen shown at another density
    (:class:`~NetZeroAICT.synthesis.training_data.PatchSampler`). ``organ_false_contrast``: false contrast in
    enhancing organs counts in the loss and in hard-negative mining as it does in tissue
    (:func:`enhancement_loss`, :func:`mine_hard_negatives`). ``false_contrast_band``: tissue within this many
    voxels of the near-lumen voxels is left out of both, or with ``false_contrast_band_margin`` counts only
    above that margin. ``scan_resolution``: the network is told, in three more input channels, how much each
    patch was coarsened (the engine tells it the scan's own voxel size); it needs thick-slice patches
    (``coarse_fraction`` > 0). Measured on limb it did not sharpen the lumen and hurt 3 mm scans (in no recipe).
    ``tta_passes``: the card's test-time augmentation, 2, 4 or 8 passes (:func:`tta_settings`).
    ``tta_lower_sd``: the card's enhancement is the passes' mean less this many of their standard deviations
    (0: their mean; :class:`~NetZeroAICT.synthesis.inference.InferenceSettings`).
    ``thin_vessel_share``: share (0–1) of the lumen-centred patches whose centre is drawn per unit of vessel
    length rather than per lumen voxel, so thin arteries are the centre as often as wide ones
    (:class:`~NetZeroAICT.synthesis.training_data.PatchSampler`).
    ``keep``: which epoch's weights the model gets (:data:`KEPT_EPOCH`): ``"best"``, the epoch with the best
    validation score, or ``"last"``, the final one, at the end of the learning-rate decay.
    ``init_from``: a model folder whose weights (checked against its card's SHA-256, as the engine checks them)
    the network starts from instead of random ones: a fine-tuning, e.g. of a shipped model on more cases or on a
    site's own pairs. Its network must be the one asked for; the spacing defaults to its. The run is new (its own
    optimizer, warm-up and decay, with ``learning_rate`` as the peak), but a trained network needs no easing in:
    thick-slice patches are shown at their full share from the first step and hard negatives are mined before it.
    The card's ``training.initialised_from`` names the model (id, version, weights' SHA-256, its training).
    """
    import torch
    from safetensors.torch import load_file
    from tqdm import tqdm

    if epochs < 1 or steps_per_epoch < 1:
        raise NetZeroAICTError(f"nothing to train: {epochs} epoch(s) of {steps_per_epoch} step(s) planned",
                               where="training settings: epochs, steps per epoch", hint="plan at least one of each")
    if batch_size < 1:
        raise NetZeroAICTError(f"a batch of {batch_size} patches", where="training settings: batch size",
                               hint="give at least 1 patch per step (--batch-size)")
    if not 0.0 <= organ_fraction <= 0.2:
        raise NetZeroAICTError(f"organ fraction {organ_fraction:g} is outside 0–0.2",
                               where="training settings: organ fraction",
                               hint="organ patches take their share from the 20 % of patches drawn anywhere")
    check_lower_sd(tta_lower_sd, "training settings: tta_lower_sd",
                   hint="give 0 (the passes' mean) up to 3 (--tta-lower-sd)")
    check_thin_vessel_share(thin_vessel_share, hint="give the share of lumen-centred patches drawn per vessel "
                                                    "length, 0–1 (--thin-vessel-share)")
    if keep not in KEPT_EPOCH:
        raise NetZeroAICTError(f"keep {keep!r}: no such choice of epoch", where="training settings: keep",
                               hint=f"give one of {', '.join(KEPT_EPOCH)} (--keep)")
    if scan_resolution and not coarse_fraction:
        raise NetZeroAICTError("scan-resolution channels with no thick-slice patches would always read 'sharp'",
                               where="training settings: scan resolution, coarse fraction",
                               hint="give a coarse fraction above 0 (--coarse-fraction) or leave the channels off")
    if threads:
        torch.set_num_threads(threads)
    # the model to start from is checked before anything is written
    initial = initial_weights(init_from, architecture, scan_resolution) if init_from is not None else None
    if initial is not None:
        architecture = initial[0].architecture
        spacing_mm = spacing_mm or initial[0].spacing_mm
    out_dir = Path(out_dir)
    ckpt = out_dir / "checkpoint"
    state = json.loads((ckpt / "state.json").read_text()) if resume and (ckpt / "state.json").is_file() else None
    if state is not None:
        # a resumed run goes on with the network and spacing it was started with (a fine-tuning's, a preset's)
        # unless they are given; checkpoints from before they were recorded leave the defaults
        recorded = checkpoint_settings(out_dir, state)
        architecture = architecture if architecture is not None else recorded.get("architecture")
        spacing_mm = spacing_mm or recorded.get("spacing_mm")
    torch.manual_seed(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(data_dir)
    if manifest.get("indication") not in (None, indication):
        raise NetZeroAICTError(f"the data set is for {manifest['indication']!r}, not {indication!r}",
                               where=str(Path(data_dir) / "manifest.json"))
    if isinstance(architecture, str):
        architecture = architecture_preset(architecture,
                                           len(WINDOWS_HU) + (SCAN_RESOLUTION_CHANNELS if scan_resolution else 0))
    card = new_card(indication, spacing_mm, patch, architecture, flip_axes=flip_axes, scan_resolution=scan_resolution,
                    tta_passes=tta_passes, tta_lower_sd=tta_lower_sd)
    validate_card(card.to_dict(), "the network asked for")
    t_load = time.perf_counter()
    train_cases = [load_training_case(Path(data_dir) / n, card.spacing_mm, organs=organ_fraction > 0)
                   for n in manifest["split"]["train"]]
    val_cases = [load_training_case(Path(data_dir) / n, card.spacing_mm) for n in manifest["split"]["validation"]]
    if not train_cases:
        raise NetZeroAICTError("no training cases", where=str(data_dir))
    if normalise:
        for case in train_cases + val_cases:
            if case.lumen_enhancement_hu <= 0:
                raise NetZeroAICTError("the lumen mask holds no enhanced voxels (CTA not brighter than the NCCT)",
                                       where=str(Path(data_dir) / case.name / "lumen.nii.gz"),
                                       hint="check the pair's registration and its lumen mask")
        levels = [c.lumen_enhancement_hu for c in train_cases]
        card.enhancement_scale_hu = round(float(np.median(levels)), 1)
        card.contrast_level = {"normalised": True,
                               "training_lumen_enhancement_hu": [round(min(levels), 1), round(max(levels), 1)]}
    load_s = time.perf_counter() - t_load
    sampler = PatchSampler(train_cases, card.patch_size, seed=seed, normalise=normalise,
                           coarse_fraction=coarse_fraction, spacing_mm=card.spacing_mm, flip_axes=flip_axes,
                           organ_fraction=organ_fraction, thin_vessel_share=thin_vessel_share)
    val_crops = [crop for case in val_cases for crop in validation_crops(case, seed)]
    network = build_network(card.architecture)
    initialised_from = None
    if initial is not None:
        network.load_state_dict(initial[1])
        initialised_from = initialised_record(initial[0], init_from)
    network = network.to(device)
    # on CPU, weights and activations in channels-last 3D order: oneDNN's fast convolutions, ≈ 1.5–2× faster
    # training steps for the shipped U-Net on 2 cores (the same arithmetic, other rounding)
    memory_format = torch.channels_last_3d if device == "cpu" else torch.contiguous_format
    network = network.to(memory_format=memory_format)
    optimizer = torch.optim.AdamW(network.parameters(), lr=learning_rate, weight_decay=1e-4)
    total_steps = epochs * steps_per_epoch
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_share(step / total_steps, warmup))
    ckpt.mkdir(exist_ok=True)
    start_epoch, best, history = 0, None, []
    elapsed_before = 0.0   # training time of the run(s) this one resumes, s
    if state is not None:
        for key, given, option in (("architecture", card.architecture, "--architecture"),
                                   ("spacing_mm", card.spacing_mm, "--spacing")):
            if key in state and json.dumps(state[key], sort_keys=True) != json.dumps(given, sort_keys=True):
                raise NetZeroAICTError(f"the checkpoint was trained with another {key.replace('_mm', '')} "
                                       f"({_setting_text(state[key])}) than the one asked for "
                                       f"({_setting_text(given)})", where=str(ckpt / "state.json"),
                                       hint=f"resume without {option} (the checkpoint's is used), or start a new "
                                            "run in another folder")
        trained_flips = tuple(state.get("flip_axes", (0, 1, 2)))   # checkpoints from before the setting flipped all
        if trained_flips != tuple(flip_axes):
            raise NetZeroAICTError(f"the checkpoint was trained with flips along {list(trained_flips)}, not "
                                   f"{list(flip_axes)}", where=str(ckpt / "state.json"),
                                   hint="resume with the flips the run was started with (--flips)")
        try:
            network.load_state_dict(load_file(ckpt / "weights.safetensors"))
        except RuntimeError:
            raise NetZeroAICTError("the checkpoint's weights do not fit the network asked for",
                                   where=str(ckpt / "weights.safetensors"),
                                   hint="resume with the architecture the run was started with") from None
        _load_optimizer(optimizer, load_file(ckpt / "optimizer.safetensors"), state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start_epoch, best, history = state["epoch"], state["best"], state["history"]
        initialised_from = state.get("initialised_from")   # the run's own start, whatever this call was given
        sampler.rng = np.random.default_rng([seed, start_epoch])
        elapsed_before = float(history[-1].get("elapsed_s", 0.0)) if history else 0.0
    hard_total = None

    def mine() -> int:
        found = mine_hard_negatives(network, train_cases, card, device, organs=organ_false_contrast,
                                    band=false_contrast_band, band_margin=false_contrast_band_margin)
        for index, points in enumerate(found):
            sampler.set_hard_negatives(index, points)
        return int(sum(len(p) for p in found))

    def over_budget(seconds: float) -> bool:
        """Whether ``seconds`` of training (as an epoch's row records them) spend the time budget."""
        return max_minutes is not None and seconds > 60 * max_minutes

    # resumed with its epochs or its time budget spent: no epoch to train, the model is only written again
    spent = start_epoch >= epochs or over_budget(elapsed_before)
    # resumed, or started from a trained network: mine for the network as loaded
    if mine_every and (start_epoch >= mine_every or initialised_from) and not spent:
        hard_total = mine()
    amp = device.startswith("cuda")
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    t_start = time.perf_counter()

    def elapsed() -> float:
        return elapsed_before + time.perf_counter() - t_start

    epoch = start_epoch
    log_path = out_dir / "train_log.csv"
    _write_csv(log_path, history)   # the rows of the epochs the checkpoint holds (none for a new run), no others
    network.train()
    first = epochs + 1 if spent else start_epoch + 1
    for epoch in range(first, epochs + 1):
        losses = []
        bar = tqdm(range(steps_per_epoch), desc=f"{indication} epoch {epoch}/{epochs}", disable=not show_progress,
                   file=sys.stderr, leave=False)
        for _ in bar:
            # share of the training done: of the time budget, else of the planned steps
            done = (elapsed() / (60 * max_minutes) if max_minutes is not None
                    else scheduler.last_epoch / max(total_steps, 1))
            sampler.coarse_fraction = coarse_fraction * (1.0 if initialised_from else coarse_share(done))
            if max_minutes is not None:  # the schedule runs over the time budget
                for group in optimizer.param_groups:
                    group["lr"] = learning_rate * lr_share(done, warmup)
            hu, target, weight = (torch.from_numpy(a).to(device) for a in sampler.sample(batch_size))
            constants = None
            if card.scan_resolution:   # how much each patch was coarsened, as the engine tells it of a scan
                constants = [card.resolution_channels(f * card.spacing_mm) for f in sampler.last_factors_zyx]
            with torch.autocast("cuda", enabled=amp):
                pred = network(window_channels_torch(hu, card.windows_hu, constants)
                               .contiguous(memory_format=memory_format))
                loss = enhancement_loss(pred.float(), target if normalise else target / card.enhancement_scale_hu,
                                        weight, false_contrast_weight=false_contrast_weight,
                                        organ_false_contrast=organ_false_contrast,
                                        false_contrast_band=false_contrast_band,
                                        false_contrast_band_margin=false_contrast_band_margin)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            if max_minutes is None:
                scheduler.step()
            losses.append(loss.item())
            bar.set_postfix(loss=f"{np.mean(losses[-10:]):.4f}")
        if mine_every and epoch % mine_every == 0:
            hard_total = mine()
        row = {"epoch": epoch, "train_loss": float(np.mean(losses)),
               "elapsed_s": round(elapsed(), 1), "lr": optimizer.param_groups[0]["lr"],
               "hard_negative_voxels": hard_total if hard_total is not None else ""}
        if val_crops:
            row.update(validation_metrics(network, val_crops, card, device))
        # the time the budget is checked against, after the validation: a resumed run that reads it from the
        # checkpoint finds its budget spent exactly when this run stopped for it
        row["elapsed_s"] = round(elapsed(), 1)
        score = row.get("val_score", row["train_loss"])
        new_best = best is None or score <= best["score"]
        if new_best:
            best = {"score": score, "epoch": epoch}
        history.append(row)
        _save_checkpoint(ckpt, network, optimizer, scheduler, epoch, best, history, flip_axes, new_best,
                         initialised_from, card)
        _append_csv(log_path, history)
        if show_progress:
            print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()),
                  file=sys.stderr, flush=True)
        if over_budget(row["elapsed_s"]):
            break
    if best is None:
        raise NetZeroAICTError("no epoch was trained", where=str(out_dir), hint="give the training more time")
    if keep == "best" and not (ckpt / "best.safetensors").is_file():
        raise NetZeroAICTError("the checkpoint has no best epoch's weights", where=str(ckpt / "best.safetensors"),
                               hint="it was written by an older version: plan more epochs so that one is saved")
    # "last": the network as it is, or as the checkpoint left it when a finished run is resumed
    network.load_state_dict(load_file(ckpt / ("best.safetensors" if keep == "best" else "weights.safetensors")))
    false_where = ("tissue and enhancing-organ voxels away from the lumen" if organ_false_contrast
                   else "tissue voxels")
    card.training = {
        "data": _shown_path(data_dir), "indication": indication, "dataset_seeds": manifest.get("seeds"),
        "train_cases": manifest["split"]["train"], "validation_cases": manifest["split"]["validation"],
        "n_train_cases": len(train_cases), "n_validation_cases": len(val_cases),
        "case_shapes_zyx_at_model_spacing": sorted({tuple(c.ncct_hu.shape) for c in train_cases}),
        "epochs_run": epoch, "epochs_planned": epochs, "steps_per_epoch": steps_per_epoch,
        "batch_size": batch_size, "patch_size": card.patch_size, "learning_rate": learning_rate, "seed": seed,
        "max_minutes": max_minutes, "warmup": warmup,
        "lr_schedule": (f"linear warm-up over the first {warmup:.0%}, then cosine to {FINAL_LR_SHARE:.0%}, over the "
                        + ("time budget" if max_minutes else "planned epochs")
                        + (f"; from the weights of {initialised_from['model_id']} {initialised_from['version']}"
                           if initialised_from else "")),
        **({"initialised_from": initialised_from} if initialised_from else {}),
        "best_epoch": best["epoch"], "keep": keep,
        "kept_epoch": best["epoch"] if keep == "best" else epoch,
        "loss": f"vessel-weighted L1 + MSE (vessel class = {VESSEL_SHARE:.0%} of each batch's loss, per-voxel weight {VESSEL_WEIGHT_RANGE[0]:g}–{VESSEL_WEIGHT_RANGE[1]:g}) + 0.5 × gradient L1"
                + (f"; {false_where} with false contrast (> {FALSE_CONTRAST_MARGIN:g} of the lumen enhancement above "
                   f"the target) weigh {false_contrast_weight:g} × the vessel weight"
                   + ((f", except within {false_contrast_band} voxel(s) of the lumen grown by one"
                       + (f" where it is at most {false_contrast_band_margin:g} above the target"
                          if false_contrast_band_margin is not None else ""))
                      if false_contrast_band else "") if false_contrast_weight else ""),
        "false_contrast_weight": false_contrast_weight, "false_contrast_band": false_contrast_band,
        "false_contrast_band_margin": false_contrast_band_margin,
        "target": "CTA − NCCT, kept inside lumen/enhancing masks dilated by 2 voxels (noise elsewhere set to 0)"
                  + (", divided by the case's lumen enhancement (median inside the lumen eroded by 1 voxel)"
                     if normalise else ""),
        "sampling": "patches centred on lumen 60 %"
                    + (f" ({thin_vessel_share:.0%} of them drawn per unit of vessel length: a lumen voxel weighs "
                       f"1/r², r its vessel's radius in voxels)" if thin_vessel_share else "")
                    + ", on blood-like tissue (NCCT 20–80 HU) away from vessels 20 %, "
                    + (f"in a {' or '.join(DENSITY_VARIABLE_ORGANS)} shown at {ORGAN_SHOWN_HU[0]:g}–"
                       f"{ORGAN_SHOWN_HU[1]:g} HU (NCCT shifted, target kept) {100 * organ_fraction:.0f} %, "
                       if organ_fraction else "")
                    + f"anywhere {100 * (0.2 - organ_fraction):.0f} %; "
                    + (f"random flips along {'/'.join('zyx'[a] for a in flip_axes)}" if flip_axes
                       else "never flipped (the network learns the anatomy's sides)")
                    + (f"; every {mine_every} epochs the network runs on the whole training cases, and 75 % of "
                       f"the negative patches are then centred on voxels away from the vessels"
                       f"{' (enhancing organs included)' if organ_false_contrast else ''} where it "
                       f"synthesised ≥ {HARD_NEGATIVE_HU:g} HU of false enhancement (hard negatives)"
                       if mine_every else "")
                    + (f"; {coarse_fraction:.0%} of the patches ("
                       + ("from the first step: the network starts trained" if initialised_from else
                          f"rising from none over the first {COARSE_RAMP:.0%} of the training")
                       + ") shown as a thick-slice scan shows them (block mean "
                       f"over {'/'.join(map(str, coarse_z_factors(card.spacing_mm)))} voxels along z "
                       f"({'/'.join(f'{mm:g}' for mm in COARSE_SLICE_MM)} mm slices) and "
                       f"{'/'.join(map(str, COARSE_XY_FACTORS))} in-plane, linear back to the model grid; NCCT "
                       f"and target alike)" if coarse_fraction else "")
                    + ("; the network is told each patch's block factors (scan-resolution channels: log2 of the "
                       "factor along z, y, x; 0 for a sharp patch)" if scan_resolution else ""),
        "mine_every": mine_every, "coarse_fraction": coarse_fraction, "flip_axes": list(flip_axes),
        "organ_fraction": organ_fraction, "organ_false_contrast": organ_false_contrast,
        "thin_vessel_share": thin_vessel_share,
        "scan_resolution": scan_resolution,
        "validation": "each validation case: a crop around its lumen and one around blood-like tissue away from the "
                      "vessels; score = lumen MAE + 3 × non-vessel MAE (HU); " + KEPT_EPOCH[keep],
        "device": device, **({"device_name": torch.cuda.get_device_name(device)} if device.startswith("cuda") else {}),
        "torch_threads": torch.get_num_threads(),
        "training_time_s": round(elapsed(), 1), "data_loading_s": round(load_s, 1),
        "command": command or "", "finished_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"), "last_epoch": history[-1] if history else {},
    }
    card.notes = card_notes(card)
    network.eval()
    card.inference["halo_vox"] = receptive_halo(network, card.n_input_channels, network_stride(card.architecture),
                                                device)
    save_model(network, card, out_dir)
    return card


def initial_weights(folder, architecture: dict | str | None = None,
                    scan_resolution: bool = False) -> tuple[ModelCard, dict]:
    """The card and weights of the model in ``folder`` that a training starts from (``train(init_from=...)``),
    once the weights' SHA-256 matches its card; ``architecture`` (a card's entry or a preset's name; None: any)
    is the network the training asked for, which must be the model's, and the model must read the inputs the
    training gives (its HU windows, and ``scan_resolution`` channels or none)."""
    from .model_card import load_model

    model, network = load_model(folder)
    if model.windows_hu != WINDOWS_HU or bool(model.scan_resolution) != scan_resolution:
        raise NetZeroAICTError("the model to start from reads other input channels (HU windows or "
                               "scan-resolution channels) than this training gives",
                               where=str(Path(folder) / CARD_NAME),
                               hint="start from a model with the same inputs (--scan-resolution as it had)")
    if architecture is not None:
        asked = (architecture_preset(architecture, model.n_input_channels) if isinstance(architecture, str)
                 else architecture)
        if json.dumps(asked, sort_keys=True) != json.dumps(model.architecture, sort_keys=True):
            raise NetZeroAICTError(f"the model to start from has another network ({model.architecture.get('name')} "
                                   f"{json.dumps(model.architecture.get('kwargs', {}), sort_keys=True)}) than the "
                                   "one asked for", where=str(Path(folder) / CARD_NAME),
                                   hint="leave --architecture out (the model's network is then trained), or start "
                                        "from a model of the network asked for")
    return model, {k: v.detach().clone() for k, v in network.state_dict().items()}


def initialised_record(model: ModelCard, folder) -> dict:
    """What a card says of the model its training started from: enough to find and check it again."""
    training = model.training or {}
    keys = ("command", "dataset", "data", "n_train_cases", "seed", "max_minutes", "restart_at_minutes", "epochs_run",
            "kept_epoch", "learning_rate", "training_time_s", "device", "initialised_from")
    return {"model_id": model.model_id, "version": model.version, "weights_sha256": model.weights["sha256"],
            "folder": _shown_path(folder), "its_training": {k: training[k] for k in keys if k in training}}


def checkpoint_settings(out_dir, state: dict | None = None) -> dict:
    """The network (``architecture``) and ``spacing_mm`` the checkpoint in ``out_dir`` records, those of them it
    records (none for a checkpoint from before they were recorded, or no checkpoint): what ``train(resume=True)``
    goes on with where they are not given. ``state``: its ``state.json`` already read."""
    if state is None:
        path = Path(out_dir) / "checkpoint" / "state.json"
        if not path.is_file():
            return {}
        state = json.loads(path.read_text())
    return {key: state[key] for key in ("architecture", "spacing_mm") if key in state}


def _setting_text(value) -> str:
    """A network (card architecture entry) or a spacing, as an error message names it."""
    if isinstance(value, dict):
        kwargs = value.get("kwargs", {})
        return (f"{str(value.get('name', '?')).rsplit('.', 1)[-1]}, channels {kwargs.get('channels')}, "
                f"strides {kwargs.get('strides')}")
    return f"{value:g} mm"


def _shown_path(path) -> str:
    """``path`` relative to the working directory when it lies inside it (cards do not record /tmp paths)."""
    import os

    path = Path(os.path.abspath(path))
    try:
        return str(path.relative_to(Path(os.path.abspath(Path.cwd()))))
    except ValueError:
        return str(path)


def _write_csv(path: Path, rows: list[dict]) -> None:
    """``path`` holds ``rows`` and nothing else (no file for none); written to a temporary name, then renamed."""
    if not rows:
        path.unlink(missing_ok=True)
        return
    tmp = path.with_name(f".{path.name}.tmp")
    fields = list(dict.fromkeys(key for row in rows for key in row))   # rows of older versions may lack some
    with tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, restval="")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def _append_csv(path: Path, rows: list[dict]) -> None:
    """Add the last of ``rows`` (every row of the run so far) to the log at ``path``, in its header's columns; the
    whole log is written again where it has no header or lacks one of the row's columns."""
    header = None
    if path.exists():
        with path.open(newline="") as handle:
            header = next(csv.reader(handle), None)
    if not header or not set(rows[-1]) <= set(header):
        _write_csv(path, rows)
        return
    with path.open("a", newline="") as handle:
        csv.DictWriter(handle, fieldnames=header, restval="").writerow(rows[-1])


def _save_checkpoint(folder: Path, network, optimizer, scheduler, epoch, best, history, flip_axes=(0, 1, 2),
                     new_best: bool = False, initialised_from: dict | None = None,
                     card: ModelCard | None = None) -> None:
    """Write the checkpoint of ``epoch`` (and its weights as the best ones where ``new_best``). Every file is
    written under a temporary name first and all are renamed over the old ones only then, ``state.json`` last: a
    run killed while saving leaves the previous epoch's checkpoint as it was (never a truncated file, never the
    weights of one epoch with the state of another but for the instant of the renames)."""
    from safetensors.torch import save_file

    folder.mkdir(exist_ok=True)
    staged: list[tuple[Path, Path]] = []

    def stage(name: str, write) -> None:
        tmp = folder / f".{name}.tmp"
        write(tmp)
        staged.append((tmp, folder / name))

    weights = {k: v.detach().cpu().contiguous() for k, v in network.state_dict().items()}
    stage("weights.safetensors", lambda path: save_file(weights, path))
    if new_best:
        stage("best.safetensors", lambda path: save_file(weights, path))
    tensors, layout = {}, {}
    for index, values in optimizer.state_dict()["state"].items():
        for key, value in values.items():
            tensors[f"{index}.{key}"] = value.detach().cpu().contiguous().reshape(value.shape)
            layout.setdefault(str(index), []).append(key)
    stage("optimizer.safetensors", lambda path: save_file(tensors, path))
    state = {"epoch": epoch, "best": best, "history": history, "scheduler": scheduler.state_dict(),
             "flip_axes": list(flip_axes), **({"initialised_from": initialised_from} if initialised_from else {}),
             **({"architecture": card.architecture, "spacing_mm": card.spacing_mm} if card is not None else {}),
             "optimizer": {"param_groups": optimizer.state_dict()["param_groups"], "layout": layout}}
    stage("state.json", lambda path: path.write_text(json.dumps(state, default=float)))
    for tmp, path in staged:
        os.replace(tmp, path)


def _load_optimizer(optimizer, tensors: dict, saved: dict) -> None:
    state = {int(i): {k: tensors[f"{i}.{k}"] for k in keys} for i, keys in saved["layout"].items()}
    optimizer.load_state_dict({"state": state, "param_groups": saved["param_groups"]})
