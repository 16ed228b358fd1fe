import logging
import os
from typing import Annotated

import qt
import vtk

import slicer
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.ScriptedLoadableModule import *
from slicer.util import VTKObservationMixin
from slicer.parameterNodeWrapper import (
    parameterNodeWrapper,
    Choice,
)

from slicer import vtkMRMLScalarVolumeNode

from NetZeroAICT.indications import INDICATIONS

from DigitalContrastLib.request import DEVICES, SynthesisRequest

#: Labels of the device choices, in the order of DEVICES.
DEVICE_LABELS = {"auto": "Automatic (GPU when available)", "cpu": "CPU", "cuda": "GPU (CUDA)"}
POLL_INTERVAL_MS = 200


#
# DigitalContrast
#


class DigitalContrast(ScriptedLoadableModule):
    """Uses ScriptedLoadableModule base class, available at:
    https://github.com/Slicer/Slicer/blob/main/Base/Python/slicer/ScriptedLoadableModule.py
    """

    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("Digital Contrast")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Contrast synthesis")]
        self.parent.dependencies = []
        self.parent.contributors = ["The NetZeroAICT contributors"]
        self.parent.helpText = _("""
Computes a <b>synthetic</b> CT angiogram ("digital contrast") from a non-contrast CT for one indication:
aorta, pulmonary artery, neck and brain arteries, limb arteries or coronary arteries. The result is marked
SYNTHETIC everywhere it is shown, comes with an uncertainty map, and the footprint panel shows the contrast
medium and CO2e avoided. Research use only, not for clinical use.
See the <a href="https://github.com/NetZeroAICT/NetZeroAICT#readme">documentation</a>.
""")
        self.parent.acknowledgementText = _("""
Built on 3D Slicer, MONAI and PyTorch. The module follows Slicer's scripted module template.
""")
        slicer.app.connect("startupCompleted()", registerSampleData)


#
# Register sample data sets in Sample Data module
#


def registerSampleData():
    """Add the "Sample NCCT phantom" to the Sample Data module: generated on the spot, no download."""
    import SampleData

    from DigitalContrastLib.sample import SAMPLE_NAME

    iconsPath = os.path.join(os.path.dirname(__file__), "Resources/Icons")
    if hasattr(SampleData.SampleDataLogic, "registerCustomSampleDataCategory"):
        SampleData.SampleDataLogic.registerCustomSampleDataCategory("NetZeroAICT", title=_("NetZeroAICT"))
    SampleData.SampleDataLogic.registerCustomSampleDataSource(
        category="NetZeroAICT",
        sampleName=SAMPLE_NAME,
        thumbnailFileName=os.path.join(iconsPath, "DigitalContrastSamplePhantom.png"),
        # No download: the phantom is made by the core's data foundry when the user clicks it.
        uris=[],
        fileNames=[],
        nodeNames=[],
        customDownloader=lambda source: DigitalContrastLogic().loadSamplePhantom(),
    )


#
# DigitalContrastParameterNode
#


@parameterNodeWrapper
class DigitalContrastParameterNode:
    """
    The parameters needed by module.

    inputVolume - The non-contrast CT.
    indication - Which arteries the synthetic angiogram is made for.
    device - Where the network runs (auto, cpu, cuda).
    uncertainty - Also compute the uncertainty map.
    lumenHU - Contrast level: mean HU of the synthetic arterial lumen; 0 = the model's default.
    outputVolume - The synthetic CT angiogram (created when empty).
    uncertaintyVolume - The uncertainty map (created when empty).
    """

    inputVolume: vtkMRMLScalarVolumeNode
    indication: Annotated[str, Choice(list(INDICATIONS))] = "aorta"
    device: Annotated[str, Choice(list(DEVICES))] = "auto"
    uncertainty: bool = True
    lumenHU: float = 0.0
    outputVolume: vtkMRMLScalarVolumeNode
    uncertaintyVolume: vtkMRMLScalarVolumeNode


