"""The generator network and what goes in and out of it.

Input: the NCCT in HU seen through several HU windows, one channel per window, each mapped to 0..1.
Output: one channel, the predicted enhancement (CTA − NCCT) divided by ``enhancement_scale_hu``.
The network is a small residual 3D U-Net from MONAI; its architecture and keyword arguments are written in
the model card, so a card alone rebuilds the exact network its weights belong to.
"""

from __future__ import annotations

import functools
from typing import Sequence

import numpy as np

from ..errors import ValidationError

#: Architectures a model card may name, with the MONAI class each one builds.
ARCHITECTURES = ("monai.networks.nets.UNet", "monai.networks.nets.BasicUNet")


def default_architecture(n_windows: int) -> dict:
    """The shipped architecture: MONAI UNet, 4 levels (8–64 channels), one residual unit per level.

    Batch norm (not instance norm): in eval mode it is a fixed affine map, so away from the borders of what it
    is given the network is translation equivariant (for shifts by its stride), and the engine's ``exact``
    inference, which gives every voxel its whole receptive field, does not depend on how the volume is cut.

    Chosen over BasicUNet by measurement (model cards, ``architecture_choice``): at 64³ on 2 CPU cores a
    residual UNet (strided convolutions) infers in ≈ 0.7–0.9 µs/voxel against ≈ 2.4 µs/voxel for BasicUNet
    (8 base features) and trains ≈ 4× faster per step, at < 1 MB of weights.
    """
    return {"name": "monai.networks.nets.UNet",
            "kwargs": {"spatial_dims": 3, "in_channels": n_windows, "out_channels": 1,
                       "channels": [8, 16, 32, 64], "strides": [2, 2, 2], "num_res_units": 1,
                       "norm": "batch", "act": "prelu"}}


def deep_architecture(n_windows: int) -> dict:
    """The shipped UNet with a fifth level (128 channels, one more stride of 2): twice its receptive field, about
    64 voxels each way, so that the inside of a large organ at blood density (a fatty liver) is seen with the
    organ's edges around it. Train it on 64³ patches (a multiple of its stride, 16). On 2 CPU cores an aorta epoch
    (25 steps of 2 patches, no mining) takes about 1.6 s with 64³ patches against 0.8 s for the shipped UNet on 48³.
    """
    arch = default_architecture(n_windows)
    arch["kwargs"]["channels"] = [8, 16, 32, 64, 128]
    arch["kwargs"]["strides"] = [2, 2, 2, 2]
    return arch


def full_resolution_architecture(n_windows: int) -> dict:
    """The shipped UNet with a first level at full resolution (stride 1, 8 channels) above its three strided ones.

    MONAI's UNet takes each level's skip *after* that level's strided convolution, so with strides (2, 2, 2)
    nothing in it sees the image at full resolution but the last transposed convolution and a one-channel
    residual unit, and vessel edges come out soft: the shipped limb model makes the lumen's partial-volume rim
    (80 % of a limb artery's lumen voxels) 16–46 HU too dark per held-out case and the core too bright. The
    extra level gives the output a full-resolution skip. Limb phantoms, both trained 400 epochs with the same
    recipe, held-out seeds at their true contrast level: lumen MAE 30.9 HU against 59.2 (rim 33 against 64),
    Dice 0.974 against 0.934; with 3 mm voxels Dice 0.83 against 0.85. A training step costs about 4× as much on
    2 CPU cores (0.20 s against 0.05 s, batch 2 × 48³; the runs took 46 and 19 min), and inference in the engine
    about 7× (20 s against 3 s per limb phantom; a single 96³ window: 0.43 s against 0.42 s), which would break
    ``make bench``'s 15 s goal. Neck & brain, 75 min (610 epochs) with the neck recipe: Dice 0.78 against the
    shipped model's 0.85 (55 min, 1,830 epochs), lumen MAE 110 against 89 HU, with 2.7 mm voxels Dice 0.34 against
    0.73; it found no more of the thinnest arteries. Not the recipe's default for these reasons."""
    arch = default_architecture(n_windows)
    arch["kwargs"].update(channels=[8, 8, 16, 32, 64], strides=[1, 2, 2, 2])
    return arch


