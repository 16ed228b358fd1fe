"""The DigitalContrast module file and its .ui, checked without the Slicer application: the module follows
Slicer's scripted-module template, the parameter node and the .ui agree, every widget the code uses exists,
and the panel, rendered with stand-ins for Slicer's widgets on PySide6, is not cramped."""

from __future__ import annotations

import ast
import json
import os
import re
import xml.etree.ElementTree as ET

import pytest

from .conftest import REPO

MODULE = REPO / "DigitalContrast"
SOURCE = (MODULE / "DigitalContrast.py").read_text()
TREE = ast.parse(SOURCE)
UI = ET.parse(MODULE / "Resources" / "UI" / "DigitalContrast.ui")


def _class(name):
    return next(n for n in TREE.body if isinstance(n, ast.ClassDef) and n.name == name)


def _bases(name):
    return [ast.unparse(b) for b in _class(name).bases]


def _parameter_fields():
    node = _class("DigitalContrastParameterNode")
    assert [ast.unparse(d) for d in node.decorator_list] == ["parameterNodeWrapper"]
    return {s.target.id: ast.unparse(s.annotation) for s in node.body if isinstance(s, ast.AnnAssign)}


def test_module_follows_the_scripted_module_template():
    assert _bases("DigitalContrast") == ["ScriptedLoadableModule"]
    assert _bases("DigitalContrastWidget") == ["ScriptedLoadableModuleWidget", "VTKObservationMixin"]
    assert _bases("DigitalContrastLogic") == ["ScriptedLoadableModuleLogic"]
    assert _bases("DigitalContrastTest") == ["ScriptedLoadableModuleTest"]
    for needed in ('slicer.util.loadUI(self.resourcePath("UI/DigitalContrast.ui"))', "slicer.util.childWidgetVariables",
                   "slicer.util.tryWithErrorDisplay(", "from slicer.i18n import tr as _", 'connect("startupCompleted()"',
                   "self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent", "def runTest(self):",
                   "qt.QTimer()", 'self.ui.applyButton.text = _("Cancel")'):
        assert needed in SOURCE, needed
    widget_methods = {f.name for f in _class("DigitalContrastWidget").body if isinstance(f, ast.FunctionDef)}
    assert {"setup", "cleanup", "enter", "exit", "onSceneStartClose", "onSceneEndClose", "initializeParameterNode",
            "setParameterNode", "onApplyButton"} <= widget_methods


def test_nothing_is_installed_at_import_time():
    """pip/torch installation only happens from the Apply button (after asking), never when the module loads."""
    top_level = [ast.unparse(n) for n in TREE.body if isinstance(n, (ast.Expr, ast.Assign))]
    assert not [line for line in top_level if "pip" in line or "install" in line.lower()]
    deps = (MODULE / "DigitalContrastLib" / "dependencies.py").read_text()
    assert "PyTorchUtils.PyTorchUtilsLogic()" in deps and "askConfirmation=True" in deps
    assert "slicer.packaging.pip_ensure(" in deps and "confirmOkCancelDisplay" in deps and "(5, 12)" in deps


def test_parameter_node_and_ui_agree():
    fields = _parameter_fields()
    assert fields == {"inputVolume": "vtkMRMLScalarVolumeNode", "indication": "Annotated[str, Choice(list(INDICATIONS))]",
                      "device": "Annotated[str, Choice(list(DEVICES))]", "uncertainty": "bool", "lumenHU": "float",
                      "outputVolume": "vtkMRMLScalarVolumeNode", "uncertaintyVolume": "vtkMRMLScalarVolumeNode"}
    connected = {}
    for widget in UI.iter("widget"):
        for prop in widget.findall("property"):
            if prop.get("name") == "SlicerParameterName":
                connected[prop.find("string").text] = widget.get("class")
    assert set(connected) == set(fields)
    assert connected["indication"] == connected["device"] == "QComboBox"  # QComboBoxToStringableConnector
    assert connected["uncertainty"] == "QCheckBox" and connected["inputVolume"] == "qMRMLNodeComboBox"
    assert connected["lumenHU"] == "QDoubleSpinBox"  # 0 shows as "model default" (specialValueText)
    assert "lumen_hu=p.lumenHU or None" in SOURCE