#
# DigitalContrastWidget
#


class DigitalContrastWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    """Uses ScriptedLoadableModuleWidget base class, available at:
    https://github.com/Slicer/Slicer/blob/main/Base/Python/slicer/ScriptedLoadableModule.py
    """

    def __init__(self, parent=None) -> None:
        """Called when the user opens the module the first time and the widget is initialized."""
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)  # needed for parameter node observation
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._job = None

    def setup(self) -> None:
        """Called when the user opens the module the first time and the widget is initialized."""
        ScriptedLoadableModuleWidget.setup(self)

        uiWidget = slicer.util.loadUI(self.resourcePath("UI/DigitalContrast.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)

        self.logic = DigitalContrastLogic()

        # Plain-Qt pieces of the core (NetZeroAICT.ui), tested outside Slicer on PySide6
        from NetZeroAICT.ui.banner import SyntheticBanner
        from NetZeroAICT.ui.footprint import FootprintPanel
        from NetZeroAICT.ui.model_panel import ModelPanel
        from NetZeroAICT.ui.uncertainty_legend import UncertaintyLegend

        self.banner = SyntheticBanner()
        self.ui.bannerPlaceholder.layout().addWidget(self.banner)
        self.legend = UncertaintyLegend()
        self.ui.legendPlaceholder.layout().addWidget(self.legend)
        self.footprintPanel = FootprintPanel()
        self.ui.footprintGroupBox.layout().addWidget(self.footprintPanel)
        self.modelPanel = ModelPanel()
        self.ui.modelCollapsibleButton.layout().addWidget(self.modelPanel)
        self._modelShownFor = None
        self.banner.hide()
        self.legend.hide()

        self.pollTimer = qt.QTimer()
        self.pollTimer.setInterval(POLL_INTERVAL_MS)
        self.pollTimer.connect("timeout()", self.onPollTimer)

        # These connections ensure that we update parameter node when scene is closed
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)

        # Buttons
        self.ui.applyButton.connect("clicked(bool)", self.onApplyButton)
        self.ui.exportButton.connect("clicked(bool)", self.onExportButton)
        self.ui.inputSelector.connect("currentNodeChanged(vtkMRMLNode*)", self.onInputChanged)
        self.ui.modelFolderPathLineEdit.connect("currentPathChanged(QString)", self.onModelFolderChanged)

        # Make sure parameter node is initialized (needed for module reload)
        self.initializeParameterNode()

    def cleanup(self) -> None:
        """Called when the application closes and the module widget is destroyed."""
        if self._job is not None:
            self._job.cancel()
        self.pollTimer.stop()
        self.removeObservers()

    def enter(self) -> None:
        """Called each time the user opens this module."""
        self.initializeParameterNode()

    def exit(self) -> None:
        """Called each time the user opens a different module."""
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._checkCanApply)

    def onSceneStartClose(self, caller, event) -> None:
        """Called just before the scene is closed."""
        if self._job is not None:
            self._job.cancel()
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        """Called just after the scene is closed."""
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        """Ensure parameter node exists and observed."""
        self.setParameterNode(self.logic.getParameterNode())

        # Select default input nodes if nothing is selected yet to save a few clicks for the user
        if not self._parameterNode.inputVolume:
            firstVolumeNode = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")
            if firstVolumeNode:
                self._parameterNode.inputVolume = firstVolumeNode

    def setParameterNode(self, inputParameterNode: DigitalContrastParameterNode | None) -> None:
        """
        Set and observe parameter node.
        Observation is needed because when the parameter node is changed then the GUI must be updated immediately.
        """
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._checkCanApply)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            # Note: in the .ui file, a Qt dynamic property called "SlicerParameterName" is set on each
            # ui element that needs connection.
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self._labelChoices()
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._checkCanApply)
            self._checkCanApply()

    def _labelChoices(self) -> None:
        """Show readable names in the combo boxes (the connector reads them by index, so texts are free)."""
        for index, name in enumerate(INDICATIONS):
            self.ui.indicationComboBox.setItemText(index, _(INDICATIONS[name].label))
        for index, name in enumerate(DEVICES):
            self.ui.deviceComboBox.setItemText(index, _(DEVICE_LABELS[name]))

    def _modelFolder(self) -> str | None:
        """The model folder chosen under Advanced, or None for the shipped model."""
        return self.ui.modelFolderPathLineEdit.currentPath.strip() or None

    def onModelFolderChanged(self, path) -> None:
        self._showModel()

    def _showModel(self) -> None:
        """Show the evidence of the model the next run would use (its card) when the indication or the model
        folder has changed; a folder without a card of that indication is said to be so."""
        indication = self._parameterNode.indication if self._parameterNode else None
        folder = self._modelFolder()
        if indication is None or (indication, folder) == self._modelShownFor:
            return
        self._modelShownFor = (indication, folder)
        label = _(INDICATIONS[indication].label)
        try:
            card = self.logic.modelCard(indication, folder)
        except Exception as error:  # no usable model: the panel says why, the module stays usable
            logging.info(f"No model card for {indication} ({folder or 'shipped'}): {error}")
            message = (_("This model folder cannot run {indication}: {error}").format(indication=label, error=error)
                       if folder else _("No model installed for {indication}.").format(indication=label))
            self.modelPanel.show_missing(message)
            self.ui.modelCollapsibleButton.text = _("Model: none for {indication}").format(indication=label)
            return
        evidence = self.modelPanel.show_card(card)
        self.ui.modelCollapsibleButton.text = _("Model: {title}").format(title=evidence.title)

    def _checkCanApply(self, caller=None, event=None) -> None:
        self._showModel()
        if self._job is not None:
            self.ui.applyButton.text = _("Cancel")
            self.ui.applyButton.toolTip = _("Stop the synthesis; nothing is added to the scene")
            self.ui.applyButton.enabled = True
        elif self._parameterNode and self._parameterNode.inputVolume:
            self.ui.applyButton.text = _("Apply")
            self.ui.applyButton.toolTip = _("Compute the synthetic CT angiogram")
            self.ui.applyButton.enabled = True
        else:
            self.ui.applyButton.text = _("Apply")
            self.ui.applyButton.toolTip = _("Select a non-contrast CT")
            self.ui.applyButton.enabled = False

    def onInputChanged(self, node) -> None:
        """Suggest an indication from the body regions the input covers."""
        self.ui.suggestionLabel.text = ""
        if node is None or self._job is not None:
            return
        slicer.app.setOverrideCursor(qt.Qt.WaitCursor)  # about 0.6 s for a 10-million-voxel CT
        try:
            suggested = self.logic.suggestIndication(node)
        except Exception as error:  # the suggestion is a convenience; never block the user on it
            logging.info(f"No indication suggested for {node.GetName()}: {error}")
            return
        finally:
            slicer.app.restoreOverrideCursor()
        if suggested:
            self.ui.suggestionLabel.text = _("Suggested from the body coverage: {label}").format(
                label=INDICATIONS[suggested].label)

    def onApplyButton(self) -> None:
        """Run processing when user clicks "Apply" button; while it runs the button cancels it."""
        if self._job is not None:
            with slicer.util.tryWithErrorDisplay(_("Failed to cancel the synthesis."), waitCursor=True):
                self._job.cancel()
            return
        # no wait cursor here: the dependency and input-check dialogs may open and need the pointer
        with slicer.util.tryWithErrorDisplay(_("Failed to start digital contrast.")):
            self.logic.installDependencies()
            self._start(acceptWarnings=False)

    def _start(self, acceptWarnings: bool) -> None:
        p = self._parameterNode
        inputVolume = p.inputVolume
        if not acceptWarnings:
            check = self.logic.checkInput(inputVolume, p.indication)
            if check is not None and check.status != "ok":
                if not self._confirmInput(check.status, check.reasons, inputVolume.GetName()):
                    self.ui.statusLabel.text = _("Not run: the input check was not confirmed.")
                    return
                acceptWarnings = True
        request = SynthesisRequest(p.indication, device=p.device, uncertainty=p.uncertainty,
                                   accept_warnings=acceptWarnings, lumen_hu=p.lumenHU or None,
                                   dicom_out=self.ui.dicomOutputPathLineEdit.currentPath or None,
                                   model_dir=self._modelFolder())
        self._job = self.logic.startSynthesis(
            inputVolume, request, p.outputVolume, p.uncertaintyVolume if p.uncertainty else None,
            onProgress=self.onProgress, onLog=logging.info, onFinished=self.onFinished,
            dicomFiles=self.logic.dicomFilesOf(inputVolume) if request.dicom_out else None)
        self.ui.progressBar.value = 0
        self.ui.progressBar.visible = True
        self.ui.statusLabel.text = _("Starting the synthesis engine...")
        self.pollTimer.start()
        self._checkCanApply()

    def _confirmInput(self, status: str, reasons: list, inputName: str) -> bool:
        if slicer.app.testingEnabled():  # no modal dialog in unattended tests: warnings accepted, logged
            logging.warning(f"Input check ({status}) in testing mode: {' '.join(reasons)}")
            return status == "warn"
        from NetZeroAICT.ui.input_check_dialog import InputCheckDialog

        return InputCheckDialog(status, reasons, inputName, slicer.util.mainWindow()).confirmed()

    def onPollTimer(self) -> None:
        if self._job is not None:
            self._job.poll()

    def onProgress(self, fraction: float, stage: str, message: str) -> None:
        self.ui.progressBar.value = int(round(1000 * fraction))
        self.ui.statusLabel.text = _("{stage}: {message} ({seconds:.0f} s)").format(
            stage=stage, message=message, seconds=self._job.elapsed_s if self._job else 0.0)

    def onFinished(self, outcome) -> None:
        self.pollTimer.stop()
        self._job = None
        self.ui.progressBar.visible = False
        self._checkCanApply()
        p = self._parameterNode
        if outcome.status == "done":
            p.outputVolume = outcome.cta_node
            if outcome.uncertainty_node is not None:
                p.uncertaintyVolume = outcome.uncertainty_node
            with slicer.util.tryWithErrorDisplay(_("Failed to show the results."), waitCursor=True):
                shown = self.logic.showResults(p.inputVolume, outcome, p.indication)
                self._showResultPanels(outcome, shown)
            self.ui.statusLabel.text = _("Done in {seconds:.0f} s: {name}").format(
                seconds=outcome.elapsed_s, name=outcome.cta_node.GetName())
        elif outcome.status == "needs_confirmation":
            self.ui.statusLabel.text = _("The engine asks for confirmation.")
            if self._confirmInput("warn", outcome.reasons, p.inputVolume.GetName()):
                with slicer.util.tryWithErrorDisplay(_("Failed to start digital contrast.")):
                    self._start(acceptWarnings=True)
        elif outcome.status == "refused":
            self.ui.statusLabel.text = _("The input was refused.")
            self._confirmInput("refuse", outcome.reasons, p.inputVolume.GetName())
        elif outcome.status == "cancelled":
            self.ui.statusLabel.text = _("Cancelled; the scene is unchanged.")
        else:
            self.ui.statusLabel.text = _("Failed.")
            slicer.util.errorDisplay(outcome.message, windowTitle=_("Digital contrast failed"))

    def _showResultPanels(self, outcome, shown: dict) -> None:
        record = outcome.record or {}
        model = record.get("model", {})
        self.banner.set_detail(f"{INDICATIONS[self._parameterNode.indication].label} · "
                               f"{model.get('id', '?')} v{model.get('version', '?')}")
        self.banner.show()
        if shown.get("overlay_range_hu"):
            low, high = shown["overlay_range_hu"]
            self.legend.set_scale(shown["colour_stops"], low, high)
            self.legend.show()
        else:
            self.legend.hide()
        self.footprintPanel.add_run(record)
        self.ui.exportButton.enabled = True

    def onExportButton(self) -> None:
        node = self._parameterNode.outputVolume
        if node is None:
            return
        path = qt.QFileDialog.getSaveFileName(
            slicer.util.mainWindow(), _("Export synthetic CTA"), node.GetName().replace(" ", "_") + ".nrrd",
            _("NRRD (*.nrrd);;NIfTI (*.nii.gz)"))
        if not path:
            return
        with slicer.util.tryWithErrorDisplay(_("Failed to export the synthetic CTA."), waitCursor=True):
            written = self.logic.exportVolume(node, path)
            self.ui.statusLabel.text = _("Saved {path}").format(path=written)


