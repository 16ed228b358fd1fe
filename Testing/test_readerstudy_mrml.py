"""ReaderStudy's MRML side on slicer-core: hanging protocol, blinding of every loaded case, the ruler."""

from __future__ import annotations

import numpy as np
import pytest

from .readerstudy_helpers import build_small_package, scene  # noqa: F401 (fixture)

pytest.importorskip("slicer")


def _hanging(**overrides):
    from NetZeroAICT.mrml.hanging import HangingProtocol

    data = {"layout": "four_up", "linked": True, "mip_slab_mm": 0,
            "window_presets": [{"name": "angio", "window": 700, "level": 200},
                               {"name": "soft tissue", "window": 400, "level": 40}]}
    return HangingProtocol.from_dict({**data, **overrides})


def _rendered(logic, path):
    from vtk.util import numpy_support

    from NetZeroAICT.mrml.hanging import render_slice_view

    render_slice_view(logic, path)
    image = logic.GetImageDataConnection().GetProducer().GetOutputDataObject(0)
    dims = image.GetDimensions()
    rgba = numpy_support.vtk_to_numpy(image.GetPointData().GetScalars()).reshape(dims[1], dims[0], -1)
    return rgba[..., :3].astype(float)


def test_hanging_protocol_sets_layout_views_presets_linking_and_slab(scene, ncct_abdomen_path, tmp_path):
    import slicer

    from NetZeroAICT.mrml.blinded_case import load_blinded_case
    from NetZeroAICT.mrml.hanging import (apply_hanging_protocol, composite_nodes, headless_slice_logics,
                                          layout_node, slice_nodes)

    logics = headless_slice_logics(scene)
    node = load_blinded_case(ncct_abdomen_path, "K7Q2M4XB", scene)
    for logic in logics.values():
        logic.GetSliceNode().SetDimensions(320, 320, 1)
    apply_hanging_protocol(_hanging(linked=True, mip_slab_mm=0), node, scene)
    thin = _rendered(logics["Red"], tmp_path / "red_thin.png")

    apply_hanging_protocol(_hanging(layout="one_up", linked=False, mip_slab_mm=20), node, scene)
    assert layout_node(scene).GetViewArrangement() == slicer.vtkMRMLLayoutNode.SlicerLayoutOneUpRedSliceView
    assert set(composite_nodes(scene)) == {"Red", "Yellow", "Green"}
    for composite in composite_nodes(scene).values():
        assert composite.GetBackgroundVolumeID() == node.GetID()
        assert composite.GetForegroundVolumeID() is None and composite.GetLabelVolumeID() is None
        assert not composite.GetLinkedControl() and not composite.GetHotLinkedControl()
    orientations = {name: n.GetOrientationString() for name, n in slice_nodes(scene).items()}
    assert orientations == {"Red": "Axial", "Yellow": "Sagittal", "Green": "Coronal"}
    for slice_node in slice_nodes(scene).values():
        assert slice_node.GetSlabReconstructionEnabled()
        assert slice_node.GetSlabReconstructionThickness() == pytest.approx(20)
        assert slice_node.GetSlabReconstructionTypeAsString(slice_node.GetSlabReconstructionType()) == "Max"
    display = node.GetDisplayNode()
    assert (display.GetWindow(), display.GetLevel(), display.GetAutoWindowLevel()) == (700, 200, 0)
    assert display.GetNumberOfWindowLevelPresets() == 2
    assert (display.GetWindowPreset(1), display.GetLevelPreset(1)) == (400, 40)
    mip = _rendered(logics["Red"], tmp_path / "red_mip.png")
    # a 20 mm maximum-intensity slab shows more bright (bone, vessel) pixels than a thin slice
    assert (mip > 200).mean() > (thin > 200).mean() * 1.2

    apply_hanging_protocol(_hanging(layout="four_up"), node, scene)
    assert layout_node(scene).GetViewArrangement() == slicer.vtkMRMLLayoutNode.SlicerLayoutFourUpView
    assert all(c.GetLinkedControl() for c in composite_nodes(scene).values())
    assert not any(n.GetSlabReconstructionEnabled() for n in slice_nodes(scene).values())


