"""Registration of a real NCCT/CTA pair (SimpleITK): rigid, then deformable (B-spline), by mutual information.

The CTA (moving) is brought onto the NCCT's grid (fixed), so that a pair scanned minutes apart can train or
test the synthesis: ``register(fixed, moving)`` returns the resampled CTA and the transform (fixed-space
points → moving-space points: ``T = rigid ∘ bspline``). Mutual information copes with the contrast the two
images differ by; the intensities are clipped to [−1000, 1000] HU first so that dense contrast and metal
do not dominate the histogram.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from ..errors import NetZeroAICTError
from ..volume import Volume


@dataclass
class Registration:
    """Result: ``moved`` (the moving volume on the fixed grid), ``transform`` (fixed → moving points),
    final metric values of each stage."""

    moved: Volume
    transform: sitk.Transform
    rigid_metric: float
    deformable_metric: float | None


def _prepare(volume: Volume) -> sitk.Image:
    image = sitk.Cast(volume.to_sitk(), sitk.sitkFloat32)
    return sitk.Clamp(image, sitk.sitkFloat32, -1000.0, 1000.0)


def _method(seed: int, levels, sampling: float = 0.05) -> sitk.ImageRegistrationMethod:
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=48)
    method.SetMetricSamplingStrategy(method.RANDOM)
    method.SetMetricSamplingPercentage(sampling, seed)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetShrinkFactorsPerLevel(list(levels))
    method.SetSmoothingSigmasPerLevel([max(f - 1, 0) for f in levels])
    method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOff()
    return method


def rigid(fixed: sitk.Image, moving: sitk.Image, seed: int = 0, iterations: int = 80):
    """Euler (6 parameters) transform fixed → moving, initialised at the images' centres of mass."""
    initial = sitk.CenteredTransformInitializer(fixed, moving, sitk.Euler3DTransform(),
                                                sitk.CenteredTransformInitializerFilter.MOMENTS)
    method = _method(seed, (4, 2, 1))
    method.SetOptimizerAsRegularStepGradientDescent(learningRate=2.0, minStep=1e-4, numberOfIterations=iterations,
                                                    gradientMagnitudeTolerance=1e-8)
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetInitialTransform(initial, inPlace=False)
    transform = method.Execute(fixed, moving)
    return transform, method.GetMetricValue()


def deformable(fixed: sitk.Image, moving: sitk.Image, initial: sitk.Transform, grid_spacing_mm: float = 50.0,
               seed: int = 0, iterations: int = 30, sampling: float = 0.02):
    """B-spline transform (control points every ``grid_spacing_mm``) refining ``initial``."""
    size_mm = [n * s for n, s in zip(fixed.GetSize(), fixed.GetSpacing())]
    mesh = [max(1, int(round(extent / grid_spacing_mm))) for extent in size_mm]
    bspline = sitk.BSplineTransformInitializer(fixed, mesh, order=3)
    method = _method(seed, (2, 1), sampling)
    method.SetOptimizerAsLBFGSB(gradientConvergenceTolerance=1e-5, numberOfIterations=iterations,
                                maximumNumberOfCorrections=5, maximumNumberOfFunctionEvaluations=100,
                                costFunctionConvergenceFactor=1e7)
    method.SetMovingInitialTransform(initial)
    method.SetInitialTransform(bspline, inPlace=True)
    method.Execute(fixed, moving)
    return bspline, method.GetMetricValue()


def register(fixed: Volume, moving: Volume, deformable_stage: bool = True, grid_spacing_mm: float = 50.0,
             seed: int = 0) -> Registration:
    """Register ``moving`` (e.g. the CTA) onto ``fixed`` (the NCCT); rigid, then B-spline unless disabled."""
    for volume, name in ((fixed, "fixed"), (moving, "moving")):
        if min(volume.shape_ijk) < 8:
            raise NetZeroAICTError(f"the {name} volume is too small to register ({volume.shape_ijk} voxels)",
                                   where=str(volume.metadata.get("source", name)), hint="give 3D volumes of at least 8 voxels a side")
    f, m = _prepare(fixed), _prepare(moving)
    try:
        rigid_tf, rigid_value = rigid(f, m, seed)
        transform: sitk.Transform = rigid_tf
        deformable_value = None
        if deformable_stage:
            bspline, deformable_value = deformable(f, m, rigid_tf, grid_spacing_mm, seed)
            transform = sitk.CompositeTransform([rigid_tf, bspline])
    except RuntimeError as error:
        raise NetZeroAICTError(f"registration failed: {str(error).strip().splitlines()[-1]}",
                               hint="check that both volumes show the same body region") from None
    moved = sitk.Resample(sitk.Cast(moving.to_sitk(), sitk.sitkFloat32), fixed.to_sitk(), transform,
                          sitk.sitkLinear, -1024.0, sitk.sitkFloat32)
    voxels = sitk.GetArrayFromImage(moved).astype(np.float32)
    out = fixed.with_voxels(voxels, **{k: v for k, v in moving.metadata.items() if k != "source"},
                            registered_to=str(fixed.metadata.get("source", "fixed")))
    return Registration(out, transform, rigid_value, deformable_value)


def displacement_error_mm(estimated: sitk.Transform, applied: sitk.Transform, points_lps: np.ndarray) -> np.ndarray:
    """|applied(estimated(x)) − x| (mm) at each point, for a moving image made as
    ``Resample(fixed, applied)`` (moving(y) = fixed(applied(y))): how far the estimate is from undoing it."""
    return np.array([np.linalg.norm(np.subtract(applied.TransformPoint(estimated.TransformPoint(tuple(map(float, p)))), p))
                     for p in points_lps])
