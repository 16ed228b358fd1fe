"""The ReaderStudy module file follows Slicer's scripted-module template, and its .ui matches the code."""

from __future__ import annotations

import ast
import re
import xml.etree.ElementTree as ET

import pytest

from .conftest import REPO

MODULE = REPO / "ReaderStudy" / "ReaderStudy.py"
UI = REPO / "ReaderStudy" / "Resources" / "UI" / "ReaderStudy.ui"


def _classes():
    tree = ast.parse(MODULE.read_text())
    return {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}


def _names(node):
    return {n.id if isinstance(n, ast.Name) else n.attr for n in node.bases}


def test_module_file_has_the_template_classes():
    classes = _classes()
    assert _names(classes["ReaderStudy"]) == {"ScriptedLoadableModule"}
    assert _names(classes["ReaderStudyWidget"]) == {"ScriptedLoadableModuleWidget", "VTKObservationMixin"}
    assert _names(classes["ReaderStudyLogic"]) == {"ScriptedLoadableModuleLogic"}
    assert _names(classes["ReaderStudyTest"]) == {"ScriptedLoadableModuleTest"}
    parameters = classes["ReaderStudyParameterNode"]
    assert [d.id for d in parameters.decorator_list] == ["parameterNodeWrapper"]
    text = MODULE.read_text()
    for needed in ('slicer.util.loadUI(self.resourcePath("UI/ReaderStudy.ui"))', "slicer.util.childWidgetVariables",
                   "uiWidget.setMRMLScene(slicer.mrmlScene)", "from slicer.i18n import tr as _",
                   "slicer.util.tryWithErrorDisplay(", "self.initializeParameterNode()", "connectGui(self.ui)",
                   "def runTest(self):", "def cleanup(self)", "def enter(self)", "def exit(self)",
                   "def onSceneStartClose(", "def onSceneEndClose("):
        assert needed in text, needed
    # thin: the work lives in ReaderStudyLib and the NetZeroAICT package
    assert len(text.splitlines()) < 400  # the template's widget plumbing plus one short handler per button
    for method in ast.walk(classes["ReaderStudyLogic"]):
        if isinstance(method, ast.FunctionDef):
            assert method.end_lineno - method.lineno < 25, method.name


def test_every_ui_widget_the_code_uses_exists_and_parameters_match():
    root = ET.parse(UI).getroot()
    widgets = {w.get("name"): w.get("class") for w in root.iter("widget")}
    used = set(re.findall(r"self\.ui\.(\w+)", MODULE.read_text()))
    assert used and used <= set(widgets), used - set(widgets)
    bound = {}
    for widget in root.iter("widget"):
        for prop in widget.findall("property"):
            if prop.get("name") == "SlicerParameterName":
                bound[prop.find("string").text] = widget.get("class")
    fields = {node.target.id for node in _classes()["ReaderStudyParameterNode"].body
              if isinstance(node, ast.AnnAssign)}
    assert set(bound) == fields
    path_fields = {node.target.id for node in _classes()["ReaderStudyParameterNode"].body
                   if isinstance(node, ast.AnnAssign) and ast.unparse(node.annotation) == "Path"}
    assert {name for name, cls in bound.items() if cls == "ctkPathLineEdit"} == path_fields
    assert widgets["ReaderStudy"] == "qMRMLWidget"


def test_ui_loads_and_reads_well(qapp, tmp_path):
    """Qt's own loader reads the .ui (Slicer's ctk/MRML widgets replaced by plain stand-ins)."""
    from PySide6 import QtCore, QtWidgets
    from PySide6.QtUiTools import QUiLoader

    class qMRMLWidget(QtWidgets.QWidget):
        pass

    class ctkCollapsibleButton(QtWidgets.QGroupBox):
        pass

    class ctkPathLineEdit(QtWidgets.QLineEdit):
        pass

    loader = QUiLoader()
    for stand_in in (qMRMLWidget, ctkCollapsibleButton, ctkPathLineEdit):
        loader.registerCustomWidget(stand_in)
    file = QtCore.QFile(str(UI))
    assert file.open(QtCore.QFile.ReadOnly)
    widget = loader.load(file)
    file.close()
    assert widget is not None, loader.errorString()
    widget.resize(420, 640)
    widget.show()
    qapp.processEvents()
    widget.grab().save(str(tmp_path / "readerstudy_ui.png"))
    buttons = {b.objectName(): b for b in widget.findChildren(QtWidgets.QPushButton)}
    assert {"startReadingButton", "analyzeButton", "buildPackageButton"} <= set(buttons)
    assert all(b.height() >= 20 and b.width() >= 150 for b in buttons.values() if b.isVisible())
    assert buttons["startReadingButton"].isVisible()
    widget.close()


def test_module_icon_is_128_square():
    from PIL import Image

    with Image.open(REPO / "ReaderStudy" / "Resources" / "Icons" / "ReaderStudy.png") as icon:
        assert icon.size == (128, 128)


@pytest.mark.parametrize("name", ["ReaderStudy.png", "ReaderStudy.ui"])
def test_resources_have_module_specific_names(name):
    assert list((REPO / "ReaderStudy" / "Resources").rglob(name))
