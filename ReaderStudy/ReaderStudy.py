import logging
from pathlib import Path
from typing import Annotated

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

from NetZeroAICT.indications import INDICATIONS

#
# ReaderStudy
#


class ReaderStudy(ScriptedLoadableModule):
    """Blinded reader studies of real and synthetic CT angiograms (NetZeroAICT).

    Uses ScriptedLoadableModule base class, available at:
    https://github.com/Slicer/Slicer/blob/main/Base/Python/slicer/ScriptedLoadableModule.py
    """

    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("Reader Study")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Contrast synthesis")]
        self.parent.dependencies = []
        self.parent.contributors = ["The NetZeroAICT contributors"]
        self.parent.helpText = _("""
Blinded reader studies that compare synthetic CT angiograms (digital contrast) with real ones.
<b>Read</b>: open the package the study lead gave you, enter your reader id, and score each case; cases are shown
under codes only, answers are saved as you go and you resume where you stopped.
<b>Lead</b>: create and validate a protocol, build the blinded package, follow progress, run the analysis.
See the <a href="https://github.com/NetZeroAICT/NetZeroAICT#readme">documentation</a>.
Research use only, not for clinical use.
""")
        self.parent.acknowledgementText = _("""
Part of the NetZeroAICT extension. Built on 3D Slicer's scripted module template.
""")


#
# ReaderStudyParameterNode
#


@parameterNodeWrapper
class ReaderStudyParameterNode:
    """
    The choices of the module's panel, saved with the scene.

    packagePath, readerId, storePath - reading: the blinded package, the reader, the answers database.
    protocolPath, casesPath, studyId, indication, readers - lead: the protocol, or what to create one from.
    leadPackagePath, keyPath - lead: where the package and the unblinding key are written.
    readerStores, resultsPath - lead: reader databases to merge (';'-separated), the results folder.
    """

    packagePath: Path
    readerId: str = ""
    storePath: Path
    protocolPath: Path
    casesPath: Path
    studyId: str = ""
    indication: Annotated[str, Choice(list(INDICATIONS))] = "aorta"
    readers: str = ""
    leadPackagePath: Path
    keyPath: Path
    readerStores: str = ""
    resultsPath: Path


#
# ReaderStudyWidget
#


class ReaderStudyWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
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

    def setup(self) -> None:
        """Called when the user opens the module the first time and the widget is initialized."""
        ScriptedLoadableModuleWidget.setup(self)
        from NetZeroAICT.ui.lead_panel import ProblemList, ReaderProgressTable
        from ReaderStudyLib.reader_panel import ReaderPanel

        uiWidget = slicer.util.loadUI(self.resourcePath("UI/ReaderStudy.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)

        self.logic = ReaderStudyLogic()

        # Plain-Qt pieces of the NetZeroAICT package, in the placeholders of the .ui
        self.readerPanel = ReaderPanel()
        self.ui.readerPanelPlaceholder.layout().addWidget(self.readerPanel)
        self.progressTable = ReaderProgressTable()
        self.ui.progressPlaceholder.layout().addWidget(self.progressTable)
        self.problemList = ProblemList()
        self.ui.problemsPlaceholder.layout().addWidget(self.problemList)

        # Connections
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)

        self.ui.startReadingButton.connect("clicked(bool)", self.onStartReading)
        self.ui.createProtocolButton.connect("clicked(bool)", self.onCreateProtocol)
        self.ui.validateButton.connect("clicked(bool)", self.onValidate)
        self.ui.buildPackageButton.connect("clicked(bool)", self.onBuildPackage)
        self.ui.auditButton.connect("clicked(bool)", self.onAudit)
        self.ui.refreshProgressButton.connect("clicked(bool)", self.onRefreshProgress)
        self.ui.analyzeButton.connect("clicked(bool)", self.onAnalyze)

        self.initializeParameterNode()

    def cleanup(self) -> None:
        """Called when the application closes and the module widget is destroyed."""
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
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        """Called just after the scene is closed."""
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        """Ensure parameter node exists and observed."""
        self.setParameterNode(self.logic.getParameterNode())

    def setParameterNode(self, inputParameterNode: ReaderStudyParameterNode | None) -> None:
        """Set and observe parameter node."""
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._checkCanApply)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._checkCanApply)
            self._checkCanApply()

    def _checkCanApply(self, caller=None, event=None) -> None:
        p = self._parameterNode
        canRead = bool(p and isSet(p.packagePath) and p.readerId.strip())
        self.ui.startReadingButton.enabled = canRead
        self.ui.startReadingButton.toolTip = _("Open your next session") if canRead else _(
            "Choose the package folder and enter your reader id")
        hasProtocol = bool(p and isSet(p.protocolPath))
        for button in (self.ui.validateButton, self.ui.buildPackageButton, self.ui.auditButton,
                       self.ui.refreshProgressButton, self.ui.analyzeButton):
            button.enabled = hasProtocol
        self.ui.createProtocolButton.enabled = bool(p and isSet(p.casesPath) and isSet(p.protocolPath)
                                                    and p.studyId.strip() and p.readers.strip())

    # -- reading ---------------------------------------------------------------------------------------
    def onStartReading(self) -> None:
        p = self._parameterNode
        with slicer.util.tryWithErrorDisplay(_("Could not open the reading session."), waitCursor=True):
            session, viewer = self.logic.openReading(p.packagePath, p.readerId.strip(), optional(p.storePath))
            self.readerPanel.open(session, viewer)

    # -- lead --------------------------------------------------------------------------------------------
    def _folder(self):
        p = self._parameterNode
        return self.logic.studyFolder(p.protocolPath, optional(p.leadPackagePath), optional(p.keyPath),
                                      optional(p.resultsPath))

    def onCreateProtocol(self) -> None:
        p = self._parameterNode
        with slicer.util.tryWithErrorDisplay(_("Could not create the protocol."), waitCursor=True):
            self.logic.createProtocol(p.casesPath, p.protocolPath, p.studyId.strip(), p.indication,
                                      splitList(p.readers, ","))
            self.problemList.set_problems([], _("Protocol written and valid: ") + str(p.protocolPath))

    def onValidate(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Could not read the protocol."), waitCursor=True):
            self.problemList.set_problems(self.logic.protocolProblems(self._parameterNode.protocolPath),
                                          _("The protocol is valid."))

    def onBuildPackage(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Could not build the package."), waitCursor=True):
            folder = self._folder()
            key = self.logic.buildPackage(folder)
            self.problemList.set_problems([], _("Package with {count} images written to {path}; key in {key}.").format(
                count=len(key.items), path=folder.package_dir, key=folder.key_path))

    def onAudit(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Could not audit the package."), waitCursor=True):
            self.problemList.set_problems(self.logic.audit(self._folder()), _("The audit found no leak."))

    def onRefreshProgress(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Could not read the answers."), waitCursor=True):
            rows = self.logic.progress(self._folder(), splitList(self._parameterNode.readerStores, ";"))
            self.progressTable.set_rows(rows)

    def onAnalyze(self) -> None:
        import qt

        with slicer.util.tryWithErrorDisplay(_("The analysis failed."), waitCursor=True):
            report = self.logic.analyze(self._folder(), splitList(self._parameterNode.readerStores, ";"))
            qt.QDesktopServices.openUrl(qt.QUrl.fromLocalFile(str(report)))


def isSet(path) -> bool:
    """True when a path parameter holds a path (an unset one reads as '.')."""
    return str(path) not in ("", ".")


def optional(path):
    return path if isSet(path) else None


def splitList(text: str, separator: str) -> list[str]:
    return [item.strip() for item in (text or "").split(separator) if item.strip()]


#
# ReaderStudyLogic
#


class ReaderStudyLogic(ScriptedLoadableModuleLogic):
    """Converts between MRML and the NetZeroAICT study core; all of it usable without the widget.

    Uses ScriptedLoadableModuleLogic base class, available at:
    https://github.com/Slicer/Slicer/blob/main/Base/Python/slicer/ScriptedLoadableModule.py
    """

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)

    def getParameterNode(self):
        return ReaderStudyParameterNode(super().getParameterNode())

    def openReading(self, packagePath, readerId: str, storePath=None):
        """(ReadingSession, CaseViewer) for the reader's first open session of the package."""
        from NetZeroAICT.mrml.hanging import HangingProtocol
        from NetZeroAICT.study import ResultsStore
        from ReaderStudyLib.reading import ReaderPackage, ReadingSession
        from ReaderStudyLib.viewer import CaseViewer

        package = ReaderPackage.open(packagePath)
        store = ResultsStore(storePath or Path(packagePath).parent / f"answers-{readerId}.sqlite")
        session = ReadingSession(package, store, readerId)
        logging.info(f"Reader {readerId}: session {session.session_id}, {len(session.codes)} cases")
        viewer = CaseViewer(HangingProtocol.from_dict(package.hanging_protocol), slicer.mrmlScene,
                            volume_rendering_logic=slicer.modules.volumerendering.logic(),
                            after_show=slicer.util.resetSliceViews)
        return session, viewer

    def studyFolder(self, protocolPath, packagePath=None, keyPath=None, resultsPath=None):
        from ReaderStudyLib.lead import StudyFolder

        return StudyFolder(Path(protocolPath), packagePath, keyPath, results_dir=resultsPath)

    def createProtocol(self, casesPath, protocolPath, studyId: str, indication: str, readers: list[str]):
        """Write a validated protocol for the cases; missing synthetic CTAs are synthesised (can take minutes)."""
        from ReaderStudyLib import lead

        return lead.create_protocol(casesPath, protocolPath, study_id=studyId, indication=indication,
                                    readers=readers, log=logging.info)

    def protocolProblems(self, protocolPath) -> list[str]:
        from ReaderStudyLib import lead

        return lead.protocol_problems(protocolPath)

    def buildPackage(self, folder):
        from ReaderStudyLib import lead

        return lead.build_study_package(folder)

    def audit(self, folder) -> list[str]:
        from ReaderStudyLib import lead

        return lead.audit(folder)

    def progress(self, folder, readerStores: list[str]) -> list[dict]:
        from NetZeroAICT.study import ResultsStore, load_protocol
        from ReaderStudyLib import lead

        if readerStores:
            lead.gather(folder, readerStores)
        with ResultsStore(folder.lead_store_path) as store:
            return lead.progress_rows(store, load_protocol(folder.protocol_path).study_id)

    def analyze(self, folder, readerStores: list[str]) -> Path:
        from NetZeroAICT.study import ResultsStore
        from ReaderStudyLib import lead

        if readerStores:
            lead.gather(folder, readerStores)
        with ResultsStore(folder.lead_store_path) as store:
            report, _results = lead.analyze(folder, store)
        return report


#
# ReaderStudyTest
#


class ReaderStudyTest(ScriptedLoadableModuleTest):
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
        self.test_ReaderStudyDemo()

    def test_ReaderStudyDemo(self):
        """A small three-reader study, end to end in this Slicer: phantoms, synthesis, package, blinded reading
        in the real scene, analysis report."""
        import tempfile

        from ReaderStudyLib.demo_study import run_demo_study

        self.delayDisplay("Starting the demo study")
        with tempfile.TemporaryDirectory(dir=slicer.app.temporaryPath) as folder:
            summary = run_demo_study(folder, n_cases=4, scene=slicer.mrmlScene, train_epochs=2, log=logging.info)
            self.assertEqual(summary["scene_leaks"], [])
            self.assertEqual(summary["package_audit"], [])
            self.assertTrue(Path(summary["report"]).is_file())
        self.delayDisplay("Test passed")
