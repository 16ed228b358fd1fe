"""DigitalContrast logic on slicer-core: a volume node goes to the engine in a subprocess and comes back
as synthetic nodes on the input's exact grid; cancel and failures leave the scene as it was."""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest
import vtk

from .conftest import REPO

sys.path.insert(0, str(REPO / "DigitalContrast"))

pytest.importorskip("slicer", reason="slicer-core is needed for the MRML tests")

from DigitalContrastLib.process import SynthesisProcess, parse_line  # noqa: E402
from DigitalContrastLib.request import SynthesisRequest  # noqa: E402
from DigitalContrastLib.synthesis_job import SynthesisJob  # noqa: E402

DOUBLE = REPO / "Testing" / "json_lines_engine.py"


def double(mode):
    """A process factory that runs the protocol test double instead of the engine."""
    def factory(command, env):
        assert command[1:4] == ["-m", "NetZeroAICT", "synthesize"]
        return SynthesisProcess([sys.executable, str(DOUBLE), mode] + command[3:], env)
    return factory


def scene_state(scene):
    """What a user would see change: node ids, names and attributes."""
    state = []
    for index in range(scene.GetNumberOfNodes()):
        node = scene.GetNthNode(index)
        state.append((node.GetID(), node.GetName(), tuple((a, node.GetAttribute(a)) for a in node.GetAttributeNames() or ())))
    return state


@pytest.fixture
def ncct_node(mrml_scene, ncct_abdomen_path):
    from NetZeroAICT import read_volume
    from NetZeroAICT.mrml.volumes import volume_to_node

    return volume_to_node(read_volume(ncct_abdomen_path), mrml_scene, name="abdomen NCCT")


def matrix_of(node):
    matrix = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(matrix)
    return np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)])


def test_parse_line_reads_engine_events_and_keeps_other_lines():
    event = parse_line('{"event": "progress", "stage": "infer", "fraction": 0.5, "message": "half"}\n')
    assert (event.kind, event.data["fraction"], event.message) == ("progress", 0.5, "half")
    assert parse_line("Loading weights...").kind == "log"
    assert parse_line('{"not": "an event"}').kind == "log"
    assert parse_line("{broken json").message == "{broken json"


def test_command_line_follows_the_engine_contract(ncct_node, tmp_path):
    job = SynthesisJob(ncct_node, SynthesisRequest("pulmonary", device="cpu", uncertainty=True, accept_warnings=True,
                                                   dicom_out=str(tmp_path)), python="py")
    job.work_dir = tmp_path
    command = job.command()
    assert command[:5] == ["py", "-m", "NetZeroAICT", "synthesize", str(tmp_path / "ncct.nrrd")]
    for flag, value in (("--indication", "pulmonary"), ("--device", "cpu"), ("--progress", "json"),
                        ("--out", str(tmp_path / "cta.nrrd")), ("--dicom-out", str(tmp_path))):
        assert command[command.index(flag) + 1] == value
    assert "--accept-warnings" in command and "--uncertainty" in command


def test_unknown_indication_is_a_readable_error():
    from NetZeroAICT.errors import NetZeroAICTError

    with pytest.raises(NetZeroAICTError, match="choose one of: aorta"):
        SynthesisRequest("heart")


def test_node_in_subprocess_node_out_on_the_exact_input_grid(ncct_node, mrml_scene):
    progress = []
    job = SynthesisJob(ncct_node, SynthesisRequest("aorta"), process_factory=double("copy"),
                       on_progress=lambda f, stage, message: progress.append(f)).start()
    work_dir = job.work_dir
    outcome = job.wait(timeout_s=120)
    assert outcome.status == "done", outcome.message
    cta = outcome.cta_node
    assert cta.GetName() == "abdomen NCCT – digital contrast (aorta) SYNTHETIC"
    np.testing.assert_array_equal(matrix_of(cta), matrix_of(ncct_node))
    from slicer.util import arrayFromVolume

    np.testing.assert_array_equal(arrayFromVolume(cta), arrayFromVolume(ncct_node).astype(np.float32) + 100)
    assert cta.GetAttribute("NetZeroAICT.Synthetic") == "true"
    assert cta.GetAttribute("NetZeroAICT.ModelId") == "test-double"
    assert outcome.uncertainty_node.GetAttribute("NetZeroAICT.Role") == "uncertainty"
    assert progress and progress == sorted(progress)
    assert not work_dir.exists(), "the work folder is removed after the run"


def test_cancel_leaves_the_scene_as_it_was(ncct_node, mrml_scene):
    before = scene_state(mrml_scene)
    finished = []
    job = SynthesisJob(ncct_node, SynthesisRequest("aorta"), process_factory=double("slow"),
                       on_finished=finished.append).start()
    deadline = time.monotonic() + 30
    while job.fraction <= 0.1 and time.monotonic() < deadline:  # wait until it is really working
        job.poll()
        time.sleep(0.05)
    assert job.fraction > 0.1 and job.running
    t0 = time.monotonic()
    outcome = job.cancel()
    assert time.monotonic() - t0 < 5
    assert outcome.status == "cancelled" and finished == [outcome]
    assert job.process.finished and job.process.returncode != 0
    assert not job.work_dir.exists()
    assert job.poll() is outcome  # later polls change nothing
    assert scene_state(mrml_scene) == before


@pytest.mark.parametrize("mode, status, says", [
    ("crash", "error", "RuntimeError: the test double crashed on purpose"),
    ("silent", "error", "without reporting a result"),
    ("refuse", "refused", "not a CT"),
    ("confirm", "needs_confirmation", "already contrast-enhanced"),
])
def test_failures_are_explained_and_add_nothing(ncct_node, mrml_scene, mode, status, says):
    before = scene_state(mrml_scene)
    outcome = SynthesisJob(ncct_node, SynthesisRequest("aorta"), process_factory=double(mode)).start().wait(60)
    assert outcome.status == status
    assert says in outcome.message
    assert scene_state(mrml_scene) == before


def test_confirmed_warnings_run_through(ncct_node):
    request = SynthesisRequest("aorta", accept_warnings=True, uncertainty=False)
    outcome = SynthesisJob(ncct_node, request, process_factory=double("confirm")).start().wait(120)
    assert outcome.status == "done" and outcome.uncertainty_node is None
