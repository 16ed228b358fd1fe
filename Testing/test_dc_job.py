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
                                                   dicom_out=str(tmp_path)), python="py", dicom_files=["a.dcm"])
    job.work_dir = tmp_path
    command = job.command()
    # with a DICOM copy asked for, the engine reads the input's own DICOM series
    assert command[:5] == ["py", "-m", "NetZeroAICT", "synthesize", str(tmp_path / "ncct_dicom")]
    for flag, value in (("--indication", "pulmonary"), ("--device", "cpu"), ("--progress", "json"),
                        ("--out", str(tmp_path / "cta.nrrd")), ("--dicom-out", str(tmp_path))):
        assert command[command.index(flag) + 1] == value
    assert "--accept-warnings" in command and "--uncertainty" in command and "--lumen-hu" not in command
    job.request = SynthesisRequest("aorta", lumen_hu=380.0)
    command = job.command()
    assert command[command.index("--lumen-hu") + 1] == "380"
    with pytest.raises(ValueError, match="between 100 and 1000 HU"):
        SynthesisRequest("aorta", lumen_hu=20.0)


def test_the_input_is_never_overwritten(ncct_node):
    with pytest.raises(ValueError, match="output volume is the input volume"):
        SynthesisJob(ncct_node, SynthesisRequest("aorta"), output_node=ncct_node)


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
])
def test_failures_are_explained_and_add_nothing(ncct_node, mrml_scene, mode, status, says):
    before = scene_state(mrml_scene)
    outcome = SynthesisJob(ncct_node, SynthesisRequest("aorta"), process_factory=double(mode)).start().wait(60)
    assert outcome.status == status
    assert says in outcome.message
    assert scene_state(mrml_scene) == before


# -- the real engine: python -m NetZeroAICT synthesize in a subprocess --------------------------------------
TINY = {"name": "monai.networks.nets.UNet",
        "kwargs": {"spatial_dims": 3, "in_channels": 3, "out_channels": 1, "channels": [8, 16, 32],
                   "strides": [2, 2], "num_res_units": 1, "norm": "batch", "act": "prelu"}}


@pytest.fixture(scope="module")
def engine_model(tmp_path_factory):
    """A tiny aorta model for the real engine, at 3 mm like the test CT so a run takes seconds.

    Its weights are a fixed-seed initialisation, not trained: these tests check the way from node to engine
    and back (geometry, marking, record, cancel, errors); the models' quality is tested with the engine.
    """
    torch = pytest.importorskip("torch")
    from NetZeroAICT.synthesis import save_model
    from NetZeroAICT.synthesis.network import build_network
    from NetZeroAICT.synthesis.training import new_card

    torch.manual_seed(0)
    card = new_card("aorta", spacing_mm=3.0, patch=32, architecture=TINY, version="0.0.1-test")
    card.inference = {"overlap": 0.1, "tta_flips": [[], [2]], "sw_batch_size": 1, "roi_size": [64, 64, 64]}
    folder = tmp_path_factory.mktemp("engine_model")
    save_model(build_network(TINY).eval(), card, folder)
    return folder


def test_real_engine_asks_to_confirm_warnings_and_adds_nothing(ncct_node, mrml_scene, engine_model):
    before = scene_state(mrml_scene)
    outcome = SynthesisJob(ncct_node, SynthesisRequest("aorta", device="cpu", model_dir=str(engine_model))).start().wait(120)
    assert outcome.status == "needs_confirmation", outcome.message
    assert any("does not cover the chest" in reason for reason in outcome.reasons)  # abdomen-pelvis CT, aorta asked
    assert scene_state(mrml_scene) == before