def input_skip_architecture(n_windows: int) -> dict:
    """The shipped UNet with a small full-resolution head (``input_skip``, :func:`_input_skip_class`): the UNet gives
    4 feature maps instead of its output, and one 3×3×3 convolution (8 channels, PReLU) over those maps and the
    input windows, then a 1×1×1 one, make the output. A cheaper way than ``unet-full-res`` to give the output the
    image at full resolution (where MONAI's UNet has only its last transposed convolution): on 2 CPU cores a
    training step (batch 2 × 48³) costs about 2.3× the shipped one's network time (``unet-full-res``: 4.5×), and
    inference on a 96×96×160 block about 1.1× (``unet-full-res``: 2.3×). Measured on limb (recipe, 36 min, 1,319
    epochs; docs/models.md, "The lumen's rim"), it is worse than the shipped UNet: lower training loss, a noisy
    validation score, held-out Dice 0.86 against 0.97 and the rim darker, not brighter; not in any recipe."""
    arch = default_architecture(n_windows)
    arch["input_skip"] = {"features": 4, "hidden": 8}
    return arch


@functools.lru_cache(maxsize=None)
def _input_skip_class():
    """The torch module of an ``input_skip`` network (made on first use, so that importing this file needs no
    torch)."""
    import torch

    class _InputSkipHead(torch.nn.Module):
        """``unet`` (a MONAI UNet with ``features`` output channels), then a full-resolution head over its features
        and the network's input: Conv3d 3×3×3 (features + inputs → hidden), PReLU, Conv3d 1×1×1 (hidden → 1)."""

        def __init__(self, unet, in_channels: int, features: int, hidden: int):
            super().__init__()
            self.unet = unet
            self.conv = torch.nn.Conv3d(features + in_channels, hidden, 3, padding=1)
            self.act = torch.nn.PReLU()
            self.out = torch.nn.Conv3d(hidden, 1, 1)

        def forward(self, x):
            return self.out(self.act(self.conv(torch.cat([self.unet(x), x], dim=1))))

    return _InputSkipHead


#: Slab size (voxels per TTA flip, ``max_slab_voxels`` of the card) for a network with a full-resolution level.
#: Its activations at full resolution are 8 channels wide, where the shipped UNet's first one is 1/8 of the voxels:
#: a 512×512×400 neck input (a 256×224×224 region at 0.9 mm: 12.8 M voxels, one slab) peaks at 3.6 GB RSS with it
#: against 2.5 GB with the shipped UNet, so a slab of the engine's default 16 M voxels would come near the 4 GB bound.
#: With 10 M: 2 slabs, 2.8 GB, inference 12.7 s against 11.3 s in one slab (2 CPU cores). Smaller slabs cost time,
#: since each is read with a 32-row halo above and below: 8 M, 3 slabs, 15.5 s; 4 M, 32 slabs, 96 s.
FULL_RESOLUTION_MAX_SLAB_VOXELS = 10_000_000


def has_full_resolution_level(architecture: dict) -> bool:
    """Whether the network's first level runs at full resolution (stride 1: ``unet-full-res``)."""
    strides = architecture.get("kwargs", {}).get("strides") or []
    return bool(strides) and _largest(strides[0]) == 1


def has_fifth_level(architecture: dict) -> bool:
    """Whether ``architecture`` is a strided UNet whose coarsest level spans 16 voxels (``unet-deep``)."""
    return "strides" in architecture.get("kwargs", {}) and network_stride(architecture) >= 16


def card_slab_voxels(architecture: dict) -> int | None:
    """The ``max_slab_voxels`` a new card gets for ``architecture``: :data:`FULL_RESOLUTION_MAX_SLAB_VOXELS` when
    it computes at full resolution (a stride-1 first level or an input-skip head), else None (the engine's
    default)."""
    full = has_full_resolution_level(architecture) or architecture.get("input_skip")
    return FULL_RESOLUTION_MAX_SLAB_VOXELS if full else None


#: Named architectures for ``train --architecture`` and the training recipe.
ARCHITECTURE_PRESETS = {"unet": default_architecture, "unet-full-res": full_resolution_architecture,
                        "unet-input-skip": input_skip_architecture, "unet-deep": deep_architecture}


def architecture_preset(name: str, n_windows: int) -> dict:
    """The architecture entry of a named preset (:data:`ARCHITECTURE_PRESETS`)."""
    if name not in ARCHITECTURE_PRESETS:
        raise ValidationError(f"unknown architecture preset {name!r}", where="training settings: architecture",
                              hint=f"use one of {', '.join(ARCHITECTURE_PRESETS)}")
    return ARCHITECTURE_PRESETS[name](n_windows)


def network_stride(architecture: dict) -> int:
    """How many input voxels one step of the network's coarsest level spans (product of its strides; 16 for
    BasicUNet's four poolings): windows and slabs start at multiples of it."""
    kwargs = architecture.get("kwargs", {})
    if "strides" in kwargs:
        return int(np.prod([_largest(s) for s in kwargs["strides"]]))
    return 16 if architecture.get("name", "").endswith("BasicUNet") else 1


def _largest(stride) -> int:
    """A stride given as one number or one per axis, as its largest step."""
    return stride if isinstance(stride, int) else max(stride)


