"""One synthesis run from a volume node to synthetic nodes: node in → engine subprocess → nodes out.

:class:`SynthesisJob` writes the input node to a private work folder, starts the engine CLI through an
injected process factory, turns its events into progress callbacks, and — only when the engine has
finished successfully — loads the synthetic CTA (and uncertainty map) onto volume nodes on exactly the
input's IJK→RAS grid, marks them synthetic and attaches the run record. Until then the scene is not
touched, so a cancel or a failure leaves it as it was. Plain MRML (slicer-core or Slicer), no Qt.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import vtk

from NetZeroAICT.mrml.synthetic import mark_synthetic, synthetic_node_name, uncertainty_node_name
from NetZeroAICT.mrml.volumes import node_to_volume, volume_to_node
from NetZeroAICT.volume_io import read_volume, write_volume

from .process import (EXIT_DONE, EXIT_NEEDS_CONFIRMATION, EXIT_REFUSED, ProcessEvent, ProcessFactory,
                      SynthesisProcess)
from .request import SynthesisRequest, engine_environment, python_executable

#: Largest distance (mm) between the engine's output grid and the input grid that still counts as the same.
GRID_TOLERANCE_MM = 1e-3


class SynthesisFailed(RuntimeError):
    """The engine ended without a result; ``outcome`` says how."""

    def __init__(self, outcome: "SynthesisOutcome"):
        self.outcome = outcome
        super().__init__(outcome.message)


@dataclass
class SynthesisOutcome:
    """How a run ended.

    Attributes:
        status: ``done``, ``cancelled``, ``error``, ``refused`` (the input check refused the input) or
            ``needs_confirmation`` (warnings the user must accept, then run again with ``accept_warnings``).
        message: one readable paragraph for the user.
        reasons: refusal reasons or warnings, each a full sentence.
        record: the engine's run record (``done`` only).
        cta_node, uncertainty_node: the loaded nodes (``done`` only).
        elapsed_s: wall time of the run.
    """

    status: str
    message: str = ""
    reasons: list[str] = field(default_factory=list)
    record: dict | None = None
    cta_node: object = None
    uncertainty_node: object = None
    elapsed_s: float = 0.0


def default_process_factory(command: list, env: dict) -> SynthesisProcess:
    return SynthesisProcess(command, env)


class SynthesisJob:
    """Run the engine on ``input_node`` for ``request``; call :meth:`poll` until :attr:`outcome` is set.

    Args:
        input_node: the NCCT (``vtkMRMLScalarVolumeNode``).
        request: what to compute.
        output_node, uncertainty_output_node: existing nodes to fill instead of creating new ones.
        process_factory: ``(command, env) -> runner`` (default: a real :class:`SynthesisProcess`).
        dicom_files: the DICOM files the input node was loaded from (Slicer: ``DICOM.instanceUIDs`` resolved in
            the DICOM database). Needed for ``request.dicom_out``: the engine then reads the series itself, so
            the derived series keeps the patient, study and frame of reference.
        on_progress: called with (fraction 0–1, stage, message) for each progress event.
        on_log: called with each non-progress line (engine log, stderr).
        on_finished: called once with the :class:`SynthesisOutcome`.
    """

    def __init__(self, input_node, request: SynthesisRequest, output_node=None, uncertainty_output_node=None,
                 process_factory: ProcessFactory | None = None, python: str | None = None,
                 dicom_files: list | None = None,
                 on_progress: Callable[[float, str, str], None] | None = None,
                 on_log: Callable[[str], None] | None = None,
                 on_finished: Callable[[SynthesisOutcome], None] | None = None):
        if input_node is None or input_node.GetImageData() is None:
            raise ValueError("select an input volume that holds an image")
        if input_node in (output_node, uncertainty_output_node):
            raise ValueError("the output volume is the input volume: choose another output (or 'Create new volume')")
        if request.dicom_out and not dicom_files:
            raise ValueError("A DICOM copy needs an input loaded from DICOM (its files are the source of the derived "
                             "series). Load the NCCT from the DICOM database, or export NRRD/NIfTI instead.")
        self.input_node = input_node
        self.request = request
        self.dicom_files = [Path(f) for f in dicom_files or []]
        self.output_node = output_node
        self.uncertainty_output_node = uncertainty_output_node
        self.process_factory = process_factory or default_process_factory
        self.python = python or python_executable()
        self.on_progress = on_progress
        self.on_log = on_log
        self.on_finished = on_finished
        self.fraction, self.stage, self.status_message = 0.0, "", ""
        self.outcome: SynthesisOutcome | None = None
        self.process = None
        self.work_dir: Path | None = None
        self._terminal: ProcessEvent | None = None
        self._started = 0.0

    # -- files ----------------------------------------------------------------------------------------
    @property
    def paths(self) -> dict[str, Path]:
        ncct = "ncct_dicom" if self.request.dicom_out else "ncct.nrrd"
        return {name: self.work_dir / file for name, file in
                (("ncct", ncct), ("cta", "cta.nrrd"), ("uncertainty", "uncertainty.nrrd"), ("record", "run.json"))}

    def command(self) -> list[str]:
        p = self.paths
        return [self.python, "-m", "NetZeroAICT"] + self.request.engine_arguments(
            p["ncct"], p["cta"], p["uncertainty"], p["record"])

    # -- running --------------------------------------------------------------------------------------
    def start(self) -> "SynthesisJob":
        """Write the input to the work folder and start the engine (returns at once)."""
        self._started = time.monotonic()
        self.work_dir = Path(tempfile.mkdtemp(prefix="DigitalContrast-"))
        try:
            if self.request.dicom_out:
                self._copy_dicom_series(self.paths["ncct"])
            else:
                write_volume(node_to_volume(self.input_node), self.paths["ncct"], compress=False)
            self.process = self.process_factory(self.command(), engine_environment())
            self.process.start()
        except BaseException:
            self._remove_work_dir()
            raise
        return self

    def _copy_dicom_series(self, folder: Path) -> None:
        folder.mkdir()
        for index, source in enumerate(self.dicom_files):
            shutil.copy2(source, folder / f"{index:05d}_{source.name}")

    @property
    def running(self) -> bool:
        return self.process is not None and self.outcome is None

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self._started if self._started else 0.0

    def poll(self) -> SynthesisOutcome | None:
        """Handle what the engine said since the last call; once it has ended, finish the run.

        Returns the outcome when the run has ended (also passed to ``on_finished``), else None.
        """
        if self.outcome is not None or self.process is None:
            return self.outcome
        finished = self.process.finished  # read before draining, so no line written before the exit is missed
        for event in self.process.poll():
            self._handle(event)
        if finished:
            self._finish(self.process.returncode)
        return self.outcome

    def wait(self, timeout_s: float = 600.0, interval_s: float = 0.05) -> SynthesisOutcome:
        """Poll until the run ends (batch use and tests); cancels and raises TimeoutError after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while self.poll() is None:
            if time.monotonic() > deadline:
                self.cancel()
                raise TimeoutError(f"synthesis did not finish within {timeout_s:.0f} s; cancelled")
            time.sleep(interval_s)
        return self.outcome

    def cancel(self) -> SynthesisOutcome:
        """Kill the engine, delete the work folder; the scene is left exactly as it was."""
        if self.outcome is None:
            if self.process is not None:
                self.process.cancel()
            self._conclude(SynthesisOutcome("cancelled", "Synthesis cancelled; nothing was added to the scene.",
                                            elapsed_s=self.elapsed_s))
        return self.outcome

    def _handle(self, event: ProcessEvent) -> None:
        if event.kind == "progress":
            self.fraction = float(event.data.get("fraction", self.fraction))
            self.stage = str(event.data.get("stage", self.stage))
            self.status_message = event.message
            if self.on_progress:
                self.on_progress(self.fraction, self.stage, self.status_message)
        elif event.kind in ("done", "error", "refused", "needs_confirmation", "cancelled"):
            self._terminal = event
        elif self.on_log and event.message:
            self.on_log(event.message)

    def _finish(self, returncode: int | None) -> None:
        terminal = self._terminal
        data = terminal.data if terminal else {}
        if returncode == EXIT_DONE and terminal is not None and terminal.kind == "done":
            try:
                outcome = self._load_results(data)
            except Exception as error:  # a result that cannot be loaded is a failed run, said plainly
                outcome = SynthesisOutcome("error", f"The synthetic images could not be loaded: {error}")
        elif terminal is not None and terminal.kind == "cancelled":
            outcome = SynthesisOutcome("cancelled", "The engine stopped before finishing; nothing was added to the scene.")
        elif returncode == EXIT_REFUSED or (terminal is not None and terminal.kind == "refused"):
            reasons = [str(r) for r in data.get("reasons", [])]
            outcome = SynthesisOutcome("refused", "The input was refused: " + " ".join(reasons), reasons)
        elif returncode == EXIT_NEEDS_CONFIRMATION or (terminal is not None and terminal.kind == "needs_confirmation"):
            warnings = [str(w) for w in data.get("warnings", [])]
            outcome = SynthesisOutcome("needs_confirmation",
                                       "The input needs your confirmation: " + " ".join(warnings), warnings)
        else:
            outcome = SynthesisOutcome("error", self._failure_message(returncode, data))
        outcome.elapsed_s = self.elapsed_s
        self._conclude(outcome)

    def _failure_message(self, returncode: int | None, data: dict) -> str:
        if data.get("message"):
            return f"Synthesis failed: {data['message']}"
        tail = self.process.stderr_tail().strip().splitlines()
        last = tail[-1] if tail else "no message"
        if returncode == EXIT_DONE:
            return "Synthesis ended without reporting a result (the engine printed no 'done' line)."
        return f"Synthesis failed (the engine exited with code {returncode}): {last}"

    def _conclude(self, outcome: SynthesisOutcome) -> None:
        self.outcome = outcome
        self._remove_work_dir()
        if self.on_finished:
            self.on_finished(outcome)

    def _remove_work_dir(self) -> None:
        if self.work_dir is not None:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    # -- results --------------------------------------------------------------------------------------
    def _load_results(self, done: dict) -> SynthesisOutcome:
        record = done.get("record") or {}
        indication = self.request.indication
        name = self.input_node.GetName()
        # read both files before any node is touched, so a bad file leaves the scene as it was
        cta = self._read_on_input_grid(Path(done.get("out") or self.paths["cta"]))
        uncertainty = None
        if self.request.uncertainty and done.get("uncertainty"):
            uncertainty = self._read_on_input_grid(Path(done["uncertainty"]))
        cta_node = self._put_on_node(cta, self.output_node, synthetic_node_name(name, indication))
        mark_synthetic(cta_node, indication, record, role="cta", source_node=self.input_node)
        uncertainty_node = None
        if uncertainty is not None:
            uncertainty_node = self._put_on_node(uncertainty, self.uncertainty_output_node,
                                                 uncertainty_node_name(name, indication))
            mark_synthetic(uncertainty_node, indication, record, role="uncertainty", source_node=self.input_node)
        return SynthesisOutcome("done", f"Synthetic CTA ready: {cta_node.GetName()}", record=record,
                                cta_node=cta_node, uncertainty_node=uncertainty_node)

    def _read_on_input_grid(self, path: Path):
        """Read an engine output; it must sample the input's grid (to :data:`GRID_TOLERANCE_MM`)."""
        volume = read_volume(path)
        reference = node_to_volume(self.input_node)
        if not volume.same_grid(reference, tol_mm=GRID_TOLERANCE_MM):
            raise ValueError(f"{path.name} is not on the input's voxel grid (shape {volume.shape_ijk} vs "
                             f"{reference.shape_ijk})")
        return volume.with_voxels(np.asarray(volume.voxels, dtype=np.float32))

    def _put_on_node(self, volume, node, name: str):
        """Put ``volume`` on ``node`` (new when None) with the input's IJK→RAS matrix, copied exactly."""
        scene = self.input_node.GetScene()
        if node is None:
            node = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", name)
        else:
            node.SetName(name)
        volume_to_node(volume, scene, node=node)
        matrix = vtk.vtkMatrix4x4()
        self.input_node.GetIJKToRASMatrix(matrix)
        node.SetIJKToRASMatrix(matrix)
        return node
