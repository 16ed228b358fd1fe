"""Shared fixtures: real data from ../shared/data (skipped cleanly where absent), offscreen Qt, MRML scene."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def shared_path(relative: str) -> Path:
    """Path of a file under ../shared/data, or skip the test saying what is missing."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"needs the real data {path} (../shared/data is absent on this machine)")
    return path


@pytest.fixture
def ncct_abdomen_path() -> Path:
    """Real non-contrast abdomen CT (NIfTI, 3 mm, int32 HU)."""
    return shared_path("ct/ncct_abdomen_3mm.nii.gz")


@pytest.fixture
def cect_dicom_path() -> Path:
    """Real contrast-enhanced (portal-venous) abdomen CT, one DICOM series of 20 slices."""
    return shared_path("ct/cect_abdomen_dicom")


@pytest.fixture
def head_dicom_path() -> Path:
    """Real non-contrast head CT with 18.5° gantry tilt and uneven slice gaps."""
    return shared_path("ct/ncct_head_ge_dicom")


@pytest.fixture(scope="session")
def qapp():
    """A real QApplication rendering offscreen (PySide6)."""
    pytest.importorskip("PySide6", reason="PySide6 is needed for the Qt tests")
    from PySide6 import QtWidgets

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    yield app


@pytest.fixture
def mrml_scene():
    """A fresh headless MRML scene (slicer-core) set as slicer.mrmlScene."""
    pytest.importorskip("slicer", reason="slicer-core is needed for the MRML tests")
    from NetZeroAICT.mrml.volumes import new_headless_scene

    scene = new_headless_scene()
    yield scene
    scene.Clear(1)
