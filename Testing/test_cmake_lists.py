"""Every packaged file is listed in its CMakeLists.txt (an unlisted file is silently left out of Slicer's package)."""

import re
import sys

import pytest

from .conftest import REPO

sys.path.insert(0, str(REPO / "tools"))
import cmake_lists  # noqa: E402

FOLDERS = [name for name in cmake_lists.PACKAGE_FOLDERS if (REPO / name / "CMakeLists.txt").exists()]


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_packaged_file_is_listed(folder):
    missing, extra = cmake_lists.differences(REPO / folder)
    assert not missing, f"{folder}/CMakeLists.txt does not list {missing}; run `python tools/cmake_lists.py`"
    assert not extra, f"{folder}/CMakeLists.txt lists files that do not exist: {extra}"


def test_checker_notices_an_unlisted_file(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("")
    (tmp_path / "pkg" / "b.json").write_text("{}")
    (tmp_path / "CMakeLists.txt").write_text("set(X\n  pkg/a.py\n  )\n")
    missing, extra = cmake_lists.differences(tmp_path)
    assert missing == ["pkg/b.json"] and extra == []


def test_root_follows_the_extension_template():
    text = (REPO / "CMakeLists.txt").read_text()
    for needed in ["project(NetZeroAICT)", "EXTENSION_HOMEPAGE", "EXTENSION_CATEGORY", "EXTENSION_CONTRIBUTORS",
                   "EXTENSION_DESCRIPTION", "EXTENSION_ICONURL", "EXTENSION_SCREENSHOTURLS",
                   "set(EXTENSION_DEPENDS PyTorch)", "find_package(Slicer REQUIRED)", "include(${Slicer_USE_FILE})",
                   "include(${Slicer_EXTENSION_GENERATE_CONFIG})", "include(${Slicer_EXTENSION_CPACK})"]:
        assert needed in text, needed
    subdirs = re.findall(r"add_subdirectory\((\w+)\)", text)
    assert "NetZeroAICT" in subdirs
    for subdir in subdirs:
        assert (REPO / subdir / "CMakeLists.txt").exists(), subdir


def test_catalog_entry():
    import json

    entry = json.loads((REPO / "NetZeroAICT.json").read_text())
    assert entry["build_dependencies"] == ["PyTorch"]
    assert entry["scm_url"].endswith(".git") and entry["category"] and "$schema" in entry and "tier" in entry


def test_extension_icon_is_128_square():
    from PIL import Image

    with Image.open(REPO / "Resources" / "Icons" / "NetZeroAICT.png") as icon:
        assert icon.size == (128, 128)
