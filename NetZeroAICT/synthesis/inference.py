"""3D inference of the enhancement with test-time augmentation: exact slabs, or MONAI sliding windows.

Works on one HU array at the model's spacing; the network runs once per TTA flip, giving the mean and the
mean square of the flipped predictions, and the per-voxel standard deviation follows as sqrt(E[x²] − E[x]²).
A model trained without flips (it knows the anatomy's sides) is augmented by shifts instead: the network's stride
grid starts a few voxels later along each axis, so it samples the anatomy on another grid (before the first
faces the scan is mirrored, as past the far faces, so every pass covers every voxel).
Only the bounding box of the body (HU ≥ ``min_body_hu``, with a margin) is processed: outside it the enhancement
is zero by definition.

Two ways to cover the volume (``InferenceSettings.mode``):

- ``exact`` (the default): the network's output on the *whole* volume at once, computed in slabs along z.
  Each slab is read with a halo of at least the network's receptive radius (measured from the network,
  :func:`receptive_halo`) and starts at a multiple of the network's stride, and only its core is kept, so
  every kept voxel sees exactly the context it has in a single whole-volume pass: the result does not
  depend on how the volume is cut (no tile seams), and every voxel is computed once (plus the halos).
- ``sliding``: MONAI's ``sliding_window_inference`` with overlapping windows blended (Gaussian or constant).
  A zero-padded network sees less context at a window's border, so its output there differs from the
  whole-volume output, and blended windows leave seams that depend on the tiling.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, replace
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
        mode: ``exact`` (whole-volume output in slabs with a halo) or ``sliding`` (MONAI sliding windows).
        max_slab_voxels: ``exact``: most voxels (halo included) one slab may hold per TTA flip; bounds memory.
        halo: ``exact``: voxels read above and below each slab; None = the network's receptive radius,
            rounded up to a multiple of ``align``.
        patch_size: ``sliding``: window size (z, y, x) in voxels; 0 along an axis: one window spanning the
            whole region along it (the region rounded up to ``align``: MONAI untiled, a reference).
        overlap: ``sliding``: fraction of a window shared with its neighbour (MONAI's default is 0.5).
        tta_flips: flips to average, each a list of spatial axes (0=z, 1=y, 2=x); ``[[]]`` is no flip.
        tta_shifts: shifts (z, y, x voxels) to average: the network's stride grid starts that many voxels
            later along each axis, so a strided network samples the anatomy on another grid; before the first
            face the scan is mirrored as it is past the far faces (:func:`padded_region`), so every pass covers
            every voxel. ``[(0, 0, 0)]`` is no shift. Every shift is run with every flip; the mean and standard
            deviation are over all passes.
        tta_lower_sd: the enhancement is the passes' mean minus this many of their standard deviations, not below
            0 (0: their mean). Where the passes disagree (the rim of a thin artery one pass draws a voxel wider,
            tissue one flip takes for blood) the synthetic enhancement shrinks; where they agree it stays. The
            uncertainty map is still their standard deviation.
        sw_batch_size: windows per network call.
        precision: ``fp32`` or ``bf16`` (autocast; CPU with AVX-512 BF16 or CUDA).
        crop_to_body: run only inside the body's bounding box.
        body_margin_vox: margin around the body box, voxels.
        skip_empty_windows: windows (slabs) without a body voxel (all below ``min_body_hu``) get enhancement 0
            without running the network; exact, since every voxel they hold is gated to 0 anyway.
        blend: ``sliding``: how overlapping windows are combined: ``gaussian`` (weights falling off towards the window's
            edge) or ``constant`` (plain mean, MONAI's default).
        align: every window (slab) starts at a multiple of this many voxels of the model grid (the product of the
            network's strides): a strided network sees the same voxels the same way in every tiling, so
            tilings differ only by the windows' borders. 1 turns alignment off.
        channels_last: on CPU, run a copy of the network with its weights and activations in channels-last 3D
            memory order (oneDNN's fast convolutions: ≈ 1.6× faster for the shipped U-Net on 2 cores; the
            output moves by about 1e-6 of its scale). The network passed in is not changed. Ignored on CUDA.
        input_constants: input channels after the HU windows that are constant over the scan: the scan-resolution
            channels of a model that has them (:meth:`~NetZeroAICT.synthesis.model_card.ModelCard.resolution_channels`;
            the engine sets them from each input's voxel size), else empty.
    """

    mode: str = "exact"
    max_slab_voxels: int = 16_000_000
    halo: int | None = None
    patch_size: Sequence[int] = (64, 64, 64)
    overlap: float = 0.25
    tta_flips: Sequence[Sequence[int]] = ((), (2,))
    tta_shifts: Sequence[Sequence[int]] = ((0, 0, 0),)
    tta_lower_sd: float = 0.0
    sw_batch_size: int = 2
    precision: str = "fp32"
    crop_to_body: bool = True
    body_margin_vox: int = 8
    skip_empty_windows: bool = True
    blend: str = "gaussian"
    align: int = 8
    channels_last: bool = True
    input_constants: Sequence[float] = ()


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