@pytest.mark.parametrize("layout", ["one_up", "side_by_side", "four_up", "conventional", "three_over_three"])
def test_every_layout_of_the_protocol_schema_is_known(layout):
    from NetZeroAICT.mrml.hanging import LAYOUTS
    from NetZeroAICT.study.schema import LAYOUTS as SCHEMA_LAYOUTS

    assert layout in SCHEMA_LAYOUTS and _hanging(layout=layout).layout in LAYOUTS


def test_bad_hanging_protocol_names_the_field():
    from NetZeroAICT.errors import ValidationError
    from NetZeroAICT.mrml.hanging import HangingProtocol

    with pytest.raises(ValidationError, match=r"hanging_protocol.layout.*use one of"):
        HangingProtocol.from_dict({"layout": "mosaic"})
    with pytest.raises(ValidationError, match=r"window_presets\[1\]"):
        HangingProtocol.from_dict({"window_presets": [{"window": 400, "level": 40}, {"window": "wide"}]})


def test_no_loaded_case_reveals_case_patient_or_modality(scene, tmp_path):
    from NetZeroAICT.mrml.blinded_case import scene_leaks
    from NetZeroAICT.mrml.hanging import headless_slice_logics
    from ReaderStudyLib.reading import ReaderPackage
    from ReaderStudyLib.viewer import CaseViewer

    protocol, design, package_dir, key = build_small_package(tmp_path, n_cases=4)
    package = ReaderPackage.open(package_dir)
    forbidden = ([c["id"] for c in protocol.cases] + [c["patient_id"] for c in protocol.cases]
                 + ["real_cta", "synthetic_cta", "phantom-study", "case"])
    headless_slice_logics(scene)
    viewer = CaseViewer(_hanging(), scene)
    dtypes = {}
    for reader in package.reader_ids:
        for session_id, codes in package.worklist(reader).items():
            for code in codes:
                node = viewer.show(code, package.image_path(code))
                viewer.start_ruler("diameter", lambda q, length: None)
                assert scene_leaks(forbidden, scene) == [], (reader, session_id, code)
                assert node.GetName() == code and node.GetStorageNode() is None
                assert scene.GetNumberOfNodesByClass("vtkMRMLScalarVolumeNode") == 1
                dtypes.setdefault(key.items[code]["modality"], set()).add(node.GetImageData().GetScalarTypeAsString())
    assert dtypes["real"] == dtypes["synthetic"]  # real and synthetic look the same in memory


def test_leak_scan_catches_what_an_ordinary_load_leaves(scene, tmp_path):
    import slicer

    from NetZeroAICT.mrml.blinded_case import scene_leaks
    from NetZeroAICT.mrml.volumes import volume_to_node
    from NetZeroAICT.volume_io import read_volume

    protocol, _, _, _ = build_small_package(tmp_path, n_cases=2)
    path = protocol.image_path("case-002", "synthetic")
    node = volume_to_node(read_volume(path), scene, name="synthetic_cta")  # named after its file
    storage = scene.AddNewNodeByClass("vtkMRMLVolumeArchetypeStorageNode")
    storage.SetFileName(str(path))
    node.SetAndObserveStorageNodeID(storage.GetID())
    node.SetAttribute("DigitalContrast.synthetic", "1")
    other = volume_to_node(read_volume(protocol.image_path("case-001", "real")), scene, name="scan")
    other.SetAttribute("PatientID", "PAT7000")
    hierarchy = scene.AddNewNodeByClass("vtkMRMLSubjectHierarchyNode")  # the Data module's tree
    patient = hierarchy.CreateSubjectItem(hierarchy.GetSceneItemID(), "Doe^Jane")
    hierarchy.CreateStudyItem(patient, "CTA case-002")
    leaks = "\n".join(scene_leaks(["case-002", "PAT7000", "Doe^Jane"], scene))
    assert "subject hierarchy item contains 'Doe^Jane'" in leaks and "'CTA case-002'" in leaks
    assert "name contains 'synthetic_cta'" in leaks
    assert "file name contains 'case-002'" in leaks
    assert "attribute DigitalContrast.synthetic" in leaks
    assert "contains 'PAT7000'" in leaks
    assert isinstance(slicer.mrmlScene, type(scene))