def test_real_engine_node_in_subprocess_node_out(ncct_node, mrml_scene, engine_model, tmp_path):
    from slicer.util import arrayFromVolume

    from NetZeroAICT.mrml.synthetic import run_record
    from NetZeroAICT.ui.footprint import RunFootprint

    request = SynthesisRequest("aorta", device="cpu", accept_warnings=True, model_dir=str(engine_model))
    stages = []
    t0 = time.monotonic()
    outcome = SynthesisJob(ncct_node, request, on_progress=lambda f, stage, m: stages.append(stage)).start().wait(300)
    assert outcome.status == "done", outcome.message
    print(f"real engine, node to node: {time.monotonic() - t0:.1f} s")
    cta, uncertainty = outcome.cta_node, outcome.uncertainty_node
    np.testing.assert_array_equal(matrix_of(cta), matrix_of(ncct_node))
    np.testing.assert_array_equal(matrix_of(uncertainty), matrix_of(ncct_node))
    assert cta.GetName() == "abdomen NCCT – digital contrast (aorta) SYNTHETIC"
    record = run_record(cta)
    assert record["synthetic"] is True and record["model"]["version"] == "0.0.1-test"
    assert cta.GetAttribute("NetZeroAICT.ModelId") == record["model"]["id"] == "nzct-aorta"
    assert cta.GetAttribute("NetZeroAICT.Description").startswith("SYNTHETIC digital contrast (aorta)")
    assert {"inference", "done"} <= set(stages)
    ncct, synthetic = arrayFromVolume(ncct_node).astype(np.float32), arrayFromVolume(cta)
    bone, air = ncct > 500, ncct < -500
    np.testing.assert_array_equal(synthetic[bone], ncct[bone])  # the engine adds enhancement; bone and air
    np.testing.assert_array_equal(synthetic[air], ncct[air])    # come back exactly as scanned, through the node
    assert arrayFromVolume(uncertainty).min() >= 0
    footprint = RunFootprint.from_record(record)
    assert footprint.energy_wh > 0 and footprint.contrast_ml > 0 and footprint.net_kg_co2e > 0
    _show_and_render(mrml_scene, ncct_node, outcome, tmp_path)


def _show_and_render(scene, ncct_node, outcome, tmp_path):
    """What the module does after a run (layout, windows, overlay), rendered headless to PNG."""
    import os

    import slicer

    from DigitalContrastLib.views import show_results
    from NetZeroAICT.mrml.synthetic import views_showing_synthetic

    from .slice_render import render, save_side_by_side, slice_logics

    layout = slicer.vtkMRMLLayoutLogic()
    layout.SetMRMLScene(scene)
    logics = {}
    try:
        from NetZeroAICT.mrml.synthetic import select_comparison_layout

        select_comparison_layout(layout.GetLayoutNode())
        logics = slice_logics(scene, ["Red", "Yellow"])
        shown = show_results(scene, ncct_node, outcome.cta_node, outcome.uncertainty_node, "aorta")
        assert views_showing_synthetic(scene) == ["Yellow"] and shown["overlay_range_hu"][1] >= 1.0
        images = [render(logics[name]) for name in ("Red", "Yellow")]
        assert all(image[..., :3].max() > 100 for image in images), "both views show the CT"
        save_side_by_side(images, tmp_path / "real_engine_comparison.png")
        if os.environ.get("NETZEROAICT_KEEP_PNG"):
            save_side_by_side(images, os.path.join(os.environ["NETZEROAICT_KEEP_PNG"], "real_engine_comparison.png"))
    finally:
        for logic in [*logics.values(), layout]:
            logic.SetMRMLScene(None)


def test_real_engine_cancel_during_inference(ncct_node, mrml_scene, engine_model):
    before = scene_state(mrml_scene)
    request = SynthesisRequest("aorta", device="cpu", accept_warnings=True, model_dir=str(engine_model))
    job = SynthesisJob(ncct_node, request).start()
    deadline = time.monotonic() + 120
    while job.stage != "inference" and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert job.stage == "inference" and job.running
    t0 = time.monotonic()
    assert job.cancel().status == "cancelled"
    assert time.monotonic() - t0 < 5 and job.process.finished
    assert scene_state(mrml_scene) == before and not job.work_dir.exists()