def test_every_widget_the_code_uses_is_in_the_ui():
    names = {w.get("name") for w in UI.iter("widget")}
    used = set(re.findall(r"self\.ui\.(\w+)", SOURCE)) | set(re.findall(r"widget\.ui\.(\w+)", SOURCE))
    assert used and used <= names, used - names
    for selector in ("inputSelector", "outputSelector", "uncertaintyOutputSelector"):
        assert any(c.find("receiver").text == selector for c in UI.iter("connection")), f"{selector} gets no scene"


STAND_INS = {"qMRMLWidget": "QWidget", "ctkCollapsibleButton": "QGroupBox", "qMRMLNodeComboBox": "QComboBox",
             "ctkPathLineEdit": "QLineEdit"}


def test_panel_renders_uncramped(qapp, tmp_path):
    """The .ui with plain-Qt stand-ins for Slicer's widgets, plus the plain-Qt pieces the widget adds."""
    from PySide6.QtUiTools import QUiLoader

    from NetZeroAICT.indications import INDICATIONS
    from NetZeroAICT.ui.banner import SyntheticBanner
    from NetZeroAICT.ui.footprint import FootprintPanel
    from NetZeroAICT.ui.uncertainty_legend import UncertaintyLegend

    root = ET.parse(MODULE / "Resources" / "UI" / "DigitalContrast.ui").getroot()
    for widget in root.iter("widget"):
        cls = widget.get("class")
        if cls == "ctkCollapsibleButton":
            for prop in widget.findall("property"):
                if prop.get("name") == "text":
                    prop.set("name", "title")
                elif prop.get("name") == "collapsed":
                    widget.remove(prop)
        if cls in STAND_INS:
            widget.set("class", STAND_INS[cls])
        for prop in list(widget.findall("property")):
            if prop.get("name") in ("nodeTypes", "showChildNodeTypes", "addEnabled", "removeEnabled", "noneEnabled",
                                    "noneDisplay", "filters"):
                widget.remove(prop)
    for section in ("customwidgets", "connections"):
        for element in root.findall(section):
            root.remove(element)
    path = tmp_path / "panel.ui"
    ET.ElementTree(root).write(path)
    panel = QUiLoader().load(str(path))
    assert panel is not None
    find = lambda name: panel.findChild(object, name)  # noqa: E731
    find("indicationComboBox").addItems([i.label for i in INDICATIONS.values()])
    find("deviceComboBox").addItems(["Automatic (GPU when available)", "CPU", "GPU (CUDA)"])
    find("inputSelector").addItems(["Sample NCCT phantom"])
    find("outputSelector").addItems(["Create new volume"])
    find("uncertaintyOutputSelector").addItems(["Create new volume"])
    find("suggestionLabel").setText("Suggested from the body coverage: Aorta")
    find("statusLabel").setText("inference: inference 64% (12 s)")
    find("uncertaintyCheckBox").setChecked(True)
    find("progressBar").setVisible(True)
    find("progressBar").setValue(640)
    find("bannerPlaceholder").layout().addWidget(SyntheticBanner("Aorta · nzct-aorta v1.0.0"))
    legend = UncertaintyLegend()
    legend.set_scale([(0.0, (1.0, 0.0, 0.0)), (1.0, (1.0, 0.9, 0.0))], 12.5, 50.0)
    find("legendPlaceholder").layout().addWidget(legend)
    footprint = FootprintPanel()
    footprint.add_run({"energy": {"wh": 0.03}, "co2e_g": 0.014, "avoided": {
        "contrast_ml": 85.0, "iodine_g": 30.0, "contrast_enhanced_exam_kg_co2e": 9.2, "net_kg_co2e": 9.19999}})
    find("footprintGroupBox").layout().addWidget(footprint)
    from NetZeroAICT.synthesis.model_card import CARD_NAME, find_model_dir
    from NetZeroAICT.ui.model_panel import ModelPanel

    model = ModelPanel()
    model.show_card(json.loads((find_model_dir("aorta") / CARD_NAME).read_text()))
    find("modelCollapsibleButton").layout().addWidget(model)
    panel.resize(400, panel.sizeHint().height())
    panel.show()
    qapp.processEvents()
    assert panel.minimumSizeHint().width() <= 400, "fits Slicer's module panel (about 400 px wide)"
    image = panel.grab()
    assert image.save(str(tmp_path / "digital_contrast_panel.png"))
    if os.environ.get("NETZEROAICT_KEEP_PNG"):
        image.save(os.path.join(os.environ["NETZEROAICT_KEEP_PNG"], "digital_contrast_panel.png"))