def test_ruler_measures_the_aneurysm_diameter_in_mm(scene, tmp_path):
    import vtk

    from NetZeroAICT.mrml.ruler import line_length_mm, ruler_length_mm
    from ReaderStudyLib.viewer import CaseViewer

    protocol, _, _, _ = build_small_package(tmp_path, n_cases=2)
    viewer = CaseViewer(_hanging(), scene)
    node = viewer.show("ABCDEFGH", protocol.image_path("case-002", "real"))  # abnormal: tube ø 22 mm
    lengths = []
    ruler = viewer.start_ruler("diameter", lambda question, length: lengths.append((question, length)))
    assert ruler_length_mm(ruler.node) is None
    # the tube's edges along i at its centre slice, from the voxels, placed in RAS as a reader would click
    matrix = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(matrix)
    import slicer

    voxels = slicer.util.arrayFromVolume(node)
    k, j = voxels.shape[0] // 2, int(round(voxels.shape[1] / 2 - 4 / 1.5))
    inside = np.flatnonzero(voxels[k, j] > 200)
    edges = [matrix.MultiplyPoint((float(i), float(j), float(k), 1.0))[:3] for i in (inside[0] - 0.5, inside[-1] + 0.5)]
    ruler.node.AddControlPoint(vtk.vtkVector3d(*edges[0]))
    ruler.node.AddControlPoint(vtk.vtkVector3d(*edges[1]))
    question, length = lengths[-1]
    assert question == "diameter"
    assert length == pytest.approx(22.0, abs=1.6)  # 22 mm tube, ± one voxel (1.5 mm)
    assert length == pytest.approx(line_length_mm(*edges))
    viewer.show("JKLMNPQR", protocol.image_path("case-001", "real"))
    assert scene.GetNumberOfNodesByClass("vtkMRMLMarkupsLineNode") == 0  # rulers go with their case


def test_slice_views_render_readably(scene, tmp_path):
    from NetZeroAICT.mrml.hanging import headless_slice_logics
    from ReaderStudyLib.viewer import CaseViewer

    protocol, _, _, _ = build_small_package(tmp_path, n_cases=2)
    logics = headless_slice_logics(scene)
    viewer = CaseViewer(_hanging(), scene)
    viewer.show("ABCDEFGH", protocol.image_path("case-002", "synthetic"))
    for name, logic in logics.items():
        logic.GetSliceNode().SetDimensions(256, 256, 1)
        rgb = _rendered(logic, tmp_path / f"{name}.png")
        assert rgb.max() > 150 and rgb.std() > 20, name  # contrast-filled vessel bright on a grey body
    assert viewer.next_window_preset() == "soft tissue"
    assert viewer.node.GetDisplayNode().GetWindow() == 400


@pytest.mark.parametrize("show_3d", [True, False])
def test_3d_rendering_follows_the_protocol_and_leaves_with_its_case(scene, tmp_path, show_3d):
    import slicer

    from NetZeroAICT.mrml.blinded_case import scene_leaks
    from ReaderStudyLib.viewer import CaseViewer

    protocol, _, _, _ = build_small_package(tmp_path, n_cases=2)
    rendering = slicer.vtkSlicerVolumeRenderingLogic()  # headless: no presets folder, default transfer functions
    rendering.SetMRMLScene(scene)
    viewer = CaseViewer(_hanging(show_3d=show_3d), scene, volume_rendering_logic=rendering)
    node = viewer.show("ABCDEFGH", protocol.image_path("case-001", "real"))
    shown = [node.GetNthDisplayNode(i) for i in range(node.GetNumberOfDisplayNodes())]
    rendered = [d for d in shown if d.IsA("vtkMRMLVolumeRenderingDisplayNode")]
    assert len(rendered) == int(show_3d) and all(d.GetVisibility() for d in rendered)
    assert scene_leaks(["case-001", "PAT7000"], scene) == []
    nodes_with_one_case = scene.GetNumberOfNodes()
    viewer.show("JKLMNPQR", protocol.image_path("case-002", "synthetic"))
    assert scene.GetNumberOfNodes() == nodes_with_one_case  # nothing of the previous case is left behind
    viewer.clear()
    assert scene.GetNumberOfNodesByClass("vtkMRMLVolumeRenderingDisplayNode") == 0
    assert scene.GetNumberOfNodesByClass("vtkMRMLVolumePropertyNode") == 0
    rendering.SetMRMLScene(None)