def test_real_engine_failure_is_a_clear_error(ncct_node, mrml_scene, engine_model, tmp_path):
    import shutil

    broken = tmp_path / "model"
    shutil.copytree(engine_model, broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\0")
    before = scene_state(mrml_scene)
    request = SynthesisRequest("aorta", device="cpu", accept_warnings=True, model_dir=str(broken))
    outcome = SynthesisJob(ncct_node, request).start().wait(120)
    assert outcome.status == "error"
    assert "SHA-256" in outcome.message and "model.safetensors" in outcome.message
    assert scene_state(mrml_scene) == before


def test_real_engine_refuses_what_is_not_ct(mrml_scene, engine_model):
    from NetZeroAICT import Volume
    from NetZeroAICT.mrml.volumes import volume_to_node

    photo = np.random.default_rng(0).integers(0, 256, (16, 64, 64)).astype(np.float32)
    node = volume_to_node(Volume(photo, (1.0, 1.0, 1.0)), mrml_scene, name="8-bit image")
    before = scene_state(mrml_scene)
    outcome = SynthesisJob(node, SynthesisRequest("aorta", device="cpu", model_dir=str(engine_model))).start().wait(120)
    assert outcome.status == "refused" and outcome.reasons
    assert scene_state(mrml_scene) == before


# -- the input check before a run, on nodes (the core's characterisation) ------------------------------------
def test_input_check_on_nodes_warns_and_suggests(mrml_scene, ncct_node, cect_dicom_path, head_dicom_path):
    pytest.importorskip("NetZeroAICT.characterise")
    from NetZeroAICT import read_volume
    from NetZeroAICT.mrml.volumes import volume_to_node

    from DigitalContrastLib.input_check import check_node, suggest_indication_for

    check = check_node(ncct_node, "aorta")
    assert check.status == "warn" and any("chest" in r for r in check.reasons)
    enhanced = volume_to_node(read_volume(cect_dicom_path), mrml_scene, name="portal venous CT")
    assert any("already contrast-enhanced" in r for r in check_node(enhanced, "aorta").reasons)
    head = volume_to_node(read_volume(head_dicom_path), mrml_scene, name="head CT")
    assert suggest_indication_for(head) == "neck_brain"
    assert suggest_indication_for(ncct_node) == "aorta"


def test_sample_phantom_is_generated_not_downloaded(mrml_scene):
    pytest.importorskip("NetZeroAICT.foundry")
    from slicer.util import arrayFromVolume

    from NetZeroAICT.foundry import make_pair
    from NetZeroAICT.mrml.synthetic import is_synthetic
    from NetZeroAICT.mrml.volumes import node_to_volume

    from DigitalContrastLib.sample import SAMPLE_INDICATION, SAMPLE_NAME, SAMPLE_SEED, load_sample_phantom

    node = load_sample_phantom(mrml_scene)
    assert node.GetName() == SAMPLE_NAME == "Sample NCCT phantom"
    assert node.GetAttribute("NetZeroAICT.Phantom") == "true" and "not a patient" in node.GetAttribute("NetZeroAICT.PhantomCase")
    assert not is_synthetic(node), "the phantom is an input; only engine outputs carry the SYNTHETIC output mark"
    pair = make_pair(SAMPLE_INDICATION, SAMPLE_SEED)
    np.testing.assert_array_equal(arrayFromVolume(node), pair.ncct.voxels)
    assert node_to_volume(node).same_grid(pair.ncct)


def test_real_engine_writes_a_derived_dicom_series(mrml_scene, engine_model, cect_dicom_path, tmp_path):
    """A DICOM copy: the engine reads the input's own DICOM files and writes a derived, synthetic series."""
    import pydicom

    from NetZeroAICT import read_volume
    from NetZeroAICT.mrml.volumes import volume_to_node

    volume = read_volume(cect_dicom_path)
    node = volume_to_node(volume, mrml_scene, name="upper abdomen CT")
    files = [cect_dicom_path / name for name in volume.metadata["files"]]
    out = tmp_path / "dicom"
    with pytest.raises(ValueError, match="needs an input loaded from DICOM"):
        SynthesisJob(node, SynthesisRequest("aorta", dicom_out=str(out)))
    request = SynthesisRequest("aorta", device="cpu", uncertainty=False, accept_warnings=True, dicom_out=str(out),
                               model_dir=str(engine_model))
    outcome = SynthesisJob(node, request, dicom_files=files).start().wait(300)
    assert outcome.status == "done", outcome.message
    np.testing.assert_array_equal(matrix_of(outcome.cta_node), matrix_of(node))
    written = sorted(out.rglob("*.dcm")) or sorted(p for p in out.rglob("*") if p.is_file())
    assert len(written) == len(files)
    first = pydicom.dcmread(written[0], stop_before_pixels=True)
    source = pydicom.dcmread(files[0], stop_before_pixels=True)
    assert "DERIVED" in first.ImageType and "SYNTHETIC" in first.SeriesDescription.upper()
    assert first.StudyInstanceUID == source.StudyInstanceUID and first.SeriesInstanceUID != source.SeriesInstanceUID
