"""The one volume type of the core: voxels plus exact patient geometry (LPS)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import SimpleITK as sitk

from .errors import VolumeError
from .geometry import ijk_to_world


@dataclass
class Volume:
    """A 3D image in patient space.

    Attributes:
        voxels: array of shape (k, j, i) = (slices, rows, columns), as SimpleITK's ``GetArrayFromImage``
            gives it; float32 HU for images, an integer type for label maps.
        spacing_mm: voxel size along (i, j, k) in millimetres.
        origin_lps: LPS position in millimetres of the centre of voxel (0, 0, 0).
        direction_lps: 3×3 array whose columns are the unit LPS directions of the i, j and k axes.
        metadata: free-form facts about the volume (source path, DICOM tags, description, synthetic marker).
    """

    voxels: np.ndarray
    spacing_mm: tuple[float, float, float]
    origin_lps: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction_lps: np.ndarray = field(default_factory=lambda: np.eye(3))
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        self.voxels = np.asarray(self.voxels)
        if self.voxels.ndim != 3:
            raise VolumeError(f"a volume needs 3 dimensions, got an array of shape {self.voxels.shape}",
                              where=self.metadata.get("source", "volume"),
                              hint="pass a 3D image (a 2D slice or a 4D series is not a volume)")
        self.spacing_mm = tuple(float(s) for s in self.spacing_mm)
        self.origin_lps = tuple(float(o) for o in self.origin_lps)
        self.direction_lps = np.asarray(self.direction_lps, dtype=np.float64).reshape(3, 3)
        if len(self.spacing_mm) != 3 or min(self.spacing_mm) <= 0:
            raise VolumeError(f"spacing must be three positive numbers, got {self.spacing_mm}",
                              where=self.metadata.get("source", "volume"))

    # -- geometry -----------------------------------------------------------------------------------
    @property
    def shape_ijk(self) -> tuple[int, int, int]:
        """Number of voxels along (i, j, k)."""
        k, j, i = self.voxels.shape
        return (i, j, k)

    @property
    def is_label(self) -> bool:
        return np.issubdtype(self.voxels.dtype, np.integer) or self.voxels.dtype == bool

    def ijk_to_lps(self) -> np.ndarray:
        """4×4 homogeneous matrix from voxel indices (i, j, k) to LPS millimetres."""
        return ijk_to_world(self.spacing_mm, self.origin_lps, self.direction_lps)

    def corner_points_lps(self) -> np.ndarray:
        """LPS positions (8×3) of the centres of the eight corner voxels."""
        ni, nj, nk = self.shape_ijk
        corners = np.array([[i, j, k, 1.0] for i in (0, ni - 1) for j in (0, nj - 1) for k in (0, nk - 1)])
        return (self.ijk_to_lps() @ corners.T).T[:, :3]

    def same_grid(self, other: "Volume", tol_mm: float = 1e-4) -> bool:
        """True when both volumes sample the same points in space."""
        return (self.voxels.shape == other.voxels.shape
                and np.allclose(self.corner_points_lps(), other.corner_points_lps(), atol=tol_mm))

    def with_voxels(self, voxels: np.ndarray, **metadata) -> "Volume":
        """A new volume on the same grid with other voxels (metadata copied and updated)."""
        voxels = np.asarray(voxels)
        if voxels.shape != self.voxels.shape:
            raise VolumeError(f"voxel array shape {voxels.shape} differs from the grid {self.voxels.shape}")
        return replace(self, voxels=voxels, direction_lps=self.direction_lps.copy(),
                       metadata={**self.metadata, **metadata})

    # -- SimpleITK ----------------------------------------------------------------------------------
    def to_sitk(self) -> sitk.Image:
        image = sitk.GetImageFromArray(np.ascontiguousarray(self.voxels))
        image.SetSpacing(self.spacing_mm)
        image.SetOrigin(self.origin_lps)
        image.SetDirection(tuple(self.direction_lps.ravel()))
        return image

    @classmethod
    def from_sitk(cls, image: sitk.Image, metadata: dict | None = None, label: bool = False) -> "Volume":
        """Wrap a 3D SimpleITK image; images become float32 HU, label maps keep their integer type."""
        if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() != 1:
            raise VolumeError(
                f"a volume needs one 3D scalar image, got {image.GetDimension()}D with "
                f"{image.GetNumberOfComponentsPerPixel()} component(s)",
                where=(metadata or {}).get("source", "image"))
        voxels = sitk.GetArrayFromImage(image)
        if not label:
            voxels = voxels.astype(np.float32, copy=False)
        return cls(voxels=voxels, spacing_mm=image.GetSpacing(), origin_lps=image.GetOrigin(),
                   direction_lps=np.array(image.GetDirection()).reshape(3, 3), metadata=dict(metadata or {}))
