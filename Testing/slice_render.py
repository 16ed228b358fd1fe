"""Render what Slicer's slice views would show, headless (slicer-core): one RGBA image per view."""

from __future__ import annotations

import numpy as np
import slicer
from vtk.util import numpy_support

from NetZeroAICT.mrml.synthetic import view_node


def slice_logics(scene, names, size=(360, 360)):
    """A vtkMRMLSliceLogic for each slice view name, sized like a view of ``size`` pixels (w, h)."""
    app_logic = scene._netzeroaict_logics[0]
    logics = {}
    for name in names:
        node = view_node(scene, "vtkMRMLSliceNode", name)
        if node is None:
            node = scene.AddNode(slicer.vtkMRMLSliceNode())
            node.SetLayoutName(name)
            node.SetOrientation("Axial")
        node.SetDimensions(size[0], size[1], 1)
        logic = slicer.vtkMRMLSliceLogic()
        logic.SetMRMLScene(scene)
        logic.SetMRMLApplicationLogic(app_logic)
        logic.SetSliceNode(node)
        logics[name] = logic
    return logics


def render(logic, fit=True) -> np.ndarray:
    """The (h, w, 4) uint8 RGBA image the view shows (row 0 = top)."""
    if fit:
        node = logic.GetSliceNode()
        w, h, _ = node.GetDimensions()
        logic.FitSliceToAll(w, h)
    producer = logic.GetImageDataConnection().GetProducer()
    producer.Update()
    image = producer.GetOutputDataObject(0)
    w, h, _ = image.GetDimensions()
    array = numpy_support.vtk_to_numpy(image.GetPointData().GetScalars()).reshape(h, w, -1)
    array = np.ascontiguousarray(array[::-1])
    if array.shape[2] == 4:  # the view draws on black: where nothing is shown (alpha 0) it is black
        alpha = array[..., 3:4].astype(np.float32) / 255.0
        array = np.dstack([(array[..., :3] * alpha).astype(np.uint8), np.full(array.shape[:2], 255, np.uint8)])
    return array


def save_side_by_side(images, path, gap=6):
    """Write images next to each other (like the comparison layout) as one PNG."""
    from PIL import Image

    h = max(i.shape[0] for i in images)
    canvas = np.zeros((h, sum(i.shape[1] for i in images) + gap * (len(images) - 1), 4), np.uint8)
    canvas[..., 3] = 255
    x = 0
    for image in images:
        canvas[:image.shape[0], x:x + image.shape[1], :3] = image[..., :3]  # opaque, as the view draws it
        x += image.shape[1] + gap
    Image.fromarray(canvas).save(path)
    return path
