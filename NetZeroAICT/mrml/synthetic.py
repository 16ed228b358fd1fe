"""How a synthetic CT angiogram is marked and shown in MRML.

* naming and node attributes (the node says it is synthetic, which model made it, the run record);
* the CTA window/level of the indication;
* the uncertainty map as a thresholded colour overlay, and the colour stops a legend needs;
* the comparison layout: NCCT | synthetic CTA side by side, linked, with a 3D view;
* volume rendering with a CT angiography preset (where Slicer's presets are loaded);
* which views show a synthetic image (so the module can put the SYNTHETIC annotation on exactly those).

Runs on Slicer's MRML (the application or slicer-core); no Qt.
"""

from __future__ import annotations

import json


from ..indications import get_indication

SYNTHETIC_TEXT = "SYNTHETIC — digital contrast"
#: Node attribute keys (``node.GetAttribute(key)``).
ATTRIBUTE_SYNTHETIC = "NetZeroAICT.Synthetic"
ATTRIBUTE_ROLE = "NetZeroAICT.Role"
ATTRIBUTE_INDICATION = "NetZeroAICT.Indication"
ATTRIBUTE_MODEL_ID = "NetZeroAICT.ModelId"
ATTRIBUTE_MODEL_VERSION = "NetZeroAICT.ModelVersion"
ATTRIBUTE_DESCRIPTION = "NetZeroAICT.Description"
ATTRIBUTE_RUN_RECORD = "NetZeroAICT.RunRecord"
SOURCE_REFERENCE_ROLE = "NetZeroAICTSource"
#: Colour map of the uncertainty overlay: red (least) to yellow (most), never black, so the overlay
#: does not darken the anatomy; a procedural map present in every Slicer scene.
UNCERTAINTY_COLOR_NODE_NAME = "Iron"
#: Volume rendering preset per indication (names from Slicer's VolumeRendering presets).
VOLUME_RENDERING_PRESETS = {
    "aorta": "CT-AAA",
    "limb": "CT-AAA",
    "neck_brain": "CT-AAA2",
    "pulmonary": "CT-Pulmonary-Arteries",
    "coronary": "CT-Coronary-Arteries-3",
}
#: Our comparison layout: NCCT (Red) | synthetic CTA (Yellow) | 3D. An id outside Slicer's built-in range.
COMPARISON_LAYOUT_ID = 7301
COMPARISON_LAYOUT = """
<layout type="horizontal" split="true">
 <item><view class="vtkMRMLSliceNode" singletontag="Red">
  <property name="orientation" action="default">Axial</property>
  <property name="viewlabel" action="default">R</property>
  <property name="viewcolor" action="default">#F34A33</property>
 </view></item>
 <item><view class="vtkMRMLSliceNode" singletontag="Yellow">
  <property name="orientation" action="default">Axial</property>
  <property name="viewlabel" action="default">Y</property>
  <property name="viewcolor" action="default">#EDD54C</property>
 </view></item>
 <item><view class="vtkMRMLViewNode" singletontag="1">
  <property name="viewlabel" action="default">1</property>
 </view></item>
</layout>
"""
NCCT_VIEW, SYNTHETIC_VIEW = "Red", "Yellow"


# -- naming and attributes ----------------------------------------------------------------------------
def synthetic_node_name(input_name: str, indication: str) -> str:
    """``<input> – digital contrast (<indication>) SYNTHETIC``."""
    return f"{input_name} – digital contrast ({indication}) SYNTHETIC"


def uncertainty_node_name(input_name: str, indication: str) -> str:
    """``<input> – uncertainty (<indication>) SYNTHETIC``."""
    return f"{input_name} – uncertainty ({indication}) SYNTHETIC"


def mark_synthetic(node, indication: str, record: dict, role: str = "cta", source_node=None) -> None:
    """Put the synthetic marker, the model and the run record on ``node`` as attributes.

    Args:
        role: ``cta`` (the synthetic angiogram) or ``uncertainty`` (its uncertainty map).
        source_node: the NCCT it was computed from (kept as a node reference).
    """
    model = record.get("model", {}) if isinstance(record, dict) else {}
    node.SetAttribute(ATTRIBUTE_SYNTHETIC, "true")
    node.SetAttribute(ATTRIBUTE_ROLE, role)
    node.SetAttribute(ATTRIBUTE_INDICATION, indication)
    node.SetAttribute(ATTRIBUTE_MODEL_ID, str(model.get("id", "")))
    node.SetAttribute(ATTRIBUTE_MODEL_VERSION, str(model.get("version", "")))
    node.SetAttribute(ATTRIBUTE_DESCRIPTION, str(record.get("description", SYNTHETIC_TEXT)))
    node.SetAttribute(ATTRIBUTE_RUN_RECORD, json.dumps(record, sort_keys=True))
    if source_node is not None:
        node.SetNodeReferenceID(SOURCE_REFERENCE_ROLE, source_node.GetID())


def is_synthetic(node) -> bool:
    return node is not None and node.GetAttribute(ATTRIBUTE_SYNTHETIC) == "true"


def run_record(node) -> dict | None:
    """The run record stored on a synthetic node, or None."""
    text = node.GetAttribute(ATTRIBUTE_RUN_RECORD) if node is not None else None
    return json.loads(text) if text else None


# -- display ------------------------------------------------------------------------------------------
def apply_cta_window(node, indication: str) -> tuple[float, float]:
    """Set the indication's angiography window (width, level in HU) on ``node``; returns it."""
    width, level = get_indication(indication).window_hu
    if node.GetDisplayNode() is None:
        node.CreateDefaultDisplayNodes()
    display = node.GetDisplayNode()
    display.SetAutoWindowLevel(0)
    display.SetWindowLevel(width, level)
    return width, level