def grid_start(start: int, align: int, origin: int = 0) -> int:
    """The last voxel at or before ``start`` on the stride grid ``origin + k·align`` (k may be negative: the
    grid start then lies before the scan's first voxel)."""
    return (start - origin) // align * align + origin


def aligned_region(box: tuple[slice, slice, slice], shape, patch, align: int, origin=(0, 0, 0)
                   ) -> tuple[tuple[slice, ...], list, list]:
    """``box`` with its start moved down onto the stride grid ``origin + k·align``, and the padding that makes
    every sliding-window start lie on that grid as well: the last window starts at ``length − patch``, so
    ``length − patch`` must be a multiple of ``align``. A box shorter than the window is padded at its end to
    the window (MONAI would pad it on both sides, moving it off the stride's grid). A window size of 0 is the
    whole padded region along that axis.

    Returns (slices inside the array, ``fronts``: voxels before the array's first one, where the grid starts
    before it, ``pads``: voxels after its last one), for :func:`padded_region`."""
    slices, fronts, pads = [], [], []
    for s, n, p, o in zip(box, shape, patch, origin):
        start = grid_start(s.start, align, int(o))
        length = s.stop - start
        if p <= 0:   # one window along this axis: the region rounded up to the stride
            p = length + (-length) % align
        length = max(length, p)
        if length > p and (length - p) % align:
            length += align - (length - p) % align
        stop = min(start + length, n)
        slices.append(slice(max(start, 0), stop))
        fronts.append(max(-start, 0))
        pads.append(start + length - stop)
    return tuple(slices), fronts, pads


def padded_region(hu: np.ndarray, box: tuple[slice, ...], pads, fronts=(0, 0, 0)) -> np.ndarray:
    """``hu[box]`` grown by ``pads`` voxels after its end along each axis, as float32: the scan's own voxels
    where it has them, and past its last voxel the scan mirrored about that voxel (reflection), not air.
    ``fronts``: voxels put before the box, which must then start at the scan's first voxel: the scan mirrored
    about that voxel (a shifted stride grid that starts before it, :data:`InferenceSettings.tta_shifts`).

    The network is trained on patches cut from inside a scan, whose faces it sees as cut. Air put after a
    scan's far face (to reach a multiple of the stride) shows it a body that ends in air, which it never saw
    there, and a TTA shift changes how much air: on a held-out aorta phantom cut 3 voxels past a stride
    multiple, the last 8 slices moved 23 HU on average from what the uncut volume gives there (uncertainty
    17 HU), and 4 HU with the mirrored scan (uncertainty 1.6 HU)."""
    if any(f and b.start for f, b in zip(fronts, box)):
        raise ValueError(f"voxels before a box that does not start at the scan's first voxel: {box}, {fronts}")
    stops = [min(b.stop + int(p), n) for b, p, n in zip(box, pads, hu.shape)]
    region = np.ascontiguousarray(hu[tuple(slice(b.start, s) for b, s in zip(box, stops))], dtype=np.float32)
    rest = [(int(f), b.stop + int(p) - s) for f, b, p, s in zip(fronts, box, pads, stops)]
    if any(f or r for f, r in rest):
        region = np.pad(region, rest, mode="reflect")
    return region


