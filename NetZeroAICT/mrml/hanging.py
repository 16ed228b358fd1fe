"""The study's hanging protocol applied to MRML: layout, slice views, window/level presets, linking, MIP slab.

The protocol's ``hanging_protocol`` dict — ``{layout, window_presets, linked, mip_slab_mm, show_3d}`` — becomes
a :class:`HangingProtocol`; :func:`apply_hanging_protocol` sets, for one volume node:

* the layout node's view arrangement (:data:`LAYOUTS`);
* every slice view's composite node: the volume as background, nothing in foreground or label, and the
  linked / hot-linked flags;
* every slice node: its standard orientation (Red axial, Yellow sagittal, Green coronal) and thick-slab maximum
  intensity projection of ``mip_slab_mm`` millimetres (0: off), through Slicer's slab reconstruction;
* the volume's display node: the first window/level preset, with every preset registered on the display node so
  the reader can switch between them.

Runs on slicer-core (headless) and inside Slicer; in the application the slice logics already exist, headless
:func:`headless_slice_logics` creates them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import slicer
import vtk

from ..errors import ValidationError

LAYOUTS = {
    "one_up": "SlicerLayoutOneUpRedSliceView",
    "one_up_axial": "SlicerLayoutOneUpRedSliceView",
    "one_up_sagittal": "SlicerLayoutOneUpYellowSliceView",
    "one_up_coronal": "SlicerLayoutOneUpGreenSliceView",
    "conventional": "SlicerLayoutConventionalView",
    "four_up": "SlicerLayoutFourUpView",
    "side_by_side": "SlicerLayoutSideBySideView",
    "three_over_three": "SlicerLayoutThreeOverThreeView",
    "one_up_3d": "SlicerLayoutOneUp3DView",
}
#: Aliases accepted in protocols.
LAYOUT_ALIASES = {"axial": "one_up_axial", "sagittal": "one_up_sagittal",
                  "coronal": "one_up_coronal", "four-up": "four_up", "3d": "one_up_3d"}
#: Layouts that show a 3D view.
LAYOUTS_WITH_3D = {"conventional", "four_up", "one_up_3d"}
ORIENTATIONS = {"Red": "Axial", "Yellow": "Sagittal", "Green": "Coronal"}
SLAB_MAX = 1  # vtkImageReslice VTK_IMAGE_SLAB_MAX


@dataclass(frozen=True)
class WindowPreset:
    """A display window: ``window_hu`` wide, centred on ``level_hu``."""

    name: str
    window_hu: float
    level_hu: float


@dataclass
class HangingProtocol:
    """How every case of a study is shown (see the module docstring)."""

    layout: str = "four_up"
    window_presets: list[WindowPreset] = field(default_factory=lambda: [WindowPreset("CTA", 700.0, 200.0)])
    linked: bool = True
    mip_slab_mm: float = 0.0
    show_3d: bool = False

    @classmethod
    def from_dict(cls, data: dict | None, where: str = "hanging_protocol") -> "HangingProtocol":
        """Read the protocol's dict. Presets may be a list of ``{name, window, level}`` or a mapping
        ``{name: {window, level}}`` / ``{name: [window, level]}``; errors name the field at fault."""
        data = dict(data or {})
        layout = str(data.get("layout", "four_up")).lower()
        layout = LAYOUT_ALIASES.get(layout, layout)
        if layout not in LAYOUTS:
            raise ValidationError(f"unknown layout {data.get('layout')!r}", where=f"{where}.layout",
                                  hint=f"use one of {', '.join(sorted(LAYOUTS))}")
        presets = [_preset(item, f"{where}.window_presets[{i}]")
                   for i, item in enumerate(_preset_items(data.get("window_presets")))]
        slab = float(data.get("mip_slab_mm") or 0.0)
        if slab < 0:
            raise ValidationError(f"mip_slab_mm must be ≥ 0, got {slab}", where=f"{where}.mip_slab_mm")
        return cls(layout=layout, window_presets=presets or cls().window_presets,
                   linked=bool(data.get("linked", True)), mip_slab_mm=slab, show_3d=bool(data.get("show_3d", False)))


def _preset_items(value):
    if not value:
        return []
    if isinstance(value, dict):
        return [{"name": name, **(spec if isinstance(spec, dict) else {"window": spec[0], "level": spec[1]})}
                for name, spec in value.items()]
    return list(value)


def _preset(item, where) -> WindowPreset:
    try:
        window, level = float(item["window"]), float(item["level"])
    except (KeyError, TypeError, ValueError):
        raise ValidationError("a window preset needs numeric 'window' and 'level' (HU)", where=where,
                              hint='e.g. {name: CTA, window: 700, level: 200}') from None
    if window <= 0:
        raise ValidationError(f"window width must be > 0 HU, got {window}", where=where)
    return WindowPreset(str(item.get("name", f"{window:g}/{level:g}")), window, level)


def layout_node(scene=None):
    """The scene's layout node (created with a layout logic when the scene has none, as headless)."""
    scene = scene or slicer.mrmlScene
    node = scene.GetFirstNodeByClass("vtkMRMLLayoutNode")
    if node is None:
        logic = slicer.vtkMRMLLayoutLogic()
        logic.SetMRMLScene(scene)
        scene._netzeroaict_layout_logic = logic  # keep it alive with the scene
        node = logic.GetLayoutNode() or scene.AddNewNodeByClass("vtkMRMLLayoutNode")
    return node


