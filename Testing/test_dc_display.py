"""What the DigitalContrast module shows, rendered headless on slicer-core: the comparison layout (NCCT |
synthetic, linked), the CTA window, the uncertainty overlay, the views that must carry the SYNTHETIC mark,
and volume rendering with a CTA preset."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("slicer", reason="slicer-core is needed for the MRML tests")

import slicer  # noqa: E402

from NetZeroAICT import read_volume  # noqa: E402
from NetZeroAICT.indications import INDICATIONS  # noqa: E402
from NetZeroAICT.mrml import synthetic  # noqa: E402
from NetZeroAICT.mrml.volumes import volume_to_node  # noqa: E402

from .slice_render import render, save_side_by_side, slice_logics  # noqa: E402

RECORD = {"description": "SYNTHETIC digital contrast (aorta) test v1", "model": {"id": "aorta-test", "version": "1"}}


@pytest.fixture
def comparison(mrml_scene, ncct_abdomen_path):
    """NCCT, a 'synthetic' copy with a bright aorta-sized disc, and an uncertainty map rising to the right."""
    layout = slicer.vtkMRMLLayoutLogic()
    layout.SetMRMLScene(mrml_scene)
    synthetic.select_comparison_layout(layout.GetLayoutNode())
    volume = read_volume(ncct_abdomen_path)
    ncct = volume_to_node(volume, mrml_scene, name="abdomen NCCT")
    voxels = volume.voxels.astype(np.float32)
    k, j, i = np.indices(voxels.shape)
    bright = (i - 61) ** 2 + (j - 55) ** 2 < 16
    cta = volume_to_node(volume.with_voxels(np.where(bright, 350.0, voxels)), mrml_scene,
                         name=synthetic.synthetic_node_name("abdomen NCCT", "aorta"))
    uncertainty = volume_to_node(volume.with_voxels((i / i.max() * 60.0).astype(np.float32)), mrml_scene,
                                 name=synthetic.uncertainty_node_name("abdomen NCCT", "aorta"))
    synthetic.mark_synthetic(cta, "aorta", RECORD, source_node=ncct)
    synthetic.mark_synthetic(uncertainty, "aorta", RECORD, role="uncertainty", source_node=ncct)
    logics = slice_logics(mrml_scene, [synthetic.NCCT_VIEW, synthetic.SYNTHETIC_VIEW])
    yield mrml_scene, layout, logics, ncct, cta, uncertainty
    for logic in [*logics.values(), layout, *mrml_scene.__dict__.pop("_test_logics", [])]:
        logic.SetMRMLScene(None)  # detach before the scene is cleared


def test_layout_is_ncct_beside_synthetic_with_3d(comparison):
    scene, layout, logics, ncct, cta, uncertainty = comparison
    assert layout.GetLayoutNode().GetViewArrangement() == synthetic.COMPARISON_LAYOUT_ID
    views = {node.GetLayoutName() for node in slicer.util.getNodesByClass("vtkMRMLAbstractViewNode")}
    assert {"Red", "Yellow", "1"} <= views
    synthetic.show_in_comparison_views(scene, ncct, cta, uncertainty)
    red = synthetic.view_node(scene, "vtkMRMLSliceCompositeNode", "Red")
    yellow = synthetic.view_node(scene, "vtkMRMLSliceCompositeNode", "Yellow")
    assert red.GetBackgroundVolumeID() == ncct.GetID() and red.GetForegroundVolumeID() is None
    assert (yellow.GetBackgroundVolumeID(), yellow.GetForegroundVolumeID()) == (cta.GetID(), uncertainty.GetID())
    assert synthetic.views_showing_synthetic(scene) == ["Yellow"]


def test_views_are_linked(comparison):
    scene, layout, logics, ncct, cta, uncertainty = comparison
    synthetic.show_in_comparison_views(scene, ncct, cta, uncertainty)
    link = slicer.vtkMRMLSliceLinkLogic()
    link.SetMRMLScene(scene)
    scene._test_logics = [link]
    red = logics["Red"].GetSliceNode()
    red.SetInteracting(1)
    red.SetInteractionFlags(red.SliceToRASFlag)
    logics["Red"].SetSliceOffset(logics["Red"].GetSliceOffset() + 30.0)
    red.SetInteracting(0)
    assert logics["Yellow"].GetSliceOffset() == pytest.approx(logics["Red"].GetSliceOffset())


def test_rendered_views_show_the_cta_window_and_the_overlay(comparison, tmp_path):
    scene, layout, logics, ncct, cta, uncertainty = comparison
    width, level = synthetic.apply_cta_window(cta, "aorta")
    assert (width, level) == INDICATIONS["aorta"].window_hu
    display = cta.GetDisplayNode()
    assert (display.GetWindow(), display.GetLevel(), display.GetAutoWindowLevel()) == (width, level, 0)
    synthetic.show_in_comparison_views(scene, ncct, cta, None)
    plain = render(logics["Yellow"])
    color = synthetic.show_uncertainty_overlay(uncertainty, low_hu=20.0, high_hu=60.0)
    assert color.GetName() == synthetic.UNCERTAINTY_COLOR_NODE_NAME
    synthetic.show_in_comparison_views(scene, ncct, cta, uncertainty, overlay_opacity=0.5)
    images = [render(logics["Red"]), render(logics["Yellow"])]
    save_side_by_side(images, tmp_path / "comparison.png")
    overlaid = images[1].astype(int)
    h, w = plain.shape[:2]
    body = plain[..., :3].sum(axis=2) > 30
    left, right = np.zeros_like(body), np.zeros_like(body)
    left[:, : w // 5], right[:, 4 * w // 5:] = True, True
    # i runs towards the patient's right, which Slicer draws on the left of the screen (radiological view):
    # right edge of the screen (low i): uncertainty below the threshold → the CTA exactly as without overlay
    np.testing.assert_array_equal(overlaid[right & body, :3], plain[right & body, :3].astype(int))
    # left edge (high i): most uncertain → tinted towards yellow (red and green up, blue down)
    diff = overlaid[left & body, :3] - plain[left & body, :3].astype(int)
    assert diff[:, 0].mean() > 20 and diff[:, 2].mean() < -5
    stops = synthetic.colour_stops(color, 5)
    assert stops[0][0] == 0.0 and stops[-1][0] == 1.0 and all(0 <= c <= 1 for _, rgb in stops for c in rgb)


def test_attributes_say_synthetic_and_carry_the_record(comparison):
    scene, layout, logics, ncct, cta, uncertainty = comparison
    assert synthetic.is_synthetic(cta) and not synthetic.is_synthetic(ncct)
    assert synthetic.run_record(cta) == RECORD
    assert cta.GetAttribute(synthetic.ATTRIBUTE_MODEL_VERSION) == "1"
    assert cta.GetNodeReference(synthetic.SOURCE_REFERENCE_ROLE) is ncct
    assert "SYNTHETIC" in cta.GetName() and "SYNTHETIC" in uncertainty.GetName()


def test_volume_rendering_uses_the_indications_preset(comparison):
    scene, layout, logics, ncct, cta, uncertainty = comparison
    vr = slicer.vtkSlicerVolumeRenderingLogic()
    vr.SetMRMLScene(scene)
    scene._test_logics = [vr]
    # slicer-core ships without Slicer's presets file: without the preset the default rendering is shown
    assert synthetic.show_volume_rendering(vr, cta, "coronary") is None
    assert vr.GetFirstVolumeRenderingDisplayNode(cta).GetVisibility()
    preset = slicer.vtkMRMLVolumePropertyNode()
    preset.SetName("CT-Coronary-Arteries-3")
    preset.GetVolumeProperty().SetScalarOpacityUnitDistance(0.123)
    vr.AddPreset(preset)
    assert synthetic.show_volume_rendering(vr, cta, "coronary") == "CT-Coronary-Arteries-3"
    property_node = vr.GetFirstVolumeRenderingDisplayNode(cta).GetVolumePropertyNode()
    assert property_node.GetVolumeProperty().GetScalarOpacityUnitDistance() == pytest.approx(0.123)
    assert set(synthetic.VOLUME_RENDERING_PRESETS) == set(INDICATIONS)


def test_show_results_sets_up_everything_the_module_shows(comparison):
    import sys

    from .conftest import REPO

    sys.path.insert(0, str(REPO / "DigitalContrast"))
    from DigitalContrastLib.views import overlay_range_hu, show_results

    scene, layout, logics, ncct, cta, uncertainty = comparison
    vr = slicer.vtkSlicerVolumeRenderingLogic()
    vr.SetMRMLScene(scene)
    scene._test_logics = [vr]
    layout.GetLayoutNode().SetViewArrangement(slicer.vtkMRMLLayoutNode.SlicerLayoutFourUpView)
    shown = show_results(scene, ncct, cta, uncertainty, "aorta", layout.GetLayoutNode(), vr)
    assert layout.GetLayoutNode().GetViewArrangement() == synthetic.COMPARISON_LAYOUT_ID
    low, high = shown["overlay_range_hu"]
    assert (low, high) == overlay_range_hu(uncertainty) and high == pytest.approx(60.0, abs=0.5) and low == pytest.approx(high / 4, abs=0.1)
    assert len(shown["colour_stops"]) == 9 and shown["volume_rendering_preset"] == ""  # no presets in slicer-core
    for node in (ncct, cta):
        assert (node.GetDisplayNode().GetWindow(), node.GetDisplayNode().GetLevel()) == INDICATIONS["aorta"].window_hu
    assert synthetic.views_showing_synthetic(scene) == ["Yellow"]
    assert vr.GetFirstVolumeRenderingDisplayNode(cta).GetVisibility()