#
# DigitalContrastLogic
#


class DigitalContrastLogic(ScriptedLoadableModuleLogic):
    """This class should implement all the actual
    computation done by your module.  The interface
    should be such that other python code can import
    this class and make use of the functionality without
    requiring an instance of the Widget.
    Uses ScriptedLoadableModuleLogic base class, available at:
    https://github.com/Slicer/Slicer/blob/main/Base/Python/slicer/ScriptedLoadableModule.py

    The work itself lives in DigitalContrastLib (tested outside Slicer); this class connects it to Slicer.
    """

    def __init__(self, processFactory=None) -> None:
        """processFactory: (command, env) -> process runner, to replace the engine subprocess in tests."""
        ScriptedLoadableModuleLogic.__init__(self)
        self.processFactory = processFactory

    def getParameterNode(self):
        return DigitalContrastParameterNode(super().getParameterNode())

    def installDependencies(self) -> None:
        """Make torch and the engine's packages available, asking the user first."""
        from DigitalContrastLib.dependencies import ensure_dependencies

        ensure_dependencies(requester=_("Digital Contrast"))

    def modelCard(self, indication: str, modelDir: str | None = None) -> dict:
        """The model card (``model.json``) of the model a run of ``indication`` uses, as a dict: the shipped
        one, or the one in ``modelDir``. Raises NetZeroAICTError where that folder has no valid card or its model
        is for another indication (the engine would refuse it)."""
        from NetZeroAICT.synthesis.model_card import check_indication, find_model_dir, read_card

        folder = find_model_dir(indication, modelDir)
        card = read_card(folder)
        check_indication(card, indication, folder)
        return card.to_dict()

    def checkInput(self, inputVolume, indication: str):
        """The core's input check (None when the characterisation cannot run here; the engine checks again)."""
        from DigitalContrastLib.input_check import check_node

        try:
            return check_node(inputVolume, indication)
        except ImportError as error:
            logging.warning(f"Input check skipped in the module ({error}); the engine checks the input itself.")
            return None

    def suggestIndication(self, inputVolume) -> str | None:
        from DigitalContrastLib.input_check import suggest_indication_for

        return suggest_indication_for(inputVolume)

    def startSynthesis(self, inputVolume, request, outputVolume=None, uncertaintyVolume=None,
                       onProgress=None, onLog=None, onFinished=None, dicomFiles=None):
        """Start the engine in a subprocess and return the running SynthesisJob (call its poll())."""
        from DigitalContrastLib.synthesis_job import SynthesisJob

        return SynthesisJob(inputVolume, request, outputVolume, uncertaintyVolume, self.processFactory,
                            on_progress=onProgress, on_log=onLog, on_finished=onFinished,
                            dicom_files=dicomFiles).start()

    def dicomFilesOf(self, volumeNode) -> list:
        """The DICOM files a volume was loaded from (empty when it was not loaded from the DICOM database)."""
        uids = (volumeNode.GetAttribute("DICOM.instanceUIDs") or "").split()
        database = getattr(slicer, "dicomDatabase", None)
        if not uids or database is None:
            return []
        return [path for path in (database.fileForInstance(uid) for uid in uids) if path]

    def process(self, inputVolume, indication: str, device: str = "auto", uncertainty: bool = True,
                acceptWarnings: bool = False, outputVolume=None, uncertaintyVolume=None, timeoutSeconds=1800.0,
                lumenHU: float | None = None):
        """Run the synthesis to the end (batch use and tests); returns the SynthesisOutcome.

        Raises SynthesisFailed when the engine refused, asked for confirmation or failed.
        """
        from DigitalContrastLib.synthesis_job import SynthesisFailed

        request = SynthesisRequest(indication, device=device, uncertainty=uncertainty, accept_warnings=acceptWarnings,
                                   lumen_hu=lumenHU)
        outcome = self.startSynthesis(inputVolume, request, outputVolume, uncertaintyVolume).wait(timeoutSeconds)
        if outcome.status != "done":
            raise SynthesisFailed(outcome)
        return outcome

    def showResults(self, inputVolume, outcome, indication: str) -> dict:
        """Comparison layout, CTA window, uncertainty overlay, volume rendering, SYNTHETIC view annotations."""
        from DigitalContrastLib.views import annotate_views, show_results

        layoutManager = slicer.app.layoutManager()
        layoutNode = layoutManager.layoutLogic().GetLayoutNode() if layoutManager else None
        vrLogic = slicer.modules.volumerendering.logic() if hasattr(slicer.modules, "volumerendering") else None
        shown = show_results(slicer.mrmlScene, inputVolume, outcome.cta_node, outcome.uncertainty_node, indication,
                             layoutNode, vrLogic)
        if layoutManager:
            slicer.app.processEvents()  # let the layout create its views before they are annotated
            annotate_views(layoutManager, slicer.mrmlScene)
            slicer.util.resetSliceViews()
        return shown

    def exportVolume(self, node, path: str) -> str:
        """Write the volume to NRRD/NIfTI with its description (which says SYNTHETIC) in the header."""
        from NetZeroAICT.mrml.synthetic import ATTRIBUTE_DESCRIPTION
        from NetZeroAICT.mrml.volumes import node_to_volume
        from NetZeroAICT.volume_io import write_volume

        description = node.GetAttribute(ATTRIBUTE_DESCRIPTION) or node.GetName()
        return str(write_volume(node_to_volume(node), path, description=description))

    def loadSamplePhantom(self):
        """Generate the "Sample NCCT phantom" (procedural, not a patient) and show it."""
        from DigitalContrastLib.sample import load_sample_phantom

        node = load_sample_phantom(slicer.mrmlScene)
        slicer.util.setSliceViewerLayers(background=node, fit=True)
        return node


