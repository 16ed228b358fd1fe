"""The real Slicer package of the extension (opt-in): Slicer's own packaging script, run on this working tree.

Set NETZEROAICT_SLICER_SOURCE to a Slicer source folder that has Utilities/Scripts/package_python_extension.py
(and CMAKE to a CMake >= 3.31 if the one on PATH is older); the test runs ``tools/package_extension.sh
--worktree`` and checks the archive: every module and core-package file at its place under
``lib/Slicer-X.Y/qt-scripted-modules/``, the shipped models inside the core package, and ``import NetZeroAICT``
plus the model look-up working from the unpacked folder. Takes about 10 s. Skipped without the variable.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from .conftest import REPO

SLICER_SOURCE = os.environ.get("NETZEROAICT_SLICER_SOURCE", "")
pytestmark = pytest.mark.skipif(
    not SLICER_SOURCE,
    reason="opt-in: set NETZEROAICT_SLICER_SOURCE to a Slicer source folder with "
           "Utilities/Scripts/package_python_extension.py (and CMAKE to CMake >= 3.31) to build the real package")

PACKAGED_SUFFIXES = (".py", ".ui", ".png", ".json", ".safetensors", ".html", ".yaml")
SCRIPTED = "/qt-scripted-modules/"


def expected_files() -> dict[str, str]:
    """{path under qt-scripted-modules: path in the repository} of every file Slicer must receive."""
    expected = {}

    def files(folder: Path):
        return [p for p in folder.rglob("*") if p.is_file() and p.suffix in PACKAGED_SUFFIXES
                and "__pycache__" not in p.parts]

    for path in files(REPO / "NetZeroAICT"):
        expected[str(path.relative_to(REPO))] = str(path.relative_to(REPO))
    for module in ("DigitalContrast", "ReaderStudy"):  # scripted modules install flat, side by side
        for path in files(REPO / module):
            expected[str(path.relative_to(REPO / module))] = str(path.relative_to(REPO))
    for path in files(REPO / "Resources" / "Models"):  # shipped models go inside the core package
        expected["NetZeroAICT/" + str(path.relative_to(REPO / "Resources"))] = str(path.relative_to(REPO))
    return expected


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("package")
    run = subprocess.run(["bash", str(REPO / "tools" / "package_extension.sh"), "--worktree", SLICER_SOURCE, str(out)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-4000:]
    # CMake names files of this repository by relative path: none of our CMakeLists may warn (Slicer's own
    # files may, e.g. "No remote origin set" for a clone without a remote)
    ours = re.findall(r"CMake (?:Warning|Deprecation Warning)[^\n]* at (?!/)[^\n]*", run.stderr)
    assert not ours, ours
    path = Path(run.stdout.strip().splitlines()[-1])
    assert path.is_file() and path.parent == out, run.stdout
    return path


def test_package_holds_every_file_at_its_place_and_nothing_else(package):
    with tarfile.open(package) as archive:
        names = [m.name for m in archive.getmembers() if m.isfile()]
    packaged = {name.split(SCRIPTED, 1)[1] for name in names if SCRIPTED in name}
    expected = expected_files()
    assert not set(expected) - packaged, f"missing from the package: {sorted(set(expected) - packaged)}"
    assert not packaged - set(expected), f"unexpected in the package: {sorted(packaged - set(expected))}"
    others = [name for name in names if SCRIPTED not in name]
    assert [name.rsplit("/", 1)[-1] for name in others] == ["NetZeroAICT.s4ext"], others


def test_core_package_and_shipped_models_work_from_the_unpacked_package(package, tmp_path):
    with tarfile.open(package) as archive:
        archive.extractall(tmp_path, filter="data")
    (scripted,) = tmp_path.glob("*/lib/Slicer-*/qt-scripted-modules")
    for module in ("DigitalContrast", "ReaderStudy"):  # where the module files load their UI and icon from
        assert (scripted / f"{module}.py").is_file()
        assert (scripted / "Resources" / "UI" / f"{module}.ui").is_file()
        assert (scripted / "Resources" / "Icons" / f"{module}.png").is_file()
    code = (
        "import pathlib, sys, NetZeroAICT\n"
        "from NetZeroAICT.indications import INDICATIONS\n"
        "from NetZeroAICT.synthesis.model_card import find_model_dir, read_card\n"
        "root = pathlib.Path(sys.argv[1]).resolve()\n"
        "assert pathlib.Path(NetZeroAICT.__file__).resolve().is_relative_to(root), NetZeroAICT.__file__\n"
        "for indication in INDICATIONS:\n"
        "    folder = find_model_dir(indication).resolve()\n"
        "    assert folder.is_relative_to(root / 'NetZeroAICT' / 'Models'), folder\n"
        "    read_card(folder)\n"
        "print(len(INDICATIONS))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(scripted)}
    run = subprocess.run([sys.executable, "-c", code, str(scripted)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-4000:]
    assert int(run.stdout.strip()) >= 5