def headless_slice_logics(scene=None) -> dict:
    """A slice logic per slice node (Red, Yellow, Green), creating each view's composite node (headless use)."""
    scene = scene or slicer.mrmlScene
    layout_node(scene)
    app_logic = getattr(scene, "_netzeroaict_logics", (None,))[0]
    logics = getattr(scene, "_netzeroaict_slice_logics", {})
    for name, node in slice_nodes(scene).items():
        if name in logics:
            continue
        logic = slicer.vtkMRMLSliceLogic()
        logic.SetMRMLScene(scene)
        if app_logic is not None:
            logic.SetMRMLApplicationLogic(app_logic)
        logic.SetSliceNode(node)
        logics[name] = logic
    scene._netzeroaict_slice_logics = logics
    return logics


def slice_nodes(scene=None) -> dict:
    """Slice nodes by layout name."""
    scene = scene or slicer.mrmlScene
    nodes = (scene.GetNthNodeByClass(i, "vtkMRMLSliceNode") for i in range(scene.GetNumberOfNodesByClass(
        "vtkMRMLSliceNode")))
    return {node.GetLayoutName(): node for node in nodes}


def composite_nodes(scene=None) -> dict:
    """Slice composite nodes by layout name."""
    scene = scene or slicer.mrmlScene
    nodes = (scene.GetNthNodeByClass(i, "vtkMRMLSliceCompositeNode")
             for i in range(scene.GetNumberOfNodesByClass("vtkMRMLSliceCompositeNode")))
    return {node.GetLayoutName(): node for node in nodes}


def apply_window_preset(volume_node, preset: WindowPreset) -> None:
    """Show ``volume_node`` with ``preset``'s window and level (automatic window/level off)."""
    display = volume_node.GetDisplayNode()
    if display is None:
        volume_node.CreateDefaultDisplayNodes()
        display = volume_node.GetDisplayNode()
    display.SetAutoWindowLevel(False)
    display.SetWindowLevel(preset.window_hu, preset.level_hu)


def apply_hanging_protocol(protocol: HangingProtocol, volume_node, scene=None) -> None:
    """Show ``volume_node`` as ``protocol`` says, in every slice view of the scene (see the module docstring)."""
    scene = scene or slicer.mrmlScene
    layout = layout_node(scene)
    layout.SetViewArrangement(getattr(slicer.vtkMRMLLayoutNode, LAYOUTS[protocol.layout]))
    for name, composite in composite_nodes(scene).items():
        composite.SetBackgroundVolumeID(volume_node.GetID())
        composite.SetForegroundVolumeID(None)
        composite.SetLabelVolumeID(None)
        composite.SetLinkedControl(protocol.linked)
        composite.SetHotLinkedControl(protocol.linked)
    for name, node in slice_nodes(scene).items():
        if name in ORIENTATIONS:
            node.SetOrientation(ORIENTATIONS[name])
        node.SetSlabReconstructionEnabled(protocol.mip_slab_mm > 0)
        if protocol.mip_slab_mm > 0:
            node.SetSlabReconstructionType(SLAB_MAX)
            node.SetSlabReconstructionThickness(protocol.mip_slab_mm)
    display = volume_node.GetDisplayNode()
    if display is None:
        volume_node.CreateDefaultDisplayNodes()
        display = volume_node.GetDisplayNode()
    display.ResetWindowLevelPresets()
    for preset in protocol.window_presets:
        display.AddWindowLevelPreset(preset.window_hu, preset.level_hu)
    apply_window_preset(volume_node, protocol.window_presets[0])
    for logic in getattr(scene, "_netzeroaict_slice_logics", {}).values():
        logic.FitSliceToAll()


def render_slice_view(logic, path: str) -> tuple[int, int]:
    """Write what a slice view shows (RGBA, window/level and slab applied) to a PNG; returns (width, height).

    Args:
        logic: a slice logic from :func:`headless_slice_logics` (its slice node sets the view's dimensions).
    """
    logic.FitSliceToAll()
    producer = logic.GetImageDataConnection().GetProducer()
    producer.Update()
    image = producer.GetOutputDataObject(0)
    writer = vtk.vtkPNGWriter()
    writer.SetFileName(str(path))
    writer.SetInputData(image)
    writer.Write()
    dims = image.GetDimensions()
    return dims[0], dims[1]


def release_headless_views(scene=None) -> None:
    """Detach the layout and slice logics made for a headless scene (before clearing or dropping the scene)."""
    scene = scene or slicer.mrmlScene
    for logic in getattr(scene, "_netzeroaict_slice_logics", {}).values():
        logic.SetMRMLScene(None)
    scene._netzeroaict_slice_logics = {}
    layout_logic = getattr(scene, "_netzeroaict_layout_logic", None)
    if layout_logic is not None:
        layout_logic.SetMRMLScene(None)
        scene._netzeroaict_layout_logic = None