def color_node_by_name(scene, name: str):
    """The colour node called ``name`` in ``scene`` (or None)."""
    for index in range(scene.GetNumberOfNodesByClass("vtkMRMLColorNode")):
        node = scene.GetNthNodeByClass(index, "vtkMRMLColorNode")
        if node.GetName() == name:
            return node
    return None


def show_uncertainty_overlay(node, low_hu: float, high_hu: float, color_name: str = UNCERTAINTY_COLOR_NODE_NAME):
    """Colour the uncertainty map ``node`` from ``low_hu`` (transparent below) to ``high_hu`` (hottest).

    Voxels below ``low_hu`` are not drawn (threshold), so the overlay only covers where the model was unsure.
    Returns the colour node used.
    """
    scene = node.GetScene()
    if node.GetDisplayNode() is None:
        node.CreateDefaultDisplayNodes()
    display = node.GetDisplayNode()
    color = color_node_by_name(scene, color_name)
    if color is None:
        raise LookupError(f"colour map {color_name!r} is not in the scene")
    display.SetAndObserveColorNodeID(color.GetID())
    display.SetAutoWindowLevel(0)
    display.SetWindowLevelMinMax(low_hu, high_hu)
    display.SetApplyThreshold(1)
    display.SetThreshold(low_hu, max(high_hu, low_hu) * 1000.0 + 1.0)
    return color


def colour_stops(color_node, count: int = 9) -> list[tuple[float, tuple[float, float, float]]]:
    """``count`` evenly spaced (position 0–1, (r, g, b) 0–1) samples of a colour map, for a legend."""
    table = color_node.GetScalarsToColors()
    low, high = table.GetRange()
    stops = []
    for index in range(count):
        position = index / (count - 1)
        rgb = [0.0, 0.0, 0.0]
        table.GetColor(low + position * (high - low), rgb)
        stops.append((position, tuple(float(c) for c in rgb)))
    return stops


def view_node(scene, class_name: str, layout_name: str):
    """The ``vtkMRMLSliceNode`` / ``vtkMRMLSliceCompositeNode`` of the view called ``layout_name`` (or None)."""
    for index in range(scene.GetNumberOfNodesByClass(class_name)):
        node = scene.GetNthNodeByClass(index, class_name)
        if node.GetLayoutName() == layout_name:
            return node
    return None


def select_comparison_layout(layout_node) -> None:
    """Register :data:`COMPARISON_LAYOUT` (NCCT | synthetic | 3D) on the layout node and switch to it.

    In Slicer the layout manager then creates the views (and their slice logics and composite nodes).
    """
    if not layout_node.IsLayoutDescription(COMPARISON_LAYOUT_ID):
        layout_node.AddLayoutDescription(COMPARISON_LAYOUT_ID, COMPARISON_LAYOUT)
    layout_node.SetViewArrangement(COMPARISON_LAYOUT_ID)


def show_in_comparison_views(scene, ncct_node, cta_node, uncertainty_node=None, overlay_opacity: float = 0.4) -> None:
    """NCCT in the left view, synthetic CTA (under the uncertainty overlay) in the right, axial, linked."""
    for view, background, foreground in ((NCCT_VIEW, ncct_node, None), (SYNTHETIC_VIEW, cta_node, uncertainty_node)):
        composite = view_node(scene, "vtkMRMLSliceCompositeNode", view)
        if composite is None:
            raise LookupError(f"the slice view {view!r} has no composite node (select the comparison layout first)")
        composite.SetBackgroundVolumeID(background.GetID())
        composite.SetForegroundVolumeID(foreground.GetID() if foreground is not None else None)
        composite.SetForegroundOpacity(overlay_opacity if foreground is not None else 0.0)
        composite.SetLabelVolumeID(None)
        composite.SetLinkedControl(1)
        slice_node = view_node(scene, "vtkMRMLSliceNode", view)
        if slice_node is not None:
            slice_node.SetOrientation("Axial")
            slice_node.SetViewGroup(0)


def views_showing_synthetic(scene) -> list[str]:
    """Layout names of the slice views whose background or foreground is a synthetic volume."""
    names = []
    for index in range(scene.GetNumberOfNodesByClass("vtkMRMLSliceCompositeNode")):
        composite = scene.GetNthNodeByClass(index, "vtkMRMLSliceCompositeNode")
        shown = [composite.GetBackgroundVolumeID(), composite.GetForegroundVolumeID()]
        if any(is_synthetic(scene.GetNodeByID(i)) for i in shown if i):
            names.append(composite.GetLayoutName())
    return sorted(names)


def show_volume_rendering(vr_logic, node, indication: str) -> str | None:
    """Volume-render ``node`` with the indication's CT angiography preset.

    Args:
        vr_logic: Slicer's ``vtkSlicerVolumeRenderingLogic`` (``slicer.modules.volumerendering.logic()``).
    Returns:
        the preset applied, or None when the preset is not loaded (the rendering then uses the logic's
        default transfer functions).
    """
    display = vr_logic.GetFirstVolumeRenderingDisplayNode(node) or vr_logic.CreateDefaultVolumeRenderingNodes(node)
    name = VOLUME_RENDERING_PRESETS[get_indication(indication).name]
    preset = vr_logic.GetPresetByName(name)
    applied = None
    if preset is not None:
        display.GetVolumePropertyNode().Copy(preset)
        applied = name
    display.SetVisibility(True)
    return applied