def receptive_halo(network, n_channels: int, align: int, device: str = "cpu") -> int:
    """How far (voxels) the network's output at a voxel reaches into its input, rounded up to a multiple of
    ``align``: measured once per network from the gradient of a block of ``align``³ outputs (every phase of
    the strides) with respect to a random input, and cached on the network. Measured in eval mode, as inference
    runs (in train mode batch norm's batch statistics would tie every output to every input voxel)."""
    import torch

    cached = getattr(network, "_netzeroaict_halo", None)
    if cached is not None and cached[0] == align:
        return cached[1]
    was_training = network.training
    network.eval()
    size = 8 * align
    try:
        while True:
            with torch.enable_grad():
                x = torch.rand((1, n_channels) + (size,) * 3, device=device, requires_grad=True)
                c = size // 2 - align // 2
                block = (slice(None), slice(None)) + (slice(c, c + align),) * 3
                network(x)[block].sum().backward()
            reach = torch.nonzero(x.grad.abs().sum(dim=(0, 1)) > 0)
            low, high = reach.min(dim=0).values, reach.max(dim=0).values
            radius = int(max((c - low).max(), (high - (c + align - 1)).max()))
            if int(low.min()) > 0 and int(high.max()) < size - 1 or size >= 64 * align:
                break
            size *= 2   # the reach touched the probe's border: measure again on a bigger probe
    finally:
        network.train(was_training)
    halo = -(-radius // align) * align
    network._netzeroaict_halo = (align, halo)
    return halo


def slab_plan(depth: int, plane_voxels: int, halo: int, align: int, max_slab_voxels: int) -> list[tuple[int, int, int, int]]:
    """Slabs along z covering ``depth`` rows: (read_start, read_stop, keep_start, keep_stop), each read range at
    most ``max_slab_voxels`` (or one aligned core plus its halos), read starts at multiples of ``align``."""
    rows = max(int(max_slab_voxels) // max(int(plane_voxels), 1), 1)
    if depth <= rows:
        return [(0, depth, 0, depth)]
    core = max((rows - 2 * halo) // align * align, align)
    return [(max(start - halo, 0), min(start + core + halo, depth), start, min(start + core, depth))
            for start in range(0, depth, core)]


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
                        cancel: threading.Event | None = None, facts: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
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
        facts: when given, filled with how the volume was covered (mode, halo, slabs or windows), for the run record.
    Returns:
        (enhancement, std): float32 arrays shaped like ``hu``: the TTA passes' mean enhancement (less
        ``settings.tta_lower_sd`` standard deviations, not below 0, where that is above 0) and their standard
        deviation, HU.
    """
    k = check_lower_sd(settings.tta_lower_sd, "inference settings: tta_lower_sd")
    mean, std = _predict_passes(network, hu, windows_hu, enhancement_scale_hu, min_body_hu, settings, device,
                                progress, cancel, facts)
    if k > 0:
        lower_bound(mean, std, k)
    return mean, std


#: Most standard deviations :attr:`InferenceSettings.tta_lower_sd` may take off the mean.
MAX_TTA_LOWER_SD = 3.0


def check_lower_sd(k: float, where: str, hint: str | None = None) -> float:
    """``k`` as a float where it is a valid :attr:`InferenceSettings.tta_lower_sd` (0 to
    :data:`MAX_TTA_LOWER_SD`), else a :class:`NetZeroAICTError` naming ``where``."""
    if not 0.0 <= float(k) <= MAX_TTA_LOWER_SD:
        raise NetZeroAICTError(f"test-time lower bound of {float(k):g} standard deviations is outside "
                               f"0–{MAX_TTA_LOWER_SD:g}", where=where, hint=hint)
    return float(k)


def lower_bound(mean: np.ndarray, std: np.ndarray, k: float) -> np.ndarray:
    """``mean`` − ``k`` × ``std``, not below 0, in place in ``mean`` (float32), a few slices at a time (no
    whole-volume temporary); returns ``mean``."""
    factor = np.float32(k)
    for z in range(0, mean.shape[0], 16):
        part = mean[z:z + 16]
        part -= factor * std[z:z + 16]
        np.maximum(part, 0.0, out=part)
    return mean


def _predict_passes(network, hu, windows_hu, enhancement_scale_hu, min_body_hu, settings, device, progress, cancel,
                    facts) -> tuple[np.ndarray, np.ndarray]:
    """:func:`predict_enhancement` before the lower bound: the passes' mean and standard deviation."""
    if settings.mode == "exact" and settings.halo is None:   # measured on (and cached with) the network given
        settings = replace(settings, halo=receptive_halo(network, len(windows_hu) + len(settings.input_constants),
                                                         max(int(settings.align), 1), device))
    network, memory_format = _network_for(network, settings, device)
    shifts = [tuple(int(v) for v in s) for s in settings.tta_shifts]
    if shifts != [(0, 0, 0)]:
        return _predict_shifted(network, memory_format, hu, windows_hu, enhancement_scale_hu, min_body_hu, settings,
                                device, progress, cancel, facts, shifts)
    return _predict_flips(network, memory_format, hu, windows_hu, enhancement_scale_hu, min_body_hu, settings,
                          device, progress, cancel, facts)


def _predict_shifted(network, memory_format, hu, windows_hu, enhancement_scale_hu, min_body_hu, settings, device,
                     progress, cancel, facts, shifts) -> tuple[np.ndarray, np.ndarray]:
    """:func:`predict_enhancement` over ``shifts``: in each pass the network's stride grid starts ``shift``
    voxels later along each axis (:func:`aligned_region`'s ``origin``), so it samples the anatomy on another
    grid. Where that grid starts before the scan's first voxel, the scan is mirrored there as it is past the far
    faces (:func:`padded_region`): every pass covers every voxel, the first ones too. The mean is that of the
    passes' means, the variance the mean of their variances (over the flips) plus the variance of their means
    (computed about the mean, not as E[x²] − E[x]²: no cancellation)."""
    if any(v < 0 for s in shifts for v in s):
        raise NetZeroAICTError(f"test-time shifts must be 0 or more voxels, got {shifts}",
                               where="inference settings: tta_shifts")
    passes = []
    for n, shift in enumerate(shifts):
        part = None if progress is None else (lambda f, n=n: progress((n + f) / len(shifts)))
        pass_facts = facts if n == 0 else None
        passes.append(_predict_flips(network, memory_format, hu, windows_hu, enhancement_scale_hu, min_body_hu,
                                     settings, device, part, cancel, pass_facts, origin=shift))
    first = np.zeros(hu.shape, dtype=np.float32)
    for mean, _ in passes:
        first += mean
    first /= np.float32(len(passes))
    second = np.zeros(hu.shape, dtype=np.float32)
    for mean, std in passes:
        second += std * std
        mean -= first
        second += mean * mean
    second /= np.float32(len(passes))
    np.sqrt(second, out=second)
    if facts is not None:
        facts["tta_shifts"] = [list(s) for s in shifts]
    return first, second


def _predict_flips(network, memory_format, hu, windows_hu, enhancement_scale_hu, min_body_hu, settings, device,
                   progress, cancel, facts, origin=(0, 0, 0)) -> tuple[np.ndarray, np.ndarray]:
    """:func:`predict_enhancement` with the flips of ``settings`` only, on the stride grid that starts at
    ``origin`` (z, y, x voxels)."""
    if settings.mode == "exact":
        return _predict_exact(network, memory_format, hu, windows_hu, enhancement_scale_hu, min_body_hu, settings,
                              device, progress, cancel, facts if facts is not None else {}, origin)
    if settings.mode != "sliding":
        raise NetZeroAICTError(f"unknown inference mode {settings.mode!r}", where="inference settings: mode",
                               hint="use exact or sliding")
    import torch
    from monai.inferers import sliding_window_inference

    mean = np.zeros(hu.shape, dtype=np.float32)
    std = np.zeros(hu.shape, dtype=np.float32)
    box = body_box(hu, min_body_hu, settings.body_margin_vox) if settings.crop_to_body else \
        tuple(slice(0, n) for n in hu.shape)
    if box is None:
        return mean, std
    box, fronts, pads = aligned_region(box, hu.shape, [int(p) for p in settings.patch_size],
                                       max(int(settings.align), 1), origin)
    region = padded_region(hu, box, pads, fronts)
    patch = tuple(int(p) if int(p) > 0 else n for p, n in zip(settings.patch_size, region.shape))
    total = count_windows(region.shape, patch, settings.overlap)
    if facts is not None:
        facts.update(mode="sliding", region_zyx=list(region.shape), windows=total)
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
        m, q = _flipped_predictions(network, memory_format, x[keep], windows_hu, flips, use_bf16, device_type,
                                    settings.input_constants)
        result[keep] = torch.cat([m, q], dim=1)
        return result

    with torch.inference_mode():
        tensor = torch.from_numpy(region)[None, None].to(device)
        blended = sliding_window_inference(tensor, patch, settings.sw_batch_size, predictor,
                                           overlap=settings.overlap, mode=settings.blend,
                                           padding_mode="constant", cval=-1024.0)
        inside = tuple(slice(f, f + b.stop - b.start) for f, b in zip(fronts, box))
        first, second = blended[0, 0][inside], blended[0, 1][inside]
        variance = (second - first ** 2).clamp_min(0.0)
        mean[box] = (first * enhancement_scale_hu).cpu().numpy()
        std[box] = (variance.sqrt() * enhancement_scale_hu).cpu().numpy()
    return mean, std


def _network_for(network, settings: InferenceSettings, device: str):
    """The network to run and the memory order to give its inputs in: on CPU with ``settings.channels_last`` a
    channels-last copy (or ``network`` itself where its weights are already in that order, as in training),
    otherwise ``network`` itself with contiguous inputs."""
    import copy

    import torch

    if not settings.channels_last or str(device).startswith("cuda"):
        return network, torch.contiguous_format
    if not any(p.dim() == 5 and not p.is_contiguous() and p.is_contiguous(memory_format=torch.channels_last_3d)
               for p in network.parameters()):
        network = copy.deepcopy(network).to(memory_format=torch.channels_last_3d)
    return network, torch.channels_last_3d


def _flipped_predictions(network, memory_format, x, windows_hu, flips, use_bf16: bool, device_type: str,
                         constants=()):
    """Mean and mean square (each (B, 1, …)) of the network's predictions over the TTA flips of ``x``."""
    import torch

    batch = torch.cat([torch.flip(x, f) if f else x for f in flips], dim=0)
    inputs = window_channels_torch(batch, windows_hu, constants).contiguous(memory_format=memory_format)
    del batch
    with torch.autocast(device_type, dtype=torch.bfloat16, enabled=use_bf16):
        out = network(inputs)
    del inputs
    out = out.float().split(x.shape[0], dim=0)
    first = second = None
    for o, f in zip(out, flips):
        o = torch.flip(o, f) if f else o
        first = o.clone() if first is None else first.add_(o)
        second = o * o if second is None else second.addcmul_(o, o)
    return first / len(flips), second / len(flips)


def _predict_exact(network, memory_format, hu: np.ndarray, windows_hu, enhancement_scale_hu: float, min_body_hu: float,
                   settings: InferenceSettings, device: str, progress, cancel, facts: dict, origin=(0, 0, 0)
                   ) -> tuple[np.ndarray, np.ndarray]:
    """``predict_enhancement`` in ``exact`` mode: the whole-volume output, in slabs with a halo, on the stride
    grid that starts at ``origin``."""
    import torch

    mean = np.zeros(hu.shape, dtype=np.float32)
    std = np.zeros(hu.shape, dtype=np.float32)
    align = max(int(settings.align), 1)
    halo = int(settings.halo) if settings.halo is not None else \
        receptive_halo(network, len(windows_hu) + len(settings.input_constants), align, device)
    # the body box grown by the halo: what lies further out cannot reach a body voxel
    box = body_box(hu, min_body_hu, max(settings.body_margin_vox, halo)) if settings.crop_to_body else \
        tuple(slice(0, n) for n in hu.shape)
    if box is None:
        return mean, std
    starts = [grid_start(b.start, align, int(o)) for b, o in zip(box, origin)]
    fronts = [max(-s0, 0) for s0 in starts]
    box = tuple(slice(max(s0, 0), b.stop) for s0, b in zip(starts, box))
    pads = [(-(b.stop - s0)) % align for s0, b in zip(starts, box)]   # the network needs sizes divisible by its stride
    region = padded_region(hu, box, pads, fronts)
    depth = region.shape[0]
    plan = slab_plan(depth, region.shape[1] * region.shape[2], halo, align, settings.max_slab_voxels)
    facts.update(mode="exact", halo_vox=halo, region_zyx=list(region.shape), slabs=len(plan))
    flips = [tuple(int(a) + 2 for a in f) for f in settings.tta_flips]
    use_bf16 = settings.precision == "bf16"
    device_type = "cuda" if str(device).startswith("cuda") else "cpu"
    first = np.zeros(region.shape, dtype=np.float32)
    second = np.zeros(region.shape, dtype=np.float32)
    steps = len(plan) * len(flips)
    with torch.inference_mode():
        for n_slab, (read0, read1, keep0, keep1) in enumerate(plan):
            if settings.skip_empty_windows and not (region[keep0:keep1] >= min_body_hu).any():
                continue
            x = window_channels_torch(torch.from_numpy(region[read0:read1])[None, None].to(device), windows_hu,
                                      settings.input_constants)
            for n_flip, flip in enumerate(flips):   # one flip at a time: half the memory, finer progress
                if cancel is not None and cancel.is_set():
                    raise SynthesisCancelled("synthesis cancelled", hint="run it again to get a result")
                if progress is not None:
                    progress((n_slab * len(flips) + n_flip) / steps)
                with torch.autocast(device_type, dtype=torch.bfloat16, enabled=use_bf16):
                    out = network((torch.flip(x, flip) if flip else x).contiguous(memory_format=memory_format))
                out = out.float()[0, 0]
                out = (torch.flip(out, [a - 2 for a in flip]) if flip else out)[keep0 - read0:keep1 - read0]
                out = out.cpu().numpy()
                first[keep0:keep1] += out
                second[keep0:keep1] += out * out
                del out
            del x
    if progress is not None:
        progress(1.0)
    first /= len(flips)
    second /= len(flips)
    inside = tuple(slice(f, f + b.stop - b.start) for f, b in zip(fronts, box))
    first, second = first[inside], second[inside]
    np.subtract(second, first * first, out=second)
    np.maximum(second, 0.0, out=second)
    np.sqrt(second, out=second)
    mean[box] = first * np.float32(enhancement_scale_hu)
    std[box] = second * np.float32(enhancement_scale_hu)
    return mean, std


def gate_enhancement(enhancement: np.ndarray, ncct_hu: np.ndarray, gate_hu: Sequence[float], min_body_hu: float,
                     max_ncct_hu: float = 300.0, max_hu: float = 3071.0,
                     also_zero: np.ndarray | None = None) -> np.ndarray:
    """Make the enhancement exactly zero where it is tiny or outside the body; in place, returns it.

    Below ``gate_hu[0]`` HU the enhancement becomes 0, above ``gate_hu[1]`` it is kept, in between it ramps
    linearly (continuous, so small changes of the prediction give small changes of the image). Voxels whose
    NCCT is below ``min_body_hu`` (air, lung) or above ``max_ncct_hu`` (bone, calcium) are never enhanced, and no
    voxel is pushed above ``max_hu``. ``also_zero`` (same shape, e.g. the uncertainty map) is set to 0 in those
    never-enhanced voxels as well, in the same pass. float32 arrays; the work runs in torch (its threads) on
    views of them, 16 slices at a time to keep temporaries small.
    """
    import torch

    t0, t1 = float(gate_hu[0]), float(gate_hu[1])
    inv = 1.0 / max(t1 - t0, 1e-6)
    with torch.inference_mode():
        for z in range(0, enhancement.shape[0], 16):
            enh, hu = _tensor_view(enhancement[z:z + 16]), _tensor_view(ncct_hu[z:z + 16])
            ramp = enh.sub(t0).mul_(inv).clamp_(0.0, 1.0)
            enh.clamp_(min=0.0).mul_(ramp)
            never = (hu < min_body_hu).logical_or_(hu > max_ncct_hu)
            enh.masked_fill_(never, 0.0)
            if also_zero is not None:
                _tensor_view(also_zero[z:z + 16]).masked_fill_(never, 0.0)
            torch.minimum(enh, hu.neg().add_(max_hu).clamp_(min=0.0), out=enh)
    return enhancement


def _tensor_view(array: np.ndarray):
    """A torch tensor sharing ``array``'s memory (a copy only where numpy strides are negative); read-only
    arrays are only read through it."""
    import warnings

    import torch

    if any(stride < 0 for stride in array.strides):
        array = np.ascontiguousarray(array)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)     # "not writable": such arrays are only read
        return torch.from_numpy(array)
