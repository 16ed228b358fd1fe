"""What the module shows after a run: the comparison layout, CTA window, uncertainty overlay and legend
range, volume rendering, and the SYNTHETIC annotation on every view that shows a synthetic image.

:func:`show_results` and :func:`overlay_range_hu` are MRML only (tested on slicer-core);
:func:`annotate_views` needs the application's layout manager (its views' corner annotations).
"""

from __future__ import annotations

import numpy as np

from NetZeroAICT.mrml import synthetic
from NetZeroAICT.mrml.volumes import node_to_volume

#: vtkCornerAnnotation position used for the SYNTHETIC mark: the top edge (Slicer's DataProbe uses corners 0–3).
UPPER_EDGE = 7


def overlay_range_hu(uncertainty_node) -> tuple[float, float]:
    """(low, high) HU of the uncertainty overlay: high = 99.5th percentile of the positive uncertainties
    (at least 1 HU), low = a quarter of it — below that the overlay is not drawn."""
    voxels = node_to_volume(uncertainty_node).voxels
    positive = voxels[voxels > 0]
    high = float(np.percentile(positive, 99.5)) if positive.size else 1.0
    high = max(round(high, 1), 1.0)
    return round(high / 4.0, 1), high


def show_results(scene, input_node, cta_node, uncertainty_node, indication: str, layout_node=None,
                 vr_logic=None) -> dict:
    """Lay out NCCT | synthetic (linked), window both as a CTA, overlay the uncertainty, volume-render the
    synthetic CTA. Returns what the legend and the status line need: ``overlay_range_hu``,
    ``colour_stops``, ``volume_rendering_preset``."""
    shown = {"overlay_range_hu": None, "colour_stops": None, "volume_rendering_preset": None}
    synthetic.apply_cta_window(cta_node, indication)
    synthetic.apply_cta_window(input_node, indication)  # same window on both sides: enhancement is comparable
    if uncertainty_node is not None:
        low, high = overlay_range_hu(uncertainty_node)
        color = synthetic.show_uncertainty_overlay(uncertainty_node, low, high)
        shown["overlay_range_hu"] = (low, high)
        shown["colour_stops"] = synthetic.colour_stops(color)
    if layout_node is not None:
        synthetic.select_comparison_layout(layout_node)
    synthetic.show_in_comparison_views(scene, input_node, cta_node, uncertainty_node)
    if vr_logic is not None:
        shown["volume_rendering_preset"] = synthetic.show_volume_rendering(vr_logic, cta_node, indication) or ""
    return shown


def annotate_views(layout_manager, scene) -> list[str]:
    """Write :data:`~NetZeroAICT.mrml.synthetic.SYNTHETIC_TEXT` at the top of every slice view that shows a
    synthetic volume and of the 3D views when a synthetic volume is volume-rendered; clear it elsewhere.
    Returns the names of the annotated views."""
    showing = set(synthetic.views_showing_synthetic(scene))
    annotated = []
    for name in layout_manager.sliceViewNames():
        view = layout_manager.sliceWidget(name).sliceView()
        text = synthetic.SYNTHETIC_TEXT if name in showing else ""
        view.cornerAnnotation().SetText(UPPER_EDGE, text)
        view.cornerAnnotation().GetTextProperty().SetColor(1.0, 0.25, 0.25)
        view.scheduleRender()
        if text:
            annotated.append(name)
    rendered = _synthetic_volume_rendered(scene)
    for index in range(layout_manager.threeDViewCount):
        view = layout_manager.threeDWidget(index).threeDView()
        view.cornerAnnotation().SetText(UPPER_EDGE, synthetic.SYNTHETIC_TEXT if rendered else "")
        view.cornerAnnotation().GetTextProperty().SetColor(1.0, 0.25, 0.25)
        view.scheduleRender()
        if rendered:
            annotated.append(f"3D {index}")
    return annotated


def _synthetic_volume_rendered(scene) -> bool:
    for index in range(scene.GetNumberOfNodesByClass("vtkMRMLVolumeRenderingDisplayNode")):
        display = scene.GetNthNodeByClass(index, "vtkMRMLVolumeRenderingDisplayNode")
        if display.GetVisibility() and synthetic.is_synthetic(display.GetDisplayableNode()):
            return True
    return False
