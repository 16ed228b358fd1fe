"""Paired training data: NCCT/CTA case folders resampled to the model spacing, and random patches from them.

A dataset folder holds ``manifest.json`` (``indication``, ``seeds``, ``split``: {train, validation, test} lists of
case folder names) and one folder per case with ``ncct.nii.gz``, ``cta.nii.gz``, ``lumen.nii.gz`` and optional
masks (``body``, ``enhancing``, …) on the same grid — the layout the phantom foundry writes, and the layout
users' registered real pairs are brought into. A folder without a manifest counts every case as training.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from ..errors import NetZeroAICTError
from ..volume import Volume
from ..volume_io import read_volume
from .grids import to_model_grid, to_network_order

PAD_HU = -1024.0


@dataclass
class TrainingCase:
    """One case at the model spacing; arrays are (z, y, x).

    Attributes:
        name: case folder name.
        ncct_hu: NCCT, float32 HU.
        enhancement_hu: target enhancement CTA − NCCT, float32 HU.
        lumen: uint8 lumen mask (vessels of interest).
        weight: float32 per-voxel loss weight (vessels weigh more).
        lumen_enhancement_hu: the case's contrast level: median enhancement inside the lumen (eroded by one
            voxel, so partial-volume edges do not count); 0 when the case has no lumen.
        organ: uint8 mask of the organs of :data:`DENSITY_VARIABLE_ORGANS`, or None where the case has no
            tissue map (a user's registered pair).
        organ_hu: their median NCCT HU (inside the mask eroded by one voxel).
    """

    name: str
    ncct_hu: np.ndarray
    enhancement_hu: np.ndarray
    lumen: np.ndarray
    weight: np.ndarray
    lumen_enhancement_hu: float = 0.0
    organ: np.ndarray | None = None
    organ_hu: float = 0.0


def lumen_enhancement_hu(enhancement: np.ndarray, lumen: np.ndarray) -> float:
    """Median enhancement (HU) inside ``lumen`` eroded by one voxel (the whole lumen where erosion empties it);
    0.0 for an empty lumen. This is the contrast level a synthesis model normalises by."""
    inner = ndimage.binary_erosion(lumen > 0)
    if not inner.any():
        inner = lumen > 0
    return float(np.median(enhancement[inner])) if inner.any() else 0.0


def read_manifest(data_dir) -> dict:
    """The dataset manifest; without one, every case folder is a training case."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise NetZeroAICTError("training data folder not found", where=str(data_dir),
                               hint="generate one with the phantom foundry or give a folder of paired cases")
    path = data_dir / "manifest.json"
    if path.is_file():
        manifest = json.loads(path.read_text())
        for key in ("train", "validation"):
            if key not in manifest.get("split", {}):
                raise NetZeroAICTError(f"manifest has no split.{key}", where=str(path))
        return manifest
    cases = sorted(p.name for p in data_dir.iterdir() if (p / "ncct.nii.gz").is_file() and (p / "cta.nii.gz").is_file())
    if not cases:
        raise NetZeroAICTError("no paired cases (ncct.nii.gz + cta.nii.gz) in this folder", where=str(data_dir))
    return {"indication": None, "split": {"train": cases, "validation": [], "test": []}}


