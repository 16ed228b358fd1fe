"""Patient coordinate systems: the one place where LPS and RAS meet.

ITK, SimpleITK, NIfTI/NRRD readers and DICOM work in LPS (x to the patient's Left, y to Posterior,
z to Superior); Slicer's MRML works in RAS. The two differ by the sign of x and y. Every conversion in
this project goes through :func:`lps_to_ras` / :func:`ras_to_lps` so that it happens in exactly one place.
"""

from __future__ import annotations

import numpy as np

#: Homogeneous 4×4 flip between LPS and RAS (its own inverse).
LPS_RAS_FLIP = np.diag([-1.0, -1.0, 1.0, 1.0])


def lps_to_ras(matrix_lps: np.ndarray) -> np.ndarray:
    """Convert a 4×4 IJK→LPS (or any →LPS) homogeneous matrix to →RAS."""
    matrix_lps = np.asarray(matrix_lps, dtype=np.float64)
    if matrix_lps.shape != (4, 4):
        raise ValueError(f"expected a 4×4 homogeneous matrix, got shape {matrix_lps.shape}")
    return LPS_RAS_FLIP @ matrix_lps


def ras_to_lps(matrix_ras: np.ndarray) -> np.ndarray:
    """Convert a 4×4 IJK→RAS (or any →RAS) homogeneous matrix to →LPS."""
    return lps_to_ras(matrix_ras)  # the flip is its own inverse


def ijk_to_world(spacing_mm, origin, direction) -> np.ndarray:
    """4×4 matrix taking voxel indices (i, j, k, 1) to world millimetres in the frame of ``origin``.

    ``direction`` is 3×3 with one column per voxel axis (i, j, k), as SimpleITK stores it row-major.
    """
    direction = np.asarray(direction, dtype=np.float64).reshape(3, 3)
    matrix = np.eye(4)
    matrix[:3, :3] = direction * np.asarray(spacing_mm, dtype=np.float64)[None, :]
    matrix[:3, 3] = np.asarray(origin, dtype=np.float64)
    return matrix


def decompose_ijk_to_world(matrix: np.ndarray) -> tuple[tuple[float, float, float], tuple[float, float, float], np.ndarray]:
    """Split a 4×4 IJK→world matrix into (spacing_mm, origin, direction 3×3 with unit columns)."""
    matrix = np.asarray(matrix, dtype=np.float64)
    columns = matrix[:3, :3]
    spacing = np.linalg.norm(columns, axis=0)
    if np.any(spacing <= 0):
        raise ValueError("degenerate IJK-to-world matrix: an axis has zero length")
    direction = columns / spacing[None, :]
    return tuple(float(s) for s in spacing), tuple(float(o) for o in matrix[:3, 3]), direction
