"""Volume ↔ vtkMRMLScalarVolumeNode, keeping voxels and geometry exact.

MRML stores IJK→RAS; :class:`~NetZeroAICT.volume.Volume` stores LPS. The conversion is
:func:`NetZeroAICT.geometry.lps_to_ras` / ``ras_to_lps`` and nowhere else.
"""

from __future__ import annotations

import numpy as np
import slicer
import vtk
from vtk.util import numpy_support

from ..geometry import decompose_ijk_to_world, lps_to_ras, ras_to_lps
from ..volume import Volume


def _vtk_matrix(array: np.ndarray) -> vtk.vtkMatrix4x4:
    matrix = vtk.vtkMatrix4x4()
    for r in range(4):
        for c in range(4):
            matrix.SetElement(r, c, float(array[r, c]))
    return matrix


def _numpy_matrix(matrix: vtk.vtkMatrix4x4) -> np.ndarray:
    return np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)])


def volume_to_node(volume: Volume, scene=None, name: str = "Volume", node=None):
    """Put ``volume`` into a scalar (or, for integer voxels, label map) volume node and return the node.

    Args:
        scene: the MRML scene to add a new node to (default ``slicer.mrmlScene``).
        name: node name for a new node (ignored when ``node`` is given).
        node: an existing volume node to fill instead of creating one.
    """
    scene = scene or slicer.mrmlScene
    if node is None:
        node_class = "vtkMRMLLabelMapVolumeNode" if volume.is_label else "vtkMRMLScalarVolumeNode"
        node = scene.AddNewNodeByClass(node_class, name)
    voxels = np.ascontiguousarray(volume.voxels)
    image = vtk.vtkImageData()
    image.SetDimensions(*volume.shape_ijk)  # vtk x, y, z = i, j, k; numpy's C order is k, j, i
    scalars = numpy_support.numpy_to_vtk(voxels.ravel(), deep=True)
    image.GetPointData().SetScalars(scalars)
    node.SetAndObserveImageData(image)
    node.SetIJKToRASMatrix(_vtk_matrix(lps_to_ras(volume.ijk_to_lps())))
    if node.GetDisplayNode() is None and scene is not None:
        node.CreateDefaultDisplayNodes()
    node.Modified()
    return node


def node_to_volume(node) -> Volume:
    """Copy a volume node's voxels and geometry into a :class:`Volume` (float32 HU unless a label map)."""
    image = node.GetImageData()
    if image is None:
        raise ValueError(f"volume node {node.GetName()!r} holds no image data")
    dims = image.GetDimensions()
    voxels = numpy_support.vtk_to_numpy(image.GetPointData().GetScalars()).reshape(dims[::-1]).copy()
    matrix = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(matrix)
    spacing, origin, direction = decompose_ijk_to_world(ras_to_lps(_numpy_matrix(matrix)))
    label = node.IsA("vtkMRMLLabelMapVolumeNode")
    if not label:
        voxels = voxels.astype(np.float32, copy=False)
    return Volume(voxels, spacing, origin, direction, metadata={"source": f"MRML node {node.GetName()}"})


def new_headless_scene():
    """A fresh MRML scene with application and colour logic, set as ``slicer.mrmlScene`` (headless use)."""
    scene = slicer.vtkMRMLScene()
    slicer.mrmlScene = scene
    app_logic = slicer.vtkSlicerApplicationLogic()
    app_logic.SetMRMLScene(scene)
    colors = slicer.vtkMRMLColorLogic()
    colors.SetMRMLScene(scene)
    colors.SetMRMLApplicationLogic(app_logic)
    app_logic.SetModuleLogic("Colors", colors)
    scene._netzeroaict_logics = (app_logic, colors)  # keep the logics alive as long as the scene
    return scene
