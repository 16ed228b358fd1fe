"""Volume I/O: every format keeps voxels and geometry; bad input gets an error naming the file."""

import shutil

import numpy as np
import pytest
import SimpleITK as sitk

from NetZeroAICT import Volume, VolumeError, read_volume, write_volume
from NetZeroAICT.volume_io import file_sha256


def oblique_volume(dtype=np.float32):
    rng = np.random.default_rng(0)
    angle = np.radians(17)
    direction = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    voxels = rng.normal(40, 300, size=(7, 9, 11)).astype(dtype) if dtype == np.float32 else \
        rng.integers(0, 5, size=(7, 9, 11)).astype(dtype)
    return Volume(voxels, (0.7, 0.8, 2.5), (-120.25, 33.5, -801.0), direction)


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii", ".nrrd", ".mha"])
@pytest.mark.parametrize("dtype", [np.float32, np.uint8, np.int16])
def test_round_trip_keeps_voxels_and_geometry(tmp_path, suffix, dtype):
    volume = oblique_volume(dtype)
    path = write_volume(volume, tmp_path / f"v{suffix}")
    back = read_volume(path, label=dtype != np.float32)
    assert back.voxels.dtype == volume.voxels.dtype
    np.testing.assert_array_equal(back.voxels, volume.voxels)
    np.testing.assert_allclose(back.corner_points_lps(), volume.corner_points_lps(), atol=1e-4)
    assert back.same_grid(volume)


def test_real_nifti_round_trip(tmp_path, ncct_abdomen_path):
    volume = read_volume(ncct_abdomen_path)
    assert volume.voxels.dtype == np.float32 and volume.shape_ijk == (122, 101, 112)
    reference = sitk.ReadImage(str(ncct_abdomen_path))
    np.testing.assert_array_equal(volume.voxels, sitk.GetArrayFromImage(reference))
    for suffix in (".nrrd", ".mha", ".nii.gz"):
        back = read_volume(write_volume(volume, tmp_path / f"ct{suffix}"))
        np.testing.assert_array_equal(back.voxels, volume.voxels)
        np.testing.assert_allclose(back.corner_points_lps(), volume.corner_points_lps(), atol=1e-4)


def test_dicom_series_reads_with_tags(cect_dicom_path):
    volume = read_volume(cect_dicom_path)
    assert volume.shape_ijk == (512, 512, 20)
    assert volume.spacing_mm[2] == pytest.approx(2.0)
    assert volume.metadata["dicom"]["Modality"] == "CT"
    assert "geometry_corrections" not in volume.metadata
    # liver and aorta are in the range of a contrast-enhanced abdomen
    assert -1100 < volume.voxels.min() and volume.voxels.max() < 4000


def test_tilted_uneven_dicom_series_is_resampled_and_reported(head_dicom_path):
    volume = read_volume(head_dicom_path)
    corrections = volume.metadata["geometry_corrections"]
    assert corrections["gantry_tilt_deg"] == pytest.approx(18.5, abs=0.1)
    assert min(corrections["slice_steps_mm"]) < 1.5 and max(corrections["slice_steps_mm"]) > 6.5
    # the output grid is orthogonal and evenly stepped
    direction = volume.direction_lps
    np.testing.assert_allclose(direction.T @ direction, np.eye(3), atol=1e-6)
    # brain stays brain after resampling: a central block is soft tissue near 35 HU
    k, j, i = (s // 2 for s in volume.voxels.shape)
    centre = volume.voxels[k - 2:k + 2, j - 40:j + 40, i - 40:i + 40]
    assert 15 < np.median(centre) < 60


def test_missing_file_names_it(tmp_path):
    with pytest.raises(VolumeError, match="nope.nii.gz: no such file"):
        read_volume(tmp_path / "nope.nii.gz")


def test_non_image_file_names_it(tmp_path):
    path = tmp_path / "notes.nrrd"
    path.write_text("this is not an image")
    with pytest.raises(VolumeError, match="notes.nrrd: not a readable image"):
        read_volume(path)


def test_2d_image_is_refused(tmp_path):
    path = tmp_path / "slice.nrrd"
    sitk.WriteImage(sitk.Image(32, 32, sitk.sitkInt16), str(path))
    with pytest.raises(VolumeError, match="slice.nrrd: this is a 2D image"):
        read_volume(path)
    with pytest.raises(VolumeError, match="3 dimensions"):
        Volume(np.zeros((4, 4)), (1, 1, 1))


def test_single_real_dicom_slice_is_refused():
    from .conftest import shared_path

    with pytest.raises(VolumeError, match="2D image"):
        read_volume(shared_path("ct/ct_small_contrast.dcm"))


def test_folder_with_two_series_asks_for_a_choice(tmp_path, cect_dicom_path, head_dicom_path):
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for source in (cect_dicom_path, head_dicom_path):
        for file in source.iterdir():
            if file.name.startswith("LICENSE"):
                continue
            shutil.copy(file, mixed / f"{source.name}-{file.name}")
    with pytest.raises(VolumeError, match=r"mixed: 2 DICOM series found.*series_uid") as info:
        read_volume(mixed)
    uid = "1.2.826.0.1.3680043.9.4245.3115138630835728997848661150714813892"
    assert uid in str(info.value)
    assert read_volume(mixed, series_uid=uid).metadata["dicom"]["Manufacturer"].startswith("GE")


def test_empty_folder_says_no_series(tmp_path):
    with pytest.raises(VolumeError, match="no DICOM series"):
        read_volume(tmp_path)


def test_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    volume = oblique_volume()
    target = write_volume(volume, tmp_path / "out.nii.gz")
    before = file_sha256(target)

    def broken_write(image, path, useCompression=True):
        with open(path, "wb") as handle:
            handle.write(b"partial")
        raise RuntimeError("disk full")

    monkeypatch.setattr(sitk, "WriteImage", broken_write)
    with pytest.raises(RuntimeError, match="disk full"):
        write_volume(volume.with_voxels(volume.voxels + 1), target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.nii.gz"]
    assert file_sha256(target) == before  # the earlier result is intact


def test_write_refuses_unknown_type_and_missing_folder(tmp_path):
    with pytest.raises(VolumeError, match="unsupported output file type"):
        write_volume(oblique_volume(), tmp_path / "out.png")
    with pytest.raises(VolumeError, match="output folder does not exist"):
        write_volume(oblique_volume(), tmp_path / "no" / "out.nrrd")


def test_description_is_written_in_the_header(tmp_path):
    path = write_volume(oblique_volume(), tmp_path / "s.nii.gz", description="SYNTHETIC digital contrast test")
    assert read_volume(path).metadata["description"] == "SYNTHETIC digital contrast test"


def test_description_survives_nrrd_and_mha(tmp_path):
    for suffix in (".nrrd", ".mha"):
        path = write_volume(oblique_volume(), tmp_path / f"s{suffix}", description="SYNTHETIC test")
        assert read_volume(path).metadata["description"] == "SYNTHETIC test"
