"""The core never imports Qt or Slicer; only its ``mrml`` and ``ui`` subpackages may."""

import ast

from .conftest import REPO

FORBIDDEN = {"qt", "ctk", "slicer", "PySide6", "PyQt5", "PyQt6", "vtk", "qSlicerBaseQTCore"}
ALLOWED_DIRS = {"mrml", "ui"}


def _imports(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level > 0 and node.module:
            yield "." + node.module.split(".")[0]


def test_core_modules_import_no_gui_or_slicer():
    offenders = []
    for path in (REPO / "NetZeroAICT").rglob("*.py"):
        relative = path.relative_to(REPO / "NetZeroAICT")
        if relative.parts[0] in ALLOWED_DIRS:
            continue
        for name in _imports(path):
            if name in FORBIDDEN or name.lstrip(".") in ALLOWED_DIRS and len(relative.parts) == 1:
                offenders.append(f"{relative}: imports {name}")
    assert not offenders, offenders


def test_importing_the_core_loads_no_gui(tmp_path):
    import subprocess
    import sys

    code = ("import sys, NetZeroAICT, NetZeroAICT.cli; bad = [m for m in ('qt', 'slicer', 'PySide6', 'vtk') "
            "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