def _mask_to_grid(mask: Volume, grid: sitk.Image | None) -> np.ndarray:
    if grid is None:
        return np.asarray(mask.voxels > 0, dtype=np.uint8)
    image = sitk.Resample(mask.to_sitk(), grid, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    return (sitk.GetArrayFromImage(image) > 0).astype(np.uint8)


#: Large organs whose unenhanced density differs from patient to patient across that of unenhanced blood: a
#: fatty liver reads 28–47 HU (about a quarter of adults), unenhanced blood 36–50. Deep inside such an organ a
#: network with a few centimetres of view sees only a homogeneous region at blood density, as inside a heart
#: chamber or an aneurysm sac, and enhances it. Their masks come from the phantoms' tissue maps (``tissue.nii.gz``).
DENSITY_VARIABLE_ORGANS = ("liver", "spleen")

#: The NCCT HU an organ patch shows its organ at (uniform draw; :class:`PatchSampler` ``organ_fraction``).
ORGAN_SHOWN_HU = (28.0, 55.0)


def _organ_mask(folder: Path, grid: sitk.Image | None) -> np.ndarray | None:
    """Mask of :data:`DENSITY_VARIABLE_ORGANS` from the case's tissue map and the labels in its case.json; None
    where either is missing."""
    tissue_path, case_path = folder / "tissue.nii.gz", folder / "case.json"
    if not (tissue_path.is_file() and case_path.is_file()):
        return None
    labels = json.loads(case_path.read_text()).get("tissue_labels", {})
    ids = [labels[name] for name in DENSITY_VARIABLE_ORGANS if name in labels]
    if not ids:
        return None
    tissue = read_volume(tissue_path, label=True)
    organ = Volume(np.isin(tissue.voxels, ids).astype(np.uint8), tissue.spacing_mm, tissue.origin_lps,
                   tissue.direction_lps)
    return _mask_to_grid(organ, grid)


#: Loss weight a voxel near the lumen (the lumen grown by one voxel) adds to the tissue's 1, and what a voxel of an
#: enhancing organ adds: a case's ``weight`` is 1 (tissue), 3 (organ), 11 (near the lumen) or 13 (both).
LUMEN_WEIGHT = 10.0
ORGAN_WEIGHT = 2.0


def away_from_lumen(weight):
    """The voxels of a ``weight`` map (numpy or torch) that are not near the lumen: tissue and enhancing organs."""
    return weight < 1.0 + LUMEN_WEIGHT


def beside_lumen(weight, band: int):
    """The voxels within ``band`` voxels (a cube, per axis) of the near-lumen voxels of a ``weight`` map, those
    included. ``weight``: numpy (z, y, x) or torch (B, 1, z, y, x). ``band`` 0: the near-lumen voxels only."""
    near = weight >= 1.0 + LUMEN_WEIGHT
    if band <= 0:
        return near
    if isinstance(weight, np.ndarray):
        return ndimage.maximum_filter(near.astype(np.uint8), size=2 * band + 1, mode="constant") > 0
    import torch

    return torch.nn.functional.max_pool3d(near.float(), 2 * band + 1, stride=1, padding=band) > 0


def load_training_case(folder, spacing_mm: float, clean_target: bool = True,
                       organs: bool = False) -> TrainingCase:
    """Read one case folder and bring it to the model spacing.

    With ``organs`` the mask of :data:`DENSITY_VARIABLE_ORGANS` is read too, where the case has a tissue map (only
    organ patches need it).

    With ``clean_target`` the target enhancement is kept only inside the lumen and enhancing masks (dilated by
    2 voxels) and set to 0 elsewhere: there the two scans differ only by their independent noise, which no
    model can predict.
    """
    folder = Path(folder)
    ncct = read_volume(folder / "ncct.nii.gz")
    cta = read_volume(folder / "cta.nii.gz")
    if not ncct.same_grid(cta):
        raise NetZeroAICTError("NCCT and CTA are not on the same grid", where=str(folder),
                               hint="register the pair first")
    ncct_hu, grid = to_model_grid(ncct, spacing_mm)
    cta_hu, _ = to_model_grid(cta, spacing_mm)
    lumen = _mask_to_grid(read_volume(folder / "lumen.nii.gz", label=True), grid)
    enhancing = np.zeros_like(lumen)
    if (folder / "enhancing.nii.gz").is_file():
        enhancing = _mask_to_grid(read_volume(folder / "enhancing.nii.gz", label=True), grid)
    organ = _organ_mask(folder, grid) if organs else None
    # in the order the engine gives the network (phantoms are already in it; a real CT may not be)
    ncct_hu, cta_hu, lumen, enhancing = (to_network_order(a, ncct.direction_lps)
                                         for a in (ncct_hu, cta_hu, lumen, enhancing))
    organ_hu = 0.0
    if organ is not None:
        organ = to_network_order(organ, ncct.direction_lps)
        inner = ndimage.binary_erosion(organ > 0)
        if inner.any():
            organ_hu = float(np.median(ncct_hu[inner]))
        else:
            organ = None
    enhancement = cta_hu - ncct_hu
    if clean_target:
        keep = ndimage.binary_dilation((lumen > 0) | (enhancing > 0), iterations=2)
        enhancement[~keep] = 0.0
    near_lumen = ndimage.binary_dilation(lumen > 0, iterations=1)
    weight = 1.0 + LUMEN_WEIGHT * near_lumen.astype(np.float32) + ORGAN_WEIGHT * (enhancing > 0)
    return TrainingCase(folder.name, ncct_hu.astype(np.float32), enhancement.astype(np.float32), lumen,
                        weight.astype(np.float32), lumen_enhancement_hu(enhancement, lumen), organ, organ_hu)


def _pad_to(array: np.ndarray, patch, value: float) -> np.ndarray:
    pads = [(0, max(p - n, 0)) for n, p in zip(array.shape, patch)]
    return np.pad(array, pads, constant_values=value) if any(p[1] for p in pads) else array


#: NCCT HU of tissue that looks like unenhanced blood (muscle, bowel wall, unopacified veins).
BLOOD_LIKE_HU = (20.0, 80.0)


def blood_like_tissue(case: TrainingCase) -> np.ndarray:
    """Voxels of ``case`` whose NCCT looks like unenhanced blood but lie away from vessels and enhancing organs
    (loss weight 1): where synthesised contrast would be false."""
    return (case.ncct_hu >= BLOOD_LIKE_HU[0]) & (case.ncct_hu <= BLOOD_LIKE_HU[1]) & (case.weight <= 1.0)


#: Most negative patch centres kept per case (blood-like tissue, hard negatives), drawn at random.
MAX_NEGATIVE_POINTS = 200_000

#: Thick-slice augmentation: the slice thicknesses (mm) a coarsened patch shows, drawn uniformly (routine
#: non-contrast CT: 3–5 mm), and its in-plane block factors (voxels; 2 at 1.5 mm spacing is a 3 mm pixel).
COARSE_SLICE_MM = (3.0, 4.5)
COARSE_XY_FACTORS = (1, 2)


def coarse_z_factors(spacing_mm: float) -> tuple[int, ...]:
    """Block factors along z (voxels at the model spacing) for the slices of :data:`COARSE_SLICE_MM`: (2, 3) at
    1.5 mm, (3, 5) at 0.9 mm; at least 2."""
    return tuple(max(2, int(round(mm / spacing_mm))) for mm in COARSE_SLICE_MM)


def coarsen(volume: np.ndarray, factors) -> np.ndarray:
    """``volume`` (z, y, x) as a scan with ``factors`` × thicker voxels shows it once the engine has brought it
    back to the model grid: the mean over each block of voxels (what a thicker slice or a larger pixel
    integrates), then linear interpolation back to the original size with the coarse voxel centres at the block
    centres (as the engine resamples a coarse input). Linear, so coarsening the NCCT and the enhancement
    separately is the same as coarsening the CTA. A size that is not a multiple of its factor is padded with its
    last slice for the blocks and cropped back."""
    import torch
    import torch.nn.functional as F

    factors = tuple(int(f) for f in factors)
    if factors == (1, 1, 1):
        return volume.copy()
    pads = [(0, -n % f) for n, f in zip(volume.shape, factors)]
    padded = np.pad(volume, pads, mode="edge") if any(p for _, p in pads) else volume
    t = torch.from_numpy(np.ascontiguousarray(padded, dtype=np.float32))[None, None]
    coarse = F.avg_pool3d(t, kernel_size=factors, stride=factors)
    fine = F.interpolate(coarse, size=padded.shape, mode="trilinear", align_corners=False)[0, 0].numpy()
    return fine[tuple(slice(0, n) for n in volume.shape)]


#: Neighbourhood (voxels, a cube) over which :func:`local_radius` takes the largest distance to the lumen's edge.
LOCAL_RADIUS_WINDOW = 7


def local_radius(lumen: np.ndarray) -> np.ndarray:
    """Each lumen voxel's vessel radius in voxels, 0 outside: the largest distance to the lumen's edge within
    :data:`LOCAL_RADIUS_WINDOW` voxels of it (a rim voxel of an artery up to three voxels in radius, a carotid
    at 0.9 mm, gets the artery's radius, not 1; wider ones count as at least three)."""
    inside = lumen > 0
    radius = np.zeros(lumen.shape, dtype=np.float32)
    if not inside.any():
        return radius
    reach = LOCAL_RADIUS_WINDOW // 2
    where = np.argwhere(inside)
    box = tuple(slice(max(int(lo) - reach, 0), int(hi) + reach + 1) for lo, hi in zip(where.min(0), where.max(0)))
    edge = ndimage.distance_transform_edt(np.pad(inside[box], 1))[1:-1, 1:-1, 1:-1]
    widest = ndimage.maximum_filter(edge, size=LOCAL_RADIUS_WINDOW)
    radius[box] = np.where(inside[box], widest, 0.0)
    return radius


def length_weights(lumen_points: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Cumulative weights over ``lumen_points`` (n, 3) for drawing a voxel per unit of vessel length: each voxel
    weighs 1 / r² (``radius`` at it, at least 1), since a vessel of radius r has about r² lumen voxels per voxel
    of length."""
    r = np.maximum(radius[tuple(lumen_points.T)], 1.0) if len(lumen_points) else np.zeros(0)
    return np.cumsum(1.0 / r ** 2)


def check_thin_vessel_share(share: float, hint: str = "give the share of lumen-centred patches drawn per vessel "
                                                         "length, 0–1") -> float:
    """``share`` as a float where it is a valid thin-vessel share (0–1, :class:`PatchSampler`), else a
    :class:`NetZeroAICTError`."""
    if not 0.0 <= float(share) <= 1.0:
        raise NetZeroAICTError(f"thin-vessel share {float(share):g} is outside 0–1",
                               where="training settings: thin-vessel share", hint=hint)
    return float(share)


class PatchSampler:
    """Random patches (z, y, x) from training cases: a fraction centred on a random lumen voxel, a fraction on
    blood-like tissue away from the vessels (muscle, bowel, veins: what the network must learn to leave alone),
    the rest anywhere.

    Once :meth:`set_hard_negatives` has given a case the voxels where the network currently synthesises false
    contrast, ``hard_fraction`` of that case's negative patches are centred on them instead (hard-negative
    mining: an unopacified vein beside its artery, a fat plane that looks like a vessel sheath, are a tiny
    part of the blood-like tissue and would otherwise seldom be drawn).

    ``thin_vessel_share`` of the lumen-centred patches draw their centre per unit of vessel length
    (:func:`length_weights`) instead of per lumen voxel: per unit of length a carotid three voxels in radius
    holds about nine times the voxels of an intracranial artery one voxel in radius, so drawn voxel by voxel
    the thinnest arteries (in a neck & brain phantom a sixth of the lumen's voxels, half of its length) are
    seldom the centre.

    ``coarse_fraction`` of the patches are shown as a thicker-sliced scan would show them (:func:`coarsen`,
    NCCT and target alike, slices of :data:`COARSE_SLICE_MM` at the model spacing ``spacing_mm``, in-plane
    factors :data:`COARSE_XY_FACTORS`): routine
    non-contrast CT often has 3–5 mm slices, and a network that has only seen sharp 1.5 mm phantoms takes the
    smooth look of an interpolated thick-slice scan for blood and enhances it.

    ``organ_fraction`` of the patches are centred on a voxel of a density-variable organ
    (:data:`DENSITY_VARIABLE_ORGANS`) and show that organ at a density drawn from :data:`ORGAN_SHOWN_HU`: its
    NCCT is shifted by the difference from the case's organ HU (edges softened as partial volume softens them),
    its texture and noise kept, its target enhancement unchanged (an organ's arterial-phase enhancement does not
    depend on its fat content). The phantoms draw a fatty liver in 30 % of the cases, so a ten-case training set
    may hold two, and their interiors are otherwise seldom in a patch: the enhancing organs are not negatives."""

    def __init__(self, cases: list[TrainingCase], patch_size, vessel_fraction: float = 0.6, seed: int = 0,
                 normalise: bool = False, blood_like_fraction: float = 0.2, hard_fraction: float = 0.75,
                 coarse_fraction: float = 0.0, spacing_mm: float = 1.5, flip_axes=(0, 1, 2),
                 organ_fraction: float = 0.0, thin_vessel_share: float = 0.0):
        check_thin_vessel_share(thin_vessel_share)
        self.patch = tuple(int(p) for p in patch_size)
        self.flip_axes = tuple(int(a) for a in flip_axes)
        self.normalise = normalise
        self.cases = [TrainingCase(c.name, _pad_to(c.ncct_hu, self.patch, PAD_HU),
                                   _pad_to(c.enhancement_hu, self.patch, 0.0), _pad_to(c.lumen, self.patch, 0),
                                   _pad_to(c.weight, self.patch, 1.0), c.lumen_enhancement_hu,
                                   None if c.organ is None else _pad_to(c.organ, self.patch, 0), c.organ_hu)
                      for c in cases]
        self.lumen_points = [np.argwhere(c.lumen > 0) for c in self.cases]
        self.thin_vessel_share = thin_vessel_share
        self.length_cdf = ([length_weights(p, local_radius(c.lumen)) for p, c in zip(self.lumen_points, self.cases)]
                           if thin_vessel_share else [])
        self.rng = np.random.default_rng(seed)
        self.blood_like_points = []
        for c in self.cases:
            self.blood_like_points.append(self._subsample(np.argwhere(blood_like_tissue(c))))
        self.hard_points = [np.zeros((0, 3), dtype=np.int64) for _ in self.cases]
        self.organ_points = [np.zeros((0, 3), dtype=np.int64) if c.organ is None or not organ_fraction
                             else self._subsample(np.argwhere(c.organ > 0)) for c in self.cases]
        self.organ_fraction = organ_fraction
        self.vessel_fraction = vessel_fraction
        self.blood_like_fraction = blood_like_fraction
        self.hard_fraction = hard_fraction
        self.coarse_fraction = coarse_fraction
        self.coarse_z = coarse_z_factors(spacing_mm)
        #: The block factors (z, y, x) each patch of the last :meth:`sample` was coarsened by, (B, 3) integers
        #: (1, 1, 1 for a sharp patch): what a network with scan-resolution channels is told.
        self.last_factors_zyx = np.ones((0, 3), dtype=np.int64)

    def _subsample(self, points: np.ndarray) -> np.ndarray:
        if len(points) > MAX_NEGATIVE_POINTS:
            points = points[self.rng.choice(len(points), MAX_NEGATIVE_POINTS, replace=False)]
        return points

    def set_hard_negatives(self, index: int, points: np.ndarray) -> None:
        """Voxel indices (n, 3; z, y, x) of case ``index`` where synthesised contrast is false; replaces the
        earlier set (an empty array turns mining off for that case)."""
        points = np.asarray(points, dtype=np.int64).reshape(-1, 3)
        self.hard_points[index] = self._subsample(points)

    def sample(self, batch_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ncct_hu, enhancement, weight), each float32 (B, 1, *patch), each randomly flipped along the
        ``flip_axes`` (0=z, 1=y, 2=x; none: the network learns the anatomy's sides).

        The enhancement is in HU, or with ``normalise`` in units of each case's lumen enhancement."""
        out = [np.empty((batch_size, 1) + self.patch, dtype=np.float32) for _ in range(3)]
        self.last_factors_zyx = np.ones((batch_size, 3), dtype=np.int64)
        for b in range(batch_size):
            index = int(self.rng.integers(len(self.cases)))
            case, points = self.cases[index], self.lumen_points[index]
            shape = np.array(case.ncct_hu.shape)
            half = np.array(self.patch) // 2
            draw = self.rng.random()
            organ_patch = False
            negatives = self.blood_like_points[index]
            if len(self.hard_points[index]) and self.rng.random() < self.hard_fraction:
                negatives = self.hard_points[index]
            if len(points) and draw < self.vessel_fraction:
                if self.thin_vessel_share and self.rng.random() < self.thin_vessel_share:
                    cdf = self.length_cdf[index]
                    pick = min(int(np.searchsorted(cdf, self.rng.random() * cdf[-1], side="right")), len(cdf) - 1)
                else:
                    pick = int(self.rng.integers(len(points)))
                centre = points[pick] + self.rng.integers(-8, 9, size=3)
                start = np.clip(centre - half, 0, shape - self.patch)
            elif len(negatives) and draw < self.vessel_fraction + self.blood_like_fraction:
                centre = negatives[int(self.rng.integers(len(negatives)))]
                start = np.clip(centre - half, 0, shape - self.patch)
            elif (len(organ := self.organ_points[index])
                  and draw < self.vessel_fraction + self.blood_like_fraction + self.organ_fraction):
                centre = organ[int(self.rng.integers(len(organ)))]
                start = np.clip(centre - half, 0, shape - self.patch)
                organ_patch = True
            else:
                start = np.array([int(self.rng.integers(0, n - p + 1)) for n, p in zip(shape, self.patch)])
            box = tuple(slice(int(s), int(s) + p) for s, p in zip(start, self.patch))
            flips = tuple(a for a in self.flip_axes if self.rng.random() < 0.5)
            for arr, src in zip(out, (case.ncct_hu, case.enhancement_hu, case.weight)):
                patch = src[box]
                arr[b, 0] = np.flip(patch, flips) if flips else patch
            if organ_patch:
                shift = self.rng.uniform(*ORGAN_SHOWN_HU) - case.organ_hu
                soft = ndimage.gaussian_filter(case.organ[box].astype(np.float32), 0.7)
                out[0][b, 0] += shift * (np.flip(soft, flips) if flips else soft)
            if self.coarse_fraction and self.rng.random() < self.coarse_fraction:
                xy = int(self.rng.choice(COARSE_XY_FACTORS))
                factors = (int(self.rng.choice(self.coarse_z)), xy, xy)
                self.last_factors_zyx[b] = factors
                for arr in out[:2]:   # NCCT and enhancement; the loss weights stay those of the sharp lumen
                    arr[b, 0] = coarsen(arr[b, 0], factors)
            if self.normalise:
                out[1][b] /= case.lumen_enhancement_hu
        return tuple(out)
