"""DigitalContrast.py's Logic class on slicer-core. The application-only imports of the module file
(``slicer.ScriptedLoadableModule``, ``slicer.i18n``, ``slicer.parameterNodeWrapper``, ``qt``) are replaced by
minimal stand-ins written here, so the real module file is imported and its Logic runs against real MRML,
the real core and a subprocess. Widget and Test classes still need Slicer itself."""

from __future__ import annotations

import json
import sys
import types

import numpy as np
import pytest

from .conftest import REPO

pytest.importorskip("slicer", reason="slicer-core is needed for the MRML tests")

sys.path.insert(0, str(REPO / "DigitalContrast"))


class _ScriptedLoadableModuleLogic:
    def __init__(self, parent=None):
        pass

    def getParameterNode(self):
        import slicer

        return slicer.mrmlScene.AddNewNodeByClass("vtkMRMLScriptedModuleNode")


def _stand_ins():
    base = types.ModuleType("slicer.ScriptedLoadableModule")
    for name in ("ScriptedLoadableModule", "ScriptedLoadableModuleWidget", "ScriptedLoadableModuleTest"):
        setattr(base, name, type(name, (), {}))
    base.ScriptedLoadableModuleLogic = _ScriptedLoadableModuleLogic
    base.__all__ = ["ScriptedLoadableModule", "ScriptedLoadableModuleWidget", "ScriptedLoadableModuleLogic",
                    "ScriptedLoadableModuleTest"]
    i18n = types.ModuleType("slicer.i18n")
    i18n.tr = lambda text: text
    i18n.translate = lambda context, text: text
    wrapper = types.ModuleType("slicer.parameterNodeWrapper")
    wrapper.parameterNodeWrapper = lambda cls: cls
    wrapper.Choice = lambda choices: ("Choice", tuple(choices))
    return {"slicer.ScriptedLoadableModule": base, "slicer.i18n": i18n, "slicer.parameterNodeWrapper": wrapper,
            "qt": types.ModuleType("qt")}


@pytest.fixture
def module(monkeypatch, mrml_scene):
    import NetZeroAICT.ui.qtcompat  # noqa: F401  (bind the Qt layer to PySide6 before a 'qt' stand-in exists)

    for name, stand_in in _stand_ins().items():
        monkeypatch.setitem(sys.modules, name, stand_in)
    monkeypatch.delitem(sys.modules, "DigitalContrast", raising=False)
    import DigitalContrast

    yield DigitalContrast
    sys.modules.pop("DigitalContrast", None)


@pytest.fixture
def ncct_node(mrml_scene, ncct_abdomen_path):
    from NetZeroAICT import read_volume
    from NetZeroAICT.mrml.volumes import volume_to_node

    return volume_to_node(read_volume(ncct_abdomen_path), mrml_scene, name="abdomen NCCT")


def _double_factory(mode):
    from DigitalContrastLib.process import SynthesisProcess

    def factory(command, env):
        return SynthesisProcess([sys.executable, str(REPO / "Testing" / "json_lines_engine.py"), mode] + command[3:], env)
    return factory


def test_parameter_node_declares_the_choices(module):
    from NetZeroAICT.indications import INDICATIONS

    annotations = module.DigitalContrastParameterNode.__annotations__
    assert annotations["indication"].__metadata__ == (("Choice", tuple(INDICATIONS)),)
    assert annotations["device"].__metadata__ == (("Choice", ("auto", "cpu", "cuda")),)
    assert module.DigitalContrastParameterNode.indication == "aorta"
    assert set(module.DEVICE_LABELS) == {"auto", "cpu", "cuda"}


def test_logic_process_runs_node_to_node_and_raises_on_refusal(module, ncct_node, mrml_scene):
    from DigitalContrastLib.synthesis_job import SynthesisFailed

    logic = module.DigitalContrastLogic(processFactory=_double_factory("copy"))
    outcome = logic.process(ncct_node, "pulmonary", device="cpu", timeoutSeconds=120)
    assert outcome.cta_node.GetName() == "abdomen NCCT – digital contrast (pulmonary) SYNTHETIC"
    assert outcome.uncertainty_node.GetName() == "abdomen NCCT – uncertainty (pulmonary) SYNTHETIC"
    before = mrml_scene.GetNumberOfNodes()
    with pytest.raises(SynthesisFailed, match="not a CT") as caught:
        module.DigitalContrastLogic(processFactory=_double_factory("refuse")).process(ncct_node, "aorta")
    assert caught.value.outcome.status == "refused" and mrml_scene.GetNumberOfNodes() == before


def test_logic_reads_the_model_card_each_indication_runs(module):
    """What the Model section shows: the shipped card of each indication; an unknown one is refused."""
    from NetZeroAICT.errors import NetZeroAICTError
    from NetZeroAICT.indications import INDICATIONS
    from NetZeroAICT.synthesis.model_card import find_model_dir, read_card

    logic = module.DigitalContrastLogic()
    for name in INDICATIONS:
        card = logic.modelCard(name)
        assert card["indication"] == name and card["version"] == read_card(find_model_dir(name)).version
    with pytest.raises(NetZeroAICTError):
        logic.modelCard("femur")


def test_logic_reads_a_chosen_model_folder_and_refuses_one_of_another_indication(module, tmp_path):
    import shutil

    from NetZeroAICT.errors import NetZeroAICTError
    from NetZeroAICT.synthesis.model_card import find_model_dir

    logic = module.DigitalContrastLogic()
    mine = tmp_path / "my-aorta"
    shutil.copytree(find_model_dir("aorta"), mine)
    card = json.loads((mine / "model.json").read_text())
    (mine / "model.json").write_text(json.dumps({**card, "version": "9.9.9"}))
    assert logic.modelCard("aorta", str(mine))["version"] == "9.9.9"
    with pytest.raises(NetZeroAICTError, match="for 'aorta', not 'limb'"):
        logic.modelCard("limb", str(mine))
    with pytest.raises(NetZeroAICTError, match="no model.json"):
        logic.modelCard("aorta", str(tmp_path))


def test_logic_checks_and_suggests(module, ncct_node):
    pytest.importorskip("NetZeroAICT.characterise")
    logic = module.DigitalContrastLogic()
    assert logic.checkInput(ncct_node, "aorta").status == "warn"
    assert logic.suggestIndication(ncct_node) == "aorta"


def test_export_writes_the_synthetic_description(module, ncct_node, tmp_path):
    import SimpleITK as sitk

    from NetZeroAICT.mrml.synthetic import mark_synthetic

    mark_synthetic(ncct_node, "aorta", {"description": "SYNTHETIC digital contrast (aorta) nzct-aorta v1"})
    logic = module.DigitalContrastLogic()
    nrrd = logic.exportVolume(ncct_node, str(tmp_path / "cta.nrrd"))
    reader = sitk.ImageFileReader()
    reader.SetFileName(nrrd)
    reader.ReadImageInformation()
    assert reader.GetMetaData("Description").startswith("SYNTHETIC digital contrast (aorta)")
    nifti = logic.exportVolume(ncct_node, str(tmp_path / "cta.nii.gz"))
    image = sitk.ReadImage(nifti)
    assert "SYNTHETIC" in image.GetMetaData("descrip")
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), sitk.GetArrayFromImage(sitk.ReadImage(nrrd)))
