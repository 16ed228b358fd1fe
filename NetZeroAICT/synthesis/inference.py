"""Sliding-window 3D inference with Gaussian blending and flip test-time augmentation.

Works on one HU array at the model's spacing. For every window the network runs once per TTA flip (all flips
of all windows in one batch); the predictor returns the mean and the mean square of the flipped predictions,
MONAI blends both with Gaussian weights, and the per-voxel standard deviation follows as
sqrt(E[x²] − E[x]²). Only the bounding box of the body (HU ≥ ``min_body_hu``, with a margin) is processed:
outside it the enhancement is zero by definition.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ..errors import NetZeroAICTError
from .network import window_channels_torch


class SynthesisCancelled(NetZeroAICTError):
    """The run was cancelled by the user before it finished."""


@dataclass
class InferenceSettings:
    """How the sliding window runs.

    Attributes:
        patch_size: window size (z, y, x) in voxels.
        overlap: fraction of a window shared with its neighbour (MONAI's default is 0.5).
        tta_flips: flips to average, each a list of spatial axes (0=z, 1=y, 2=x); ``[[]]`` is no TTA.
        sw_batch_size: windows per network call.
        precision: ``fp32`` or ``bf16`` (autocast; CPU with AVX-512 BF16 or CUDA).
        crop_to_body: run only inside the body's bounding box.
        body_margin_vox: margin around the body box, voxels.
        skip_empty_windows: windows without a body voxel (all below ``min_body_hu``) get enhancement 0
            without running the network; exact, since every voxel they hold is gated to 0 anyway.
        blend: how overlapping windows are combined: ``gaussian`` (weights falling off towards the window's
            edge) or ``constant`` (plain mean, MONAI's default).
        align: every window starts at a multiple of this many voxels of the model grid (the product of the
            network's strides): a strided network sees the same voxels the same way in every tiling, so
            tilings differ only by the windows' borders. 1 turns alignment off.
    """

    patch_size: Sequence[int] = (64, 64, 64)
    overlap: float = 0.25
    tta_flips: Sequence[Sequence[int]] = ((), (2,))
    sw_batch_size: int = 2
    precision: str = "fp32"
    crop_to_body: bool = True
    body_margin_vox: int = 8
    skip_empty_windows: bool = True
    blend: str = "gaussian"
    align: int = 8


def body_box(hu: np.ndarray, min_body_hu: float, margin: int) -> tuple[slice, slice, slice] | None:
    """Bounding box (slices along z, y, x) of voxels ≥ ``min_body_hu`` grown by ``margin``; None if empty."""
    inside = hu >= min_body_hu
    box = []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        hit = np.flatnonzero(inside.any(axis=other))
        if hit.size == 0:
            return None
        box.append(slice(max(int(hit[0]) - margin, 0), min(int(hit[-1]) + 1 + margin, hu.shape[axis])))
    return tuple(box)


def aligned_region(box: tuple[slice, slice, slice], shape, patch, align: int) -> tuple[tuple[slice, ...], list]:
    """``box`` with its start moved down to a multiple of ``align`` and the padding (voxels after the end of
    the array, per axis) that makes every sliding-window start a multiple of ``align`` as well: the last
    window starts at ``length − patch``, so ``length − patch`` must be a multiple of ``align``."""
    slices, pads = [], []
    for s, n, p in zip(box, shape, patch):
        start = (s.start // align) * align
        length = s.stop - start
        if length > p and (length - p) % align:
            length += align - (length - p) % align
        stop = min(start + length, n)
        slices.append(slice(start, stop))
        pads.append(start + length - stop)
    return tuple(slices), pads


def count_windows(shape: Sequence[int], patch: Sequence[int], overlap: float) -> int:
    """Number of windows MONAI's sliding window visits for an image of ``shape`` (z, y, x)."""
    total = 1
    for size, roi in zip(shape, patch):
        roi = min(roi, size) if size < roi else roi
        step = max(int(roi * (1 - overlap)), 1)
        total *= 1 if size <= roi else math.ceil((size - roi) / step) + 1
    return total


def predict_enhancement(network, hu: np.ndarray, windows_hu, enhancement_scale_hu: float, min_body_hu: float,
                        settings: InferenceSettings, device: str = "cpu",
                        progress: Callable[[float], None] | None = None,
                        cancel: threading.Event | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Predict the enhancement of a whole volume.

    Args:
        network: the generator (eval mode) on ``device``.
        hu: NCCT voxels (z, y, x) in HU at the model spacing, float32.
        windows_hu: input windows of the model card.
        enhancement_scale_hu: network output × this = HU.
        min_body_hu: voxels below this HU are outside the body.
        settings: sliding-window settings.
        progress: called with the fraction of windows done (0..1).
        cancel: when set, the run stops with :class:`SynthesisCancelled` at the next window.
    Returns:
        (mean, std): float32 arrays shaped like ``hu``: TTA mean enhancement and its standard deviation, HU.
    """
    import torch
    from monai.inferers import sliding_window_inference

    mean = np.zeros(hu.shape, dtype=np.float32)
    std = np.zeros(hu.shape, dtype=np.float32)
    box = body_box(hu, min_body_hu, settings.body_margin_vox) if settings.crop_to_body else \
        tuple(slice(0, n) for n in hu.shape)
    if box is None:
        return mean, std
    patch = tuple(int(p) for p in settings.patch_size)
    box, pads = aligned_region(box, hu.shape, patch, max(int(settings.align), 1))
    region = np.ascontiguousarray(hu[box], dtype=np.float32)
    if any(pads):
        region = np.pad(region, [(0, p) for p in pads], constant_values=-1024.0)
    total = count_windows(region.shape, patch, settings.overlap)
    done = [0]
    flips = [tuple(int(a) + 2 for a in f) for f in settings.tta_flips]
    use_bf16 = settings.precision == "bf16"
    device_type = "cuda" if str(device).startswith("cuda") else "cpu"

    def predictor(x: torch.Tensor) -> torch.Tensor:
        if cancel is not None and cancel.is_set():
            raise SynthesisCancelled("synthesis cancelled", hint="run it again to get a result")
        done[0] += x.shape[0]
        if progress is not None:
            progress(min(done[0] / total, 1.0))
        result = torch.zeros((x.shape[0], 2) + tuple(x.shape[2:]), dtype=torch.float32, device=x.device)
        keep = (x.flatten(1).amax(dim=1) >= min_body_hu) if settings.skip_empty_windows else \
            torch.ones(x.shape[0], dtype=torch.bool, device=x.device)
        if not bool(keep.any()):
            return result
        x = x[keep]
        batch = torch.cat([torch.flip(x, f) if f else x for f in flips], dim=0)
        inputs = window_channels_torch(batch, windows_hu)
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=use_bf16):
            out = network(inputs)
        out = out.float().split(x.shape[0], dim=0)
        stacked = torch.stack([torch.flip(o, f) if f else o for o, f in zip(out, flips)], dim=0)
        result[keep] = torch.cat([stacked.mean(0), (stacked ** 2).mean(0)], dim=1)
        return result

    with torch.inference_mode():
        tensor = torch.from_numpy(region)[None, None].to(device)
        blended = sliding_window_inference(tensor, patch, settings.sw_batch_size, predictor,
                                           overlap=settings.overlap, mode=settings.blend,
                                           padding_mode="constant", cval=-1024.0)
        inside = tuple(slice(0, n) for n in (b.stop - b.start for b in box))
        first, second = blended[0, 0][inside], blended[0, 1][inside]
        variance = (second - first ** 2).clamp_min(0.0)
        mean[box] = (first * enhancement_scale_hu).cpu().numpy()
        std[box] = (variance.sqrt() * enhancement_scale_hu).cpu().numpy()
    return mean, std


def gate_enhancement(enhancement: np.ndarray, ncct_hu: np.ndarray, gate_hu: Sequence[float], min_body_hu: float,
                     max_ncct_hu: float = 300.0, max_hu: float = 3071.0,
                     also_zero: np.ndarray | None = None) -> np.ndarray:
    """Make the enhancement exactly zero where it is tiny or outside the body; in place, returns it.

    Below ``gate_hu[0]`` HU the enhancement becomes 0, above ``gate_hu[1]`` it is kept, in between it ramps
    linearly (continuous, so small changes of the prediction give small changes of the image). Voxels whose
    NCCT is below ``min_body_hu`` (air, lung) or above ``max_ncct_hu`` (bone, calcium) are never enhanced, and no
    voxel is pushed above ``max_hu``. ``also_zero`` (same shape, e.g. the uncertainty map) is set to 0 in those
    never-enhanced voxels as well, in the same pass.
    """
    t0, t1 = float(gate_hu[0]), float(gate_hu[1])
    for z in range(0, enhancement.shape[0], 16):  # slabs keep temporaries small on 512×512×400 inputs
        enh, hu = enhancement[z:z + 16], ncct_hu[z:z + 16]
        ramp = np.subtract(enh, t0)
        ramp *= 1.0 / max(t1 - t0, 1e-6)
        np.clip(ramp, 0.0, 1.0, out=ramp)
        np.maximum(enh, 0.0, out=enh)
        enh *= ramp
        never = (hu < min_body_hu) | (hu > max_ncct_hu)
        enh[never] = 0.0
        if also_zero is not None:
            also_zero[z:z + 16][never] = 0.0
        np.minimum(enh, np.maximum(max_hu - hu, 0.0), out=enh)
    return enhancement