def build_network(architecture: dict):
    """Build the torch module an architecture entry of a model card describes."""
    from monai.networks import nets

    name = architecture.get("name")
    if name not in ARCHITECTURES:
        raise ValidationError(f"unknown architecture {name!r}", where="model card: architecture.name",
                              hint=f"use one of {', '.join(ARCHITECTURES)}")
    cls = getattr(nets, name.rsplit(".", 1)[1])
    kwargs = dict(architecture.get("kwargs", {}))
    for key in ("channels", "strides", "features"):
        if key in kwargs:
            kwargs[key] = tuple(kwargs[key])
    skip = architecture.get("input_skip")
    try:
        if skip:   # the UNet gives feature maps; a full-resolution head over them and the input gives the output
            unet = cls(**{**kwargs, "out_channels": int(skip["features"])})
            return _input_skip_class()(unet, int(kwargs["in_channels"]), int(skip["features"]), int(skip["hidden"]))
        return cls(**kwargs)
    except (TypeError, KeyError) as error:
        raise ValidationError(f"the architecture's arguments do not fit {name}: {error}",
                              where="model card: architecture.kwargs") from None


def window_channels(hu: np.ndarray, windows_hu: Sequence[Sequence[float]]) -> np.ndarray:
    """Map an HU array of shape S to a float32 array (len(windows_hu), *S): each window clipped to 0..1.

    ``windows_hu`` holds (low, high) pairs in HU; low maps to 0 and high to 1.
    """
    out = np.empty((len(windows_hu),) + hu.shape, dtype=np.float32)
    for c, (low, high) in enumerate(windows_hu):
        np.subtract(hu, low, out=out[c], casting="unsafe")
        out[c] *= 1.0 / (high - low)
        np.clip(out[c], 0.0, 1.0, out=out[c])
    return out


def window_channels_torch(hu, windows_hu: Sequence[Sequence[float]], constants=None):
    """Torch version of :func:`window_channels` for a tensor (B, 1, …) → (B, len(windows_hu), …).

    ``constants``: channels appended after the windows, each constant over a patch: a sequence of C floats (the
    same for every item of the batch) or a tensor (B, C) (one row per item): the scan-resolution channels of a
    model that has them (:func:`scan_resolution_channels`)."""
    import torch

    channels = [((hu - low) / (high - low)).clamp(0.0, 1.0) for low, high in windows_hu]
    if constants is not None and len(constants):
        values = torch.as_tensor(constants, dtype=hu.dtype, device=hu.device)
        if values.dim() == 1:
            values = values[None].expand(hu.shape[0], -1)
        channels.append(values[(...,) + (None,) * (hu.dim() - 2)].expand((-1, -1) + tuple(hu.shape[2:])))
    return torch.cat(channels, dim=1)


#: Network axes (z, y, x) as LPS unit vectors: the engine gives the network the scan in the order Superior,
#: Posterior, Left (:func:`~NetZeroAICT.synthesis.grids.to_network_order`).
NETWORK_AXES_LPS = ((0.0, 0.0, 1.0), (0.0, 1.0, 0.0), (1.0, 0.0, 0.0))

#: Input channels a network with scan-resolution channels has after its HU windows (one per network axis).
SCAN_RESOLUTION_CHANNELS = 3


def scan_voxel_edges_zyx(spacing_mm: Sequence[float], direction_lps) -> tuple[float, float, float]:
    """A scan's voxel edge (mm) along each network axis (z, y, x): the spacing of the scan axis that runs closest
    to it (``direction_lps``: 3×3, columns are the i, j, k axes in LPS)."""
    direction = np.asarray(direction_lps, dtype=float).reshape(3, 3)
    edges = []
    for axis in NETWORK_AXES_LPS:
        closest = int(np.argmax(np.abs(np.asarray(axis) @ direction)))
        edges.append(float(spacing_mm[closest]))
    return tuple(edges)


def scan_resolution_channels(voxel_edges_zyx: Sequence[float], spacing_mm: float,
                             max_factor_zyx: Sequence[float]) -> tuple[float, float, float]:
    """The scan-resolution input channels of a model that has them: log2 of how many model voxels one scan voxel
    spans along each network axis (z, y, x), from 1 (a scan as fine as the model grid or finer: 0) up to
    ``max_factor_zyx`` (the coarsest the training showed): the engine gives the scan's own voxel size, the
    training the coarsening it applied to each thick-slice patch. Measured on limb (docs/models.md, "The lumen's
    rim"): a sharp scan's lumen rim came out no sharper, and 3 mm scans much worse; in no recipe."""
    return tuple(float(np.log2(min(max(edge / spacing_mm, 1.0), float(top))))
                 for edge, top in zip(voxel_edges_zyx, max_factor_zyx))