#
# DigitalContrastTest
#


class DigitalContrastTest(ScriptedLoadableModuleTest):
    """
    This is the test case for your scripted module.
    Uses ScriptedLoadableModuleTest base class, available at:
    https://github.com/Slicer/Slicer/blob/main/Base/Python/slicer/ScriptedLoadableModule.py
    """

    def setUp(self):
        """Do whatever is needed to reset the state - typically a scene clear will be enough."""
        slicer.mrmlScene.Clear()

    def runTest(self):
        """Run as few or as many tests as needed here."""
        self.setUp()
        self.test_SamplePhantomToSyntheticCTA()
        self.setUp()
        self.test_CancelLeavesSceneUnchanged()
        self.setUp()
        self.test_WidgetApplyBecomesCancel()

    def _samplePhantom(self):
        import SampleData

        from DigitalContrastLib.sample import SAMPLE_NAME

        registerSampleData()
        source = SampleData.SampleDataLogic().sourceForSampleName(SAMPLE_NAME)
        self.assertIsNotNone(source, "the sample is registered")
        return source.customDownloader(source)

    def test_SamplePhantomToSyntheticCTA(self):
        """The full flow: sample phantom → engine subprocess → marked synthetic CTA in linked views."""
        import numpy as np

        from NetZeroAICT.mrml.synthetic import is_synthetic, run_record, views_showing_synthetic

        self.delayDisplay("Generating the sample NCCT phantom")
        inputVolume = self._samplePhantom()
        self.assertEqual(inputVolume.GetName(), "Sample NCCT phantom")
        logic = DigitalContrastLogic()
        self.delayDisplay("Checking the input")
        check = logic.checkInput(inputVolume, "aorta")
        self.assertNotEqual(check.status, "refuse", check.reasons)
        self.delayDisplay("Synthesizing (aorta)")
        # the phantom's field of view may draw a coverage warning; the test accepts it as a user would
        outcome = logic.process(inputVolume, "aorta", device="cpu", acceptWarnings=True)
        cta = outcome.cta_node
        self.assertEqual(cta.GetName(), "Sample NCCT phantom – digital contrast (aorta) SYNTHETIC")
        self.assertTrue(is_synthetic(cta))
        self.assertEqual(run_record(cta)["model"]["id"], cta.GetAttribute("NetZeroAICT.ModelId"))
        inputMatrix, outputMatrix = vtk.vtkMatrix4x4(), vtk.vtkMatrix4x4()
        inputVolume.GetIJKToRASMatrix(inputMatrix)
        cta.GetIJKToRASMatrix(outputMatrix)
        for row in range(4):
            for column in range(4):
                self.assertEqual(inputMatrix.GetElement(row, column), outputMatrix.GetElement(row, column))
        ncct, synthetic = slicer.util.arrayFromVolume(inputVolume), slicer.util.arrayFromVolume(cta)
        self.assertEqual(ncct.shape, synthetic.shape)
        self.assertGreater(float(np.max(synthetic - ncct)), 100.0, "some voxels are enhanced")
        self.delayDisplay("Showing the results")
        shown = logic.showResults(inputVolume, outcome, "aorta")
        self.assertEqual(views_showing_synthetic(slicer.mrmlScene), ["Yellow"])
        self.assertIsNotNone(shown["overlay_range_hu"])
        self.delayDisplay("Test passed")

    def test_CancelLeavesSceneUnchanged(self):
        import time

        from DigitalContrastLib.request import SynthesisRequest

        inputVolume = self._samplePhantom()
        before = slicer.mrmlScene.GetNumberOfNodes()
        job = DigitalContrastLogic().startSynthesis(inputVolume, SynthesisRequest("aorta", device="cpu",
                                                                                  accept_warnings=True))
        deadline = time.time() + 60
        while job.fraction <= 0.0 and time.time() < deadline:
            job.poll()
            slicer.app.processEvents()
            time.sleep(0.05)
        self.assertEqual(job.cancel().status, "cancelled")
        self.assertEqual(slicer.mrmlScene.GetNumberOfNodes(), before)
        self.delayDisplay("Cancel test passed")

    def test_WidgetApplyBecomesCancel(self):
        import time

        inputVolume = self._samplePhantom()
        slicer.util.selectModule("DigitalContrast")
        widget = slicer.util.getModuleWidget("DigitalContrast")
        widget._parameterNode.inputVolume = inputVolume
        widget._parameterNode.device = "cpu"
        widget.ui.applyButton.click()
        self.assertEqual(widget.ui.applyButton.text, _("Cancel"))
        deadline = time.time() + 600
        while widget._job is not None and time.time() < deadline:
            slicer.app.processEvents()
            time.sleep(0.05)
        self.assertIsNone(widget._job)
        self.assertEqual(widget.ui.applyButton.text, _("Apply"))
        self.assertTrue(widget.banner.visible)
        self.assertIn("SYNTHETIC", widget._parameterNode.outputVolume.GetName())
        self.delayDisplay("Widget test passed")
