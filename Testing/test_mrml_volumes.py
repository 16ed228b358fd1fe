"""MRML glue on slicer-core: file → Volume → node → Slicer's storage node writes NRRD → SimpleITK reads it."""

import numpy as np
import pytest
import SimpleITK as sitk

from NetZeroAICT import Volume, read_volume


def _round_trip_through_slicer(volume, scene, tmp_path):
    import slicer

    from NetZeroAICT.mrml.volumes import node_to_volume, volume_to_node

    node = volume_to_node(volume, scene, name="ct")
    storage = slicer.vtkMRMLVolumeArchetypeStorageNode()
    scene.AddNode(storage)
    storage.SetFileName(str(tmp_path / "slicer.nrrd"))
    assert storage.WriteData(node) == 1
    written = Volume.from_sitk(sitk.ReadImage(str(tmp_path / "slicer.nrrd")), label=volume.is_label)
    return node, written, node_to_volume(node)


@pytest.mark.parametrize("which", ["ncct_abdomen_path", "cect_dicom_path", "head_dicom_path"])
def test_real_ct_round_trip_through_slicer(which, request, mrml_scene, tmp_path):
    volume = read_volume(request.getfixturevalue(which))
    node, written, back = _round_trip_through_slicer(volume, mrml_scene, tmp_path)
    np.testing.assert_array_equal(written.voxels, volume.voxels)
    assert np.abs(written.corner_points_lps() - volume.corner_points_lps()).max() <= 1e-4
    np.testing.assert_array_equal(back.voxels, volume.voxels)
    assert np.abs(back.corner_points_lps() - volume.corner_points_lps()).max() <= 1e-4


def test_ras_of_a_voxel_matches_lps_with_flipped_signs(mrml_scene, ncct_abdomen_path):
    import vtk

    from NetZeroAICT.mrml.volumes import volume_to_node

    volume = read_volume(ncct_abdomen_path)
    node = volume_to_node(volume, mrml_scene)
    matrix = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(matrix)
    ijk = (10, 20, 30, 1)
    ras = matrix.MultiplyPoint(ijk)[:3]
    lps = (volume.ijk_to_lps() @ np.array(ijk))[:3]
    np.testing.assert_allclose(ras, (-lps[0], -lps[1], lps[2]), atol=1e-9)


def test_label_map_becomes_label_node(mrml_scene):
    from NetZeroAICT.mrml.volumes import node_to_volume, volume_to_node

    labels = Volume(np.arange(60, dtype=np.uint8).reshape(3, 4, 5) % 3, (1, 1, 2))
    node = volume_to_node(labels, mrml_scene, name="lumen")
    assert node.IsA("vtkMRMLLabelMapVolumeNode")
    back = node_to_volume(node)
    assert back.voxels.dtype == np.uint8
    np.testing.assert_array_equal(back.voxels, labels.voxels)
