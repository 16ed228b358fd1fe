"""Synthesis engine: safety of weights and inputs, geometry, tissue preservation, labelling, record, cancel.

A tiny model (UNet 8–32 channels) is trained for a few seconds on tube phantoms made here, so these tests do
not depend on the shipped models; tests of the shipped models are in test_synthesis_models.py.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from NetZeroAICT import Volume, read_volume, write_volume
from NetZeroAICT.errors import NetZeroAICTError, ValidationError, VolumeError
from NetZeroAICT.indications import INDICATIONS
from NetZeroAICT.synthesis import (InputRefused, NeedsConfirmation, SynthesisCancelled, SynthesisEngine,
                                   load_model, read_card, synthesize_file)
from Testing.synthesis_tubes import tube_pair, write_tube_dataset

TINY = {"name": "monai.networks.nets.UNet",
        "kwargs": {"spatial_dims": 3, "in_channels": 3, "out_channels": 1, "channels": [8, 16, 32],
                   "strides": [2, 2], "num_res_units": 1, "norm": "batch", "act": "prelu"}}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A tiny aorta model trained on tube phantoms (≈ 15 s on 2 cores)."""
    from NetZeroAICT.synthesis.training import train

    root = tmp_path_factory.mktemp("tiny")
    write_tube_dataset(root / "data")
    # sharp patches only: 400 steps are too few to learn thick slices too, and these tests are of the engine
    train("aorta", root / "data", root / "model", epochs=16, steps_per_epoch=25, batch_size=2, patch=32,
          learning_rate=5e-3, architecture=TINY, spacing_mm=1.5, show_progress=False, coarse_fraction=0.0)
    return root / "model"


@pytest.fixture
def tube_ncct(tmp_path):
    ncct, cta, lumen, body = tube_pair(9)
    path = tmp_path / "ncct.nii.gz"
    write_volume(ncct, path)
    return path, ncct, cta, lumen


def test_training_writes_card_log_and_checkpoint(tiny_model):
    card = read_card(tiny_model)
    assert card.training["n_train_cases"] == 3 and card.training["epochs_run"] == 16
    assert card.training["train_cases"] == ["case_000", "case_001", "case_002"]
    assert "research" in card.intended_use.lower() and "not for clinical use" in card.intended_use
    log = (tiny_model / "train_log.csv").read_text().splitlines()
    assert len(log) == 17 and "val_lumen_mae_hu" in log[0]
    assert (tiny_model / "checkpoint" / "optimizer.safetensors").is_file()


def test_resume_continues_from_checkpoint(tmp_path):
    from NetZeroAICT.synthesis.training import train

    write_tube_dataset(tmp_path / "data", seeds_train=(0,), seeds_val=())
    kwargs = dict(steps_per_epoch=2, batch_size=1, patch=32, architecture=TINY, spacing_mm=1.5, show_progress=False)
    train("aorta", tmp_path / "data", tmp_path / "m", epochs=1, **kwargs)
    card = train("aorta", tmp_path / "data", tmp_path / "m", epochs=3, resume=True, **kwargs)
    rows = (tmp_path / "m" / "train_log.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2", "3"]
    assert card.training["epochs_run"] == 3
    # a run trained with flips does not go on without them (its card would claim the other)
    with pytest.raises(NetZeroAICTError, match="trained with flips along"):
        train("aorta", tmp_path / "data", tmp_path / "m", epochs=4, resume=True, flip_axes=(), **kwargs)


def test_a_run_killed_while_saving_keeps_its_checkpoint(tmp_path, monkeypatch):
    """A run stopped while it writes its checkpoint (here: the optimizer's file half written) leaves the previous
    epoch's checkpoint whole and its log without the unsaved epoch; resumed, it goes on from there. A new run in
    the same folder starts a new log."""
    import safetensors.torch

    from NetZeroAICT.synthesis.training import train

    write_tube_dataset(tmp_path / "data", seeds_train=(0,), seeds_val=())
    kwargs = dict(steps_per_epoch=2, batch_size=1, patch=32, architecture=TINY, spacing_mm=1.5, show_progress=False,
                  mine_every=0)
    train("aorta", tmp_path / "data", tmp_path / "m", epochs=2, **kwargs)
    ckpt = tmp_path / "m" / "checkpoint"
    saved = {p.name: p.read_bytes() for p in ckpt.iterdir()}
    real_save = safetensors.torch.save_file

    class Killed(Exception):
        pass

    def dying_save(tensors, path, *args, **kw):
        if any(".exp_avg" in k for k in tensors):        # the optimizer's moments: half the file, then the end
            real_save(tensors, path, *args, **kw)
            Path(path).write_bytes(Path(path).read_bytes()[:100])
            raise Killed
        return real_save(tensors, path, *args, **kw)

    monkeypatch.setattr(safetensors.torch, "save_file", dying_save)
    with pytest.raises(Killed):
        train("aorta", tmp_path / "data", tmp_path / "m", epochs=4, resume=True, **kwargs)
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in ckpt.iterdir() if not p.name.startswith(".")} == saved
    log = list(csv.DictReader((tmp_path / "m" / "train_log.csv").open()))
    assert [int(r["epoch"]) for r in log] == [1, 2]
    card = train("aorta", tmp_path / "data", tmp_path / "m", epochs=4, resume=True, **kwargs)
    assert card.training["epochs_run"] == 4
    assert [int(r["epoch"]) for r in csv.DictReader((tmp_path / "m" / "train_log.csv").open())] == [1, 2, 3, 4]
    # a checkpoint of an older version, whose rows lack a column: the log gets it, every value in its column
    state_path = ckpt / "state.json"
    state = json.loads(state_path.read_text())
    for row in state["history"]:
        del row["lr"]
    state_path.write_text(json.dumps(state))
    train("aorta", tmp_path / "data", tmp_path / "m", epochs=5, resume=True, **kwargs)
    rows = list(csv.DictReader((tmp_path / "m" / "train_log.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4, 5] and [r["lr"] for r in rows[:4]] == [""] * 4
    assert 0 < float(rows[4]["lr"]) < 1 and float(rows[4]["train_loss"]) > 0
    train("aorta", tmp_path / "data", tmp_path / "m", epochs=1, **kwargs)   # not resumed: a new run
    assert [int(r["epoch"]) for r in csv.DictReader((tmp_path / "m" / "train_log.csv").open())] == [1]


def test_resumed_time_budget_counts_the_time_already_spent(tmp_path):
    """``max_minutes`` is the whole training's budget: a resumed run goes on with the clock (and so with the
    learning-rate and thick-slice schedules) where it stopped, and one whose budget is spent trains no more."""
    from NetZeroAICT.synthesis.training import RECIPE, train

    write_tube_dataset(tmp_path / "data", seeds_train=(0,), seeds_val=())
    kwargs = dict(steps_per_epoch=2, batch_size=1, patch=32, architecture=TINY, spacing_mm=1.5, show_progress=False)
    train("aorta", tmp_path / "data", tmp_path / "m", epochs=2, max_minutes=60, **kwargs)
    state_path = tmp_path / "m" / "checkpoint" / "state.json"
    state = json.loads(state_path.read_text())
    state["history"][-1]["elapsed_s"] = 1000.0   # as if the first run had trained 1000 s of its 3600
    state_path.write_text(json.dumps(state))
    card = train("aorta", tmp_path / "data", tmp_path / "m", epochs=4, max_minutes=60, resume=True, **kwargs)
    rows = list(csv.DictReader((tmp_path / "m" / "train_log.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    assert all(float(r["elapsed_s"]) >= 1000 for r in rows[2:]) and card.training["training_time_s"] >= 1000
    # epoch 3 is 28 % into the budget, past the warm-up (cosine share 0.87 there; a clock started again would
    # put it back in the warm-up, whose 5 % of an hour is 180 s); epoch 2 was in the warm-up
    peak = RECIPE["learning_rate"]
    assert float(rows[2]["lr"]) > 0.7 * peak and float(rows[1]["lr"]) < float(rows[2]["lr"])

    spent = train("aorta", tmp_path / "data", tmp_path / "m", epochs=10, max_minutes=10, resume=True, **kwargs)
    assert spent.training["epochs_run"] == 4
    assert len(list(csv.DictReader((tmp_path / "m" / "train_log.csv").open()))) == 4
    assert (tmp_path / "m" / "model.safetensors").is_file()

    other = dict(kwargs, architecture="unet-full-res")
    with pytest.raises(NetZeroAICTError, match=r"trained with another architecture \(UNet, channels \[8, 16, 32\]"):
        train("aorta", tmp_path / "data", tmp_path / "m", epochs=10, resume=True, **other)
    state = json.loads(state_path.read_text())
    del state["architecture"]   # a checkpoint from before the network was recorded: its weights tell
    state_path.write_text(json.dumps(state))
    with pytest.raises(NetZeroAICTError, match="do not fit the network"):
        train("aorta", tmp_path / "data", tmp_path / "m", epochs=10, resume=True, **other)
    with pytest.raises(NetZeroAICTError, match=r"nothing to train: 0 epoch\(s\) of 2 step\(s\)"):
        train("aorta", tmp_path / "data", tmp_path / "fresh", epochs=0, **kwargs)
    with pytest.raises(NetZeroAICTError, match="a batch of 0 patches"):
        train("aorta", tmp_path / "data", tmp_path / "fresh", epochs=1, **{**kwargs, "batch_size": 0})


def test_tampered_weights_are_refused(tiny_model, tmp_path):
    import shutil

    folder = tmp_path / "tampered"
    shutil.copytree(tiny_model, folder)
    blob = bytearray((folder / "model.safetensors").read_bytes())
    blob[len(blob) // 2] ^= 0x01
    (folder / "model.safetensors").write_bytes(bytes(blob))
    with pytest.raises(ValidationError, match="SHA-256.*does not match the model card"):
        load_model(folder)
    with pytest.raises(ValidationError):
        SynthesisEngine("aorta", folder, "cpu").load()


def test_malformed_card_names_the_field(tiny_model, tmp_path):
    import shutil

    folder = tmp_path / "bad"
    shutil.copytree(tiny_model, folder)
    card = json.loads((folder / "model.json").read_text())
    card["windows_hu"] = [[0, 100]]
    (folder / "model.json").write_text(json.dumps(card))
    with pytest.raises(ValidationError, match="windows_hu"):
        read_card(folder)


def test_output_lies_exactly_on_an_oblique_anisotropic_input_grid(tiny_model, tmp_path):
    ncct, *_ = tube_pair(5)
    angle = np.radians(12)
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    oblique = Volume(ncct.voxels[:, :, :], (1.1, 1.3, 2.0), (5.0, -7.0, 30.0), rotation)
    result = SynthesisEngine("aorta", tiny_model, "cpu").synthesize(oblique, accept_warnings=True)
    assert result.cta.same_grid(oblique) and result.uncertainty.same_grid(oblique)
    assert result.cta.voxels.dtype == np.float32 and np.isfinite(result.cta.voxels).all()


def test_vessels_enhanced_and_tissue_outside_vessels_untouched(tiny_model, tube_ncct):
    path, ncct, cta, lumen = tube_ncct
    result = SynthesisEngine("aorta", tiny_model, "cpu").synthesize(ncct, accept_warnings=True)
    change = result.cta.voxels - ncct.voxels
    inside = lumen.voxels > 0
    far = ~ndimage.binary_dilation(inside, iterations=2)
    assert result.cta.voxels[inside].mean() > 200  # unenhanced blood is 40 HU, the CTA 350 HU
    assert np.array_equal(result.cta.voxels[ncct.voxels > 500], ncct.voxels[ncct.voxels > 500])  # bone exact
    assert np.array_equal(result.cta.voxels[ncct.voxels < -500], ncct.voxels[ncct.voxels < -500])  # air exact
    assert np.mean(change[far] == 0) > 0.85  # most tissue away from vessels is bit-identical
    assert np.abs(change[far]).mean() < 15
    assert result.uncertainty.voxels.min() >= 0 and result.uncertainty.voxels[inside].mean() > 0
    never = (ncct.voxels > 500) | (ncct.voxels < -500)  # bone and air are never enhanced: no uncertainty either
    assert not result.uncertainty.voxels[never].any()


@pytest.mark.parametrize("make, message", [
    (lambda: Volume(np.zeros((1, 64, 64), np.float32) - 500, (1, 1, 1)), "2D image"),
    (lambda: Volume(np.where(np.eye(32)[None].repeat(16, 0) > 0, np.nan, -500).astype(np.float32), (1, 1, 1)), "NaN"),
    (lambda: Volume(np.random.default_rng(0).integers(0, 256, (16, 32, 32)).astype(np.float32), (1, 1, 1)), "8-bit"),
])
def test_unusable_inputs_are_refused_with_reasons(tiny_model, make, message):
    with pytest.raises(InputRefused, match=message) as caught:
        SynthesisEngine("aorta", tiny_model, "cpu").synthesize(make())
    assert caught.value.reasons and all(r.endswith(".") for r in caught.value.reasons)


def test_missing_file_is_a_clear_error(tiny_model, tmp_path):
    with pytest.raises(VolumeError, match="no such file"):
        synthesize_file(tmp_path / "nope.nii.gz", "aorta", tmp_path / "out.nii.gz", model_dir=tiny_model)
    with pytest.raises(NetZeroAICTError, match="unknown indication"):
        synthesize_file(tmp_path / "nope.nii.gz", "kidney", tmp_path / "out.nii.gz", model_dir=tiny_model)


def test_files_are_marked_synthetic_and_record_is_complete(tiny_model, tube_ncct, tmp_path):
    path, ncct, *_ = tube_ncct
    events = []
    record = synthesize_file(path, "aorta", tmp_path / "cta.nrrd", tmp_path / "unc.nii.gz", tmp_path / "run.json",
                             device="cpu", model_dir=tiny_model, progress=lambda *e: events.append(e),
                             accept_warnings=True)
    for name in ("cta.nrrd", "unc.nii.gz"):
        assert "SYNTHETIC" in read_volume(tmp_path / name).metadata["description"]
    assert read_volume(tmp_path / "cta.nrrd").metadata["description"] == \
        "SYNTHETIC digital contrast (aorta) nzct-aorta v1.0.0"
    saved = json.loads((tmp_path / "run.json").read_text())
    from NetZeroAICT.volume_io import file_sha256

    assert saved["input"]["sha256"] == file_sha256(path)
    assert saved["model"]["sha256"] == read_card(tiny_model).weights["sha256"]
    assert saved["device"]["name"] == "cpu"
    assert set(saved["timings_s"]) >= {"read", "check", "load_model", "resample", "inference", "restore", "write",
                                       "total"}
    assert saved["peak_rss_gb"] > 0 and saved["energy"]["wh"] > 0 and saved["energy"]["method"]
    assert saved["co2e_g"] == pytest.approx(saved["energy"]["wh"] / 1000 * 475, rel=1e-3)
    assert saved["avoided"]["contrast_enhanced_exam_kg_co2e"] == 9.2 and saved["avoided"]["iodine_g"] > 0
    assert "McAlister" in saved["footprint_sources"]["ct_exam_kg_co2e"]
    fractions = [e[1] for e in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and record["synthetic"] is True


def test_contrast_level_is_learned_relative_and_set_per_run(tiny_model, tube_ncct):
    """The tubes' lumen goes 40 → 350 HU: the card's default level is that 310 HU enhancement, and a run asked
    for another lumen HU scales the same prediction to it."""
    path, ncct, cta, lumen = tube_ncct
    card = read_card(tiny_model)
    assert card.normalised and card.enhancement_scale_hu == pytest.approx(310, abs=3)
    assert card.contrast_level["training_lumen_enhancement_hu"][0] == pytest.approx(310, abs=3)
    inner = ndimage.binary_erosion(lumen.voxels > 0)
    means = {}
    for target in (None, 250.0, 500.0):
        result = SynthesisEngine("aorta", tiny_model, "cpu", lumen_hu=target).synthesize(ncct, accept_warnings=True)
        means[target] = float(result.cta.voxels[inner].mean())
        level = result.record["contrast_level"]
        assert level["normalised"] and level["model_default_hu"] == card.enhancement_scale_hu
        if target is None:
            assert level["source"] == "model default"
            assert level["lumen_enhancement_hu"] == card.enhancement_scale_hu
        else:
            assert level["target_lumen_hu"] == target and level["unenhanced_blood_hu"] == pytest.approx(40, abs=10)
            assert level["lumen_enhancement_hu"] == pytest.approx(target - level["unenhanced_blood_hu"], abs=0.1)
    assert means[250.0] < means[None] < means[500.0]
    assert means[500.0] - 40 == pytest.approx((means[250.0] - 40) * 460 / 210, rel=0.05)  # same shape, scaled
    result = SynthesisEngine("aorta", tiny_model, "cpu", lumen_enhancement_hu=100.0).synthesize(
        ncct, accept_warnings=True)
    assert result.record["contrast_level"]["source"] == "asked for as lumen enhancement"
    assert result.cta.voxels[inner].mean() < means[250.0]


def test_contrast_level_errors(tiny_model, tube_ncct, tmp_path):
    import shutil

    path, ncct, *_ = tube_ncct
    with pytest.raises(NetZeroAICTError, match="not both"):
        SynthesisEngine("aorta", tiny_model, "cpu", lumen_hu=300.0, lumen_enhancement_hu=200.0)
    with pytest.raises(NetZeroAICTError, match="not above the unenhanced blood"):
        SynthesisEngine("aorta", tiny_model, "cpu", lumen_hu=20.0).synthesize(ncct, accept_warnings=True)
    with pytest.raises(NetZeroAICTError, match="outside 0–2000 HU"):
        SynthesisEngine("aorta", tiny_model, "cpu", lumen_enhancement_hu=-5.0).synthesize(ncct, accept_warnings=True)
    # a model that predicts HU directly (no contrast_level in its card) runs at its own scale only
    legacy = tmp_path / "legacy"
    shutil.copytree(tiny_model, legacy)
    data = json.loads((legacy / "model.json").read_text())
    data.pop("contrast_level")
    (legacy / "model.json").write_text(json.dumps(data))
    assert SynthesisEngine("aorta", legacy, "cpu").synthesize(ncct, accept_warnings=True).record[
        "contrast_level"] == {"normalised": False}
    with pytest.raises(NetZeroAICTError, match="predicts HU directly"):
        SynthesisEngine("aorta", legacy, "cpu", lumen_hu=350.0).synthesize(ncct, accept_warnings=True)


def test_grid_intensity_is_configurable(tiny_model, tube_ncct, tmp_path):
    from NetZeroAICT.synthesis import FootprintSettings

    path, *_ = tube_ncct
    record = synthesize_file(path, "aorta", tmp_path / "c.nii.gz", model_dir=tiny_model,
                             footprint_settings=FootprintSettings(grid_g_co2e_per_kwh=50.0), accept_warnings=True)
    assert record["co2e_g"] == pytest.approx(record["energy"]["wh"] / 1000 * 50, rel=1e-3)


class _FakeNvml:
    """Stands in for ``pynvml``: an energy counter that rises 7.2 J (2 mWh) per read, on the GPUs it knows."""

    def __init__(self, uuids=("GPU-a", "GPU-b")):
        self.uuids, self.mj, self.asked, self.inits = list(uuids), 1000.0, [], 0

    def nvmlInit(self):
        self.inits += 1

    def nvmlShutdown(self):
        self.inits -= 1

    def nvmlDeviceGetHandleByIndex(self, index):
        self.asked.append(index)
        return self.uuids[index]

    def nvmlDeviceGetHandleByUUID(self, uuid):
        self.asked.append(uuid)
        if uuid not in self.uuids:
            raise RuntimeError("NVML_ERROR_NOT_FOUND")
        return uuid

    def nvmlDeviceGetName(self, handle):
        return b"Test GPU " + handle.encode()

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        self.mj += 7200.0
        return self.mj


def test_gpu_energy_is_measured_through_nvml_where_it_can_be_read(monkeypatch):
    import sys

    from NetZeroAICT.synthesis.record import EnergyMeter, FootprintSettings

    fake = _FakeNvml()
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    energy = EnergyMeter(FootprintSettings(), "cuda:1").start().stop(0.5)
    assert energy["gpu_energy_wh"] == pytest.approx(0.002)
    assert "NVML energy counter of the Test GPU GPU-b" in energy["method"] and fake.asked == [1]
    assert energy["energy_wh"] > 0.002
    # CUDA_VISIBLE_DEVICES maps the CUDA index onto the GPU NVML knows, by index or by UUID
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-b,GPU-a")
    fake.asked = []
    EnergyMeter(FootprintSettings(), "cuda").start().stop(0.5)
    assert fake.asked == ["GPU-b"]
    # a GPU NVML cannot find (or no NVML at all): the energy is estimated, and the record says so
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-z")
    energy = EnergyMeter(FootprintSettings(gpu_w=360.0), "cuda").start().stop(0.5)
    assert "GPU estimated (NVML energy counter not readable): 360 W" in energy["method"]
    assert energy["gpu_energy_wh"] == pytest.approx(360.0 * energy["wall_s"] / 3600.0)
    assert fake.inits == 0    # every run released NVML, the one that did not find its GPU too
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import fails
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert "GPU estimated" in EnergyMeter(FootprintSettings(), "cuda").start().stop(0.5)["method"]
    # on the CPU there is no GPU part at all
    energy = EnergyMeter(FootprintSettings(), "cpu").start().stop(0.5)
    assert "gpu_energy_wh" not in energy and "GPU" not in energy["method"]


def test_cancel_stops_the_run_and_writes_nothing(tiny_model, tube_ncct, tmp_path):
    path, *_ = tube_ncct
    cancel = threading.Event()

    def progress(stage, fraction, message):
        if stage == "inference":
            cancel.set()

    with pytest.raises(SynthesisCancelled):
        synthesize_file(path, "aorta", tmp_path / "c.nii.gz", model_dir=tiny_model, progress=progress, cancel=cancel,
                        accept_warnings=True)
    assert not (tmp_path / "c.nii.gz").exists()


def test_engine_cancel_from_another_thread(tiny_model, tube_ncct):
    _, ncct, *_ = tube_ncct
    engine = SynthesisEngine("aorta", tiny_model, "cpu")
    engine.load()
    with pytest.raises(SynthesisCancelled):
        engine.synthesize(ncct, progress=lambda stage, f, m: engine.cancel() if stage == "inference" else None,
                          accept_warnings=True)


def test_input_safety_warnings_need_confirmation(tiny_model, tube_ncct):
    _, ncct, *_ = tube_ncct  # a tube phantom covers none of the aorta's body regions: input safety warns
    engine = SynthesisEngine("aorta", tiny_model, "cpu")
    with pytest.raises(NeedsConfirmation) as caught:
        engine.synthesize(ncct)
    assert any("field of view" in w for w in caught.value.warnings)
    check = engine.synthesize(ncct, accept_warnings=True).record["input_check"]
    assert check["status"] == "warn" and check["warnings_accepted"] and check["reasons"]


# -- command line -------------------------------------------------------------------------------------------
def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_cli_json_progress_then_done(tiny_model, tube_ncct, tmp_path):
    import os
    import subprocess
    import sys

    from Testing.conftest import REPO

    path, *_ = tube_ncct
    run = subprocess.run([sys.executable, "-m", "NetZeroAICT", "synthesize", str(path), "--indication", "aorta",
                          "--out", str(tmp_path / "cta.nii.gz"), "--uncertainty", str(tmp_path / "u.nii.gz"),
                          "--record", str(tmp_path / "run.json"), "--model", str(tiny_model), "--progress", "json",
                          "--accept-warnings", "--grid-intensity", "100", "--lumen-hu", "420"],
                         capture_output=True, text=True, cwd=REPO, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert run.returncode == 0, run.stderr
    events = _json_lines(run.stdout)  # every stdout line is one JSON object
    progress = [e for e in events[:-1]]
    assert all(e["event"] == "progress" and set(e) == {"event", "stage", "fraction", "message"} for e in progress)
    assert [e["fraction"] for e in progress] == sorted(e["fraction"] for e in progress)
    assert {"read", "inference", "write"} <= {e["stage"] for e in progress}
    done = events[-1]
    assert done["event"] == "done" and done["out"] == str(tmp_path / "cta.nii.gz")
    assert done["uncertainty"] == str(tmp_path / "u.nii.gz") and done["record"]["grid_g_co2e_per_kwh"] == 100
    assert (tmp_path / "run.json").is_file()
    assert done["record"]["contrast_level"]["target_lumen_hu"] == 420


@pytest.mark.parametrize("case, code, event", [("warn", 4, "needs_confirmation"), ("8bit", 3, "refused"),
                                               ("missing", 2, "error"), ("tampered", 2, "error")])
def test_cli_exit_codes(tiny_model, tube_ncct, tmp_path, capsys, case, code, event):
    import shutil

    from NetZeroAICT.cli import main

    path, *_ = tube_ncct
    model = tiny_model
    if case == "8bit":
        path = tmp_path / "photo.nii.gz"
        write_volume(Volume(np.random.default_rng(1).integers(0, 256, (16, 32, 32)).astype(np.float32), (1, 1, 1)),
                     path)
    elif case == "missing":
        path = tmp_path / "missing.nii.gz"
    elif case == "tampered":
        model = tmp_path / "model"
        shutil.copytree(tiny_model, model)
        blob = bytearray((model / "model.safetensors").read_bytes())
        blob[-1] ^= 0xFF
        (model / "model.safetensors").write_bytes(bytes(blob))
    rc = main(["synthesize", str(path), "--indication", "aorta", "--out", str(tmp_path / "o.nii.gz"),
               "--model", str(model), "--progress", "json"] + (["--accept-warnings"] if case == "tampered" else []))
    out = _json_lines(capsys.readouterr().out)
    assert rc == code and out[-1]["event"] == event
    if event == "refused":
        assert any("8-bit" in r for r in out[-1]["reasons"])
    if event == "needs_confirmation":
        assert out[-1]["warnings"]
    if case == "tampered":
        assert "SHA-256" in out[-1]["message"]
    assert not (tmp_path / "o.nii.gz").exists()


# -- derived DICOM series and demo ---------------------------------------------------------------------------
def _write_dicom_series(volume: Volume, folder) -> dict:
    """Write ``volume`` as a plain CT DICOM series (int16) into ``folder``; return its identifying UIDs."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    folder.mkdir(parents=True)
    ids = {"study": generate_uid(), "series": generate_uid(), "frame": generate_uid()}
    matrix = volume.ijk_to_lps()
    for k in range(volume.voxels.shape[0]):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = FileDataset(str(folder / f"{k}.dcm"), {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
        ds.PatientName, ds.PatientID, ds.PatientSex = "Tube^Phantom", "PHANTOM-9", "O"
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = ids["study"], ids["series"], ids["frame"]
        ds.StudyDate, ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "20260101", "CT", 3, k + 1
        ds.SeriesDescription = "NCCT tube phantom"
        ds.ImagePositionPatient = [float(v) for v in (matrix @ [0, 0, k, 1])[:3]]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [volume.spacing_mm[1], volume.spacing_mm[0]]
        ds.SliceThickness = volume.spacing_mm[2]
        ds.Rows, ds.Columns = volume.voxels.shape[1:]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit, ds.PixelRepresentation = 15, 1
        ds.RescaleIntercept, ds.RescaleSlope = 0, 1
        ds.PixelData = np.rint(volume.voxels[k]).astype(np.int16).tobytes()
        ds.save_as(folder / f"{k}.dcm", enforce_file_format=True)
    return ids


def test_dicom_input_gives_a_derived_synthetic_series(tiny_model, tmp_path):
    import pydicom

    ncct, *_ = tube_pair(4)
    ids = _write_dicom_series(ncct, tmp_path / "source")
    record = synthesize_file(tmp_path / "source", "aorta", tmp_path / "cta.nii.gz", model_dir=tiny_model,
                             dicom_out=tmp_path / "derived", accept_warnings=True)
    files = sorted((tmp_path / "derived").glob("*.dcm"))
    assert len(files) == ncct.voxels.shape[0] and record["output"]["dicom"] == str(tmp_path / "derived")
    first = pydicom.dcmread(files[0])
    assert list(first.ImageType)[:2] == ["DERIVED", "SECONDARY"]
    assert first.SeriesDescription.startswith("SYNTHETIC digital contrast (aorta)")
    assert "SYNTHETIC" in first.ImageComments and "SYNTHETIC" in first.DerivationDescription
    assert first.SeriesInstanceUID != ids["series"] and first.SOPInstanceUID not in {f.name for f in files}
    assert len({pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID for f in files}) == len(files)
    assert (first.StudyInstanceUID, first.PatientID, str(first.PatientName)) == (ids["study"], "PHANTOM-9",
                                                                                  "Tube^Phantom")
    assert first.ReferencedSeriesSequence[0].SeriesInstanceUID == ids["series"]
    assert first.FrameOfReferenceUID == ids["frame"]
    back = read_volume(tmp_path / "derived")
    cta = read_volume(tmp_path / "cta.nii.gz")
    assert back.same_grid(ncct) and np.abs(back.voxels - cta.voxels).max() <= 0.5 + 1e-3


def test_dicom_out_needs_a_dicom_input(tiny_model, tube_ncct, tmp_path):
    path, *_ = tube_ncct
    with pytest.raises(NetZeroAICTError, match="DICOM input"):
        synthesize_file(path, "aorta", tmp_path / "c.nii.gz", model_dir=tiny_model, dicom_out=tmp_path / "d",
                        accept_warnings=True)


def test_demo_on_a_phantom_writes_all_outputs(tiny_model, tmp_path):
    from NetZeroAICT.synthesis.demo import run_demo

    summary = run_demo(tmp_path / "demo", model_dir=tiny_model)
    for name in ("synthetic_cta.nii.gz", "uncertainty.nii.gz", "preview.png", "run_record.json",
                 "ncct_phantom.nii.gz", "cta_phantom_truth.nii.gz"):
        assert (tmp_path / "demo" / name).stat().st_size > 0
    assert (tmp_path / "demo" / "preview.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((tmp_path / "demo" / "run_record.json").read_text())["synthetic"] is True
    assert "phantom_lumen_hu_ncct/true/synthetic" in summary


# -- held-out evaluation ------------------------------------------------------------------------------------
def test_case_metrics_definitions():
    from NetZeroAICT.synthesis.evaluation import case_metrics

    ncct = np.full((20, 20, 20), 40.0, np.float32)
    ncct[:, :, :3] = -1000.0  # air
    lumen = np.zeros(ncct.shape, bool)
    lumen[5:15, 8:12, 8:12] = True
    body = ncct > -500
    cta = ncct.copy()
    cta[lumen] = 400.0
    perfect = case_metrics(cta, ncct, cta, lumen, body)
    assert perfect["lumen_dice"] == 1.0 and perfect["lumen_mae_hu"] == 0 and perfect["nonvessel_mae_hu"] == 0
    none = case_metrics(ncct, ncct, cta, lumen, body)
    assert none["lumen_dice"] == 0.0 and none["lumen_mae_hu"] == pytest.approx(360.0)
    assert none["psnr_db"] == pytest.approx(10 * np.log10(4095 ** 2 / (360.0 ** 2 * lumen.sum() / body.sum())))
    spill = cta.copy()
    spill[2:4, 2:6, 10:14] = 300.0  # enhancement where there is no vessel
    wrong = case_metrics(spill, ncct, cta, lumen, body)
    assert wrong["lumen_dice"] == pytest.approx(2 * 160 / (160 + 160 + 32))
    assert wrong["nonvessel_mae_hu"] > 0 and wrong["lumen_mae_hu"] == 0
    assert perfect["false_contrast_ml"] == 0 and wrong["false_contrast_ml"] == pytest.approx(32 / 1000)
    in_mm = case_metrics(spill, ncct, cta, lumen, body, spacing_mm=(1.5, 1.5, 2.0))
    assert in_mm["false_contrast_ml"] == pytest.approx(32 * 4.5 / 1000)
    assert "false_contrast_ml_by_tissue" not in in_mm     # no label map, no breakdown


def test_false_contrast_by_tissue_splits_the_millilitres_by_the_label_map():
    """The breakdown's parts add up to the false contrast, each in its label's name (largest first; a label
    without a name by its number); labels without false contrast are not listed."""
    from NetZeroAICT.synthesis.evaluation import case_metrics, summarise

    ncct = np.full((20, 20, 20), 40.0, np.float32)
    lumen = np.zeros(ncct.shape, bool)
    lumen[5:15, 8:12, 8:12] = True
    body = np.ones(ncct.shape, bool)
    tissue = np.full(ncct.shape, 3, np.uint8)           # muscle
    tissue[:, :, 15:] = 23                               # blood pool
    tissue[:4, :4, :4] = 9                               # liver
    tissue[lumen] = 17
    cta = ncct.copy()
    cta[lumen] = 400.0
    synthetic = cta.copy()
    synthetic[2:6, 2:6, 16:19] = 300.0    # 48 voxels of blood pool
    synthetic[0:2, 0:2, 0:2] = 300.0      # 8 of liver
    synthetic[18, 0, 7] = 300.0           # 1 of muscle
    synthetic[0, 0, 3] = 120.0            # 80 HU too bright: not false contrast
    names = {3: "muscle", 23: "blood_pool", 17: "lumen"}
    row = case_metrics(synthetic, ncct, cta, lumen, body, spacing_mm=(1.0, 1.0, 2.0), tissue=tissue,
                       tissue_names=names)
    where = row["false_contrast_ml_by_tissue"]
    assert list(where) == ["blood_pool", "9", "muscle"]
    assert where == {"blood_pool": pytest.approx(0.096), "9": pytest.approx(0.016), "muscle": pytest.approx(0.002)}
    assert sum(where.values()) == pytest.approx(row["false_contrast_ml"])
    clean = case_metrics(cta, ncct, cta, lumen, body, tissue=tissue, tissue_names=names)
    assert clean["false_contrast_ml_by_tissue"] == {}
    summary = summarise([row, clean])["false_contrast_ml_by_tissue"]["mean"]   # 0 where a case has none
    assert summary == {"blood_pool": pytest.approx(0.048), "9": pytest.approx(0.008), "muscle": pytest.approx(0.001)}
    assert list(summary) == ["blood_pool", "9", "muscle"]
    tiny = {**clean, "false_contrast_ml_by_tissue": {"skin": 0.0001}}     # a mean of 0.00003 mL: left out
    assert "skin" not in summarise([clean, clean, tiny, clean])["false_contrast_ml_by_tissue"]["mean"]


def test_false_lumen_in_a_little_enhancing_organ_counts_against_the_dice():
    """A bright blob in the liver (an organ the arterial phase raises by 10–25 HU) is a false lumen; the renal
    cortex, whose true CTA is bright, stays out of the Dice however the model gets it."""
    from NetZeroAICT.synthesis.evaluation import case_metrics

    ncct = np.full((20, 20, 20), 40.0, np.float32)
    lumen = np.zeros(ncct.shape, bool)
    lumen[5:15, 8:12, 8:12] = True
    body = np.ones(ncct.shape, bool)
    enhancing = np.zeros(ncct.shape, bool)
    enhancing[2:4, 2:6, 14:18] = True     # liver: +20 HU
    enhancing[16:18, 2:6, 14:18] = True   # renal cortex: +150 HU
    cta = ncct.copy()
    cta[lumen] = 400.0
    cta[2:4, 2:6, 14:18] += 20.0
    cta[16:18, 2:6, 14:18] += 150.0
    blob = cta.copy()
    blob[2:4, 2:6, 14:18] = 330.0          # the liver made arterial
    blob[16:18, 2:6, 14:18] = 40.0         # the cortex left dark
    row = case_metrics(blob, ncct, cta, lumen, body, enhancing)
    assert row["lumen_dice"] == pytest.approx(2 * 160 / (160 + 160 + 32))
    assert row["false_contrast_ml"] == pytest.approx(32 / 1000)
    assert case_metrics(cta, ncct, cta, lumen, body, enhancing)["lumen_dice"] == 1.0


def test_evaluate_model_reports_default_and_matched_contrast_level(tiny_model, tmp_path):
    from NetZeroAICT.synthesis.model_zoo import evaluate_model

    data = write_tube_dataset(tmp_path / "data", seeds_train=(), seeds_val=(21, 22))
    metrics = evaluate_model(tiny_model, data, ["case_021", "case_022"])
    assert [r["case"] for r in metrics["cases"]] == ["case_021", "case_022"]
    assert metrics["contrast_level"] == "model default"
    matched = metrics["matched_level"]
    for row in matched["cases"]:  # the tubes' true lumen enhancement is 350 − 40 HU (+ noise, median ≈ 0)
        assert row["lumen_enhancement_hu"] == pytest.approx(310, abs=3)
    for row in metrics["cases"]:
        assert row["lumen_enhancement_hu"] == read_card(tiny_model).enhancement_scale_hu
    assert set(matched["summary"]["targets_met"]) == {"lumen_dice", "lumen_mae_hu", "nonvessel_mae_hu", "psnr_db"}
    thick = metrics["thick_voxels"]   # the same cases with 3 mm voxels, both contrast levels
    assert [r["case"] for r in thick["cases"]] == ["case_021", "case_022"] and thick["block_voxels"] == 2
    assert thick["spacing_mm"] == [3.0, 3.0, 3.0]     # the tubes' 1.5 mm voxels, 2³ to a block
    for row, fine in zip(thick["matched_level"]["cases"], matched["cases"]):
        assert row["lumen_enhancement_hu"] == pytest.approx(310, abs=5)
        assert row["lumen_hu_true"] < fine["lumen_hu_true"]   # partial volume with the wall in larger voxels
    assert "false_contrast_ml_by_tissue" not in metrics["summary"]     # the tubes have no tissue labels


def test_evaluate_model_splits_false_contrast_by_the_phantoms_tissue_labels(tiny_model, tmp_path):
    """Where a case has the foundry's tissue label map and names, each run's rows and summary say in which
    tissue the false contrast lies, and its parts add up to the false contrast; the thick-voxel rows (no label
    map on their grid) do not."""
    from NetZeroAICT.synthesis.model_zoo import evaluate_model

    data = write_tube_dataset(tmp_path / "data", seeds_train=(), seeds_val=(21,))
    case = data / "case_021"
    ncct = read_volume(case / "ncct.nii.gz")
    lumen = read_volume(case / "lumen.nii.gz", label=True).voxels > 0
    tissue = np.where(ncct.voxels > -500, 1, 0).astype(np.uint8)    # fat, air
    tissue[lumen] = 17
    tissue[ncct.voxels > 500] = 4                                   # the bone rod
    write_volume(Volume(tissue, ncct.spacing_mm, ncct.origin_lps, ncct.direction_lps), case / "tissue.nii.gz")
    (case / "case.json").write_text(json.dumps({"tissue_labels": {"air": 0, "fat": 1, "cortical_bone": 4,
                                                                  "lumen": 17}}))
    model = tmp_path / "model"      # the tiny model at a default level far too high: its halo is false contrast
    shutil.copytree(tiny_model, model)
    card = json.loads((model / "model.json").read_text())
    (model / "model.json").write_text(json.dumps({**card, "enhancement_scale_hu": 3000.0}))
    metrics = evaluate_model(model, data, ["case_021"])
    assert metrics["cases"][0]["false_contrast_ml"] > 0.1
    for part in (metrics, metrics["matched_level"]):
        row = part["cases"][0]
        where = row["false_contrast_ml_by_tissue"]
        assert set(where) <= {"fat", "lumen"}        # air and bone are never enhanced
        assert sum(where.values()) == pytest.approx(row["false_contrast_ml"], abs=1e-3)
        assert part["summary"]["false_contrast_ml_by_tissue"]["mean"] == where
    assert "fat" in metrics["cases"][0]["false_contrast_ml_by_tissue"]
    assert "false_contrast_ml_by_tissue" not in metrics["thick_voxels"]["cases"][0]


def test_thick_voxels_is_the_block_mean_on_the_block_centres():
    """The thick-voxel version of a case: 2×2×2 block means of NCCT and CTA, on a grid whose voxel centres
    are the block centres in patient space (oblique grid), masks kept where at least half the block is inside."""
    from NetZeroAICT.synthesis.evaluation import thick_voxels

    rng = np.random.default_rng(3)
    direction = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    ncct = Volume(rng.normal(40, 10, (6, 8, 10)).astype(np.float32), (0.8, 0.9, 1.5), (10.0, -5.0, 3.0), direction)
    cta = ncct.voxels + 100
    lumen = np.zeros(ncct.voxels.shape, np.uint8)
    lumen[:2, :2, :2] = 1          # a whole block
    lumen[2:4, 2:4, 2] = 1         # half of a block
    lumen[4, 4, 4] = 1             # one voxel of a block
    coarse, coarse_cta, masks = thick_voxels(ncct, cta, {"lumen": lumen, "enhancing": lumen})
    assert coarse.voxels.shape == (3, 4, 5) and coarse.spacing_mm == (1.6, 1.8, 3.0)
    assert coarse.voxels[1, 2, 3] == pytest.approx(ncct.voxels[2:4, 4:6, 6:8].mean(), abs=1e-4)
    np.testing.assert_allclose(coarse_cta, coarse.voxels + 100, atol=1e-4)
    fine_centre = ncct.ijk_to_lps() @ np.array([6.5, 4.5, 2.5, 1.0])    # (i, j, k) of block (k=1, j=2, i=3)
    np.testing.assert_allclose(coarse.ijk_to_lps() @ np.array([3, 2, 1, 1.0]), fine_centre, atol=1e-9)
    assert masks["lumen"].sum() == 1 and masks["lumen"][0, 0, 0] == 1
    assert masks["enhancing"].sum() == 3
    from NetZeroAICT.synthesis.evaluation import thick_voxel_factor
    assert [thick_voxel_factor(s) for s in (1.5, 1.25, 0.9, 0.7, 3.0)] == [2, 2, 3, 4, 2]


def test_thick_slice_augmentation_matches_the_engine_resampling_a_coarse_scan():
    """``coarsen`` shows a patch as the engine sees a scan with thicker voxels once it is back on the model grid:
    block means, linearly interpolated (SimpleITK, voxel centres at the block centres) — away from the edge of
    the patch; and the sampler coarsens NCCT and target alike in the chosen share of its patches."""
    import SimpleITK as sitk

    from NetZeroAICT.synthesis.training_data import PatchSampler, TrainingCase, coarsen

    rng = np.random.default_rng(0)
    x = rng.normal(size=(24, 24, 24)).astype(np.float32)
    factors = (3, 2, 2)                                    # (z, y, x)
    small = x.reshape(8, 3, 12, 2, 12, 2).mean(axis=(1, 3, 5))
    image = sitk.GetImageFromArray(small)
    image.SetSpacing((3.0, 3.0, 4.5))
    image.SetOrigin((0.75, 0.75, 1.5))                     # the block centres on the 1.5 mm grid
    reference = sitk.GetImageFromArray(x)
    reference.SetSpacing((1.5, 1.5, 1.5))
    resampled = sitk.GetArrayFromImage(sitk.Resample(image, reference, sitk.Transform(), sitk.sitkLinear, 0.0))
    inner = (slice(3, -3),) * 3
    coarse = coarsen(x, factors)
    np.testing.assert_allclose(coarse[inner], resampled[inner], atol=1e-5)
    assert coarse.std() < 0.6 * x.std()                    # averaging took most of the white noise away
    odd = coarsen(x[:23, :22, :21], factors)               # sizes that are not multiples: padded, then cropped
    assert odd.shape == (23, 22, 21)
    np.testing.assert_allclose(odd[3:18, 3:18, 3:18], coarse[3:18, 3:18, 3:18], atol=1e-5)

    ncct = rng.normal(40, 15, (32, 32, 32)).astype(np.float32)
    enhancement = 2 * ncct               # any linear relation survives coarsening both alike
    case = TrainingCase("c", ncct, enhancement, np.zeros(ncct.shape, np.uint8), np.ones(ncct.shape, np.float32))
    batches = {}
    for fraction in (0.0, 1.0):
        sampler = PatchSampler([case], (12, 12, 12), vessel_fraction=0.0, blood_like_fraction=0.0, seed=1,
                               coarse_fraction=fraction)
        batches[fraction] = sampler.sample(16)
    assert batches[0.0][0].std() == pytest.approx(15, rel=0.1)   # sharp patches: the noise as it was
    hu, target, weight = batches[1.0]
    assert hu.std() < 0.75 * 15 and hu.std() > 0.2 * 15      # every patch coarsened, by several factors
    np.testing.assert_allclose(target, 2 * hu, rtol=1e-5, atol=1e-3)
    assert (weight == 1.0).all()
    from NetZeroAICT.synthesis.training import COARSE_RAMP, coarse_share
    from NetZeroAICT.synthesis.training_data import coarse_z_factors
    assert coarse_share(0.0) == 0.0 and coarse_share(COARSE_RAMP / 2) == pytest.approx(0.5)
    assert coarse_share(COARSE_RAMP) == coarse_share(0.9) == 1.0
    assert coarse_z_factors(1.5) == (2, 3) and coarse_z_factors(0.9) == (3, 5) and coarse_z_factors(4.0) == (2, 2)


def test_windows_start_at_multiples_of_the_network_stride():
    from monai.data.utils import dense_patch_slices

    from NetZeroAICT.synthesis.network import network_stride
    from NetZeroAICT.synthesis.inference import aligned_region

    assert network_stride(TINY) == 4 and network_stride({"name": "monai.networks.nets.BasicUNet"}) == 16
    shape, patch = (150, 211, 97), (96, 96, 96)
    box = (slice(13, 140), slice(5, 211), slice(0, 97))
    region, fronts, pads = aligned_region(box, shape, patch, 8)
    assert [s.start for s in region] == [8, 0, 0] and fronts == [0, 0, 0]
    lengths = [s.stop - s.start + p for s, p in zip(region, pads)]
    assert all(r.stop <= n for r, n in zip(region, shape)) and lengths[0] >= 140 - 8
    for overlap in (0.25, 0.5):
        interval = [int(p * (1 - overlap)) for p in patch]
        for window in dense_patch_slices(lengths, patch, interval):
            assert all((r.start + w.start) % 8 == 0 for r, w in zip(region, window))
    # a shifted grid (TTA shift 4): windows start at 4 + multiples of 8, the first one before the scan's first
    # voxel where the box starts at it (mirrored voxels there, padded_region)
    region, fronts, pads = aligned_region(box, shape, patch, 8, origin=(4, 4, 4))
    assert [s.start for s in region] == [12, 4, 0] and fronts == [0, 0, 4]
    lengths = [f + s.stop - s.start + p for f, s, p in zip(fronts, region, pads)]
    for window in dense_patch_slices(lengths, patch, [72, 72, 72]):
        assert all((r.start - f + w.start - 4) % 8 == 0 for r, f, w in zip(region, fronts, window))
    # window size 0: one window over the whole region along that axis, rounded up to the stride
    region, fronts, pads = aligned_region(box, shape, (0, 0, 0), 8, origin=(4, 4, 4))
    assert [f + s.stop - s.start + p for f, s, p in zip(fronts, region, pads)] == [128, 208, 104]


def test_angiography_mip_leaves_out_bone_and_the_table():
    from NetZeroAICT.synthesis.preview import mip_mask

    hu = np.full((10, 40, 40), -1000.0, np.float32)
    hu[:, 5:30, 5:35] = 40.0  # body
    hu[:, 14:18, 18:22] = 700.0  # vertebra
    hu[:, 34:36, :] = 250.0  # table, apart from the body
    mask = mip_mask(hu)
    assert mask[:, 10, 10].all() and not mask[:, 15, 20].any() and not mask[:, 13, 20].any()  # rim removed too
    assert not mask[:, 35, 10].any() and not mask[hu < -400].any()


def test_phantom_dataset_remakes_cases_of_an_older_foundry(tmp_path, monkeypatch):
    """``make models`` keeps phantoms already on disk, but not those an older generator made: a model card
    must not say it was trained on today's phantoms when it saw yesterday's."""
    import NetZeroAICT.foundry as foundry
    from NetZeroAICT.foundry.phantom import GENERATOR_VERSION
    from NetZeroAICT.synthesis.model_zoo import build_phantom_dataset

    real = foundry.make_pair
    monkeypatch.setattr(foundry, "make_pair", lambda ind, seed: real(ind, seed, shape_ijk=(32, 32, 24), spacing_mm=2.0))
    made = []
    folder = build_phantom_dataset("aorta", tmp_path / "data", 1, 1, log=made.append)
    assert len(made) == 3   # training, validation and test case
    case = folder / "aorta_00001" / "case.json"
    data = json.loads(case.read_text())
    assert data["generator_version"] == GENERATOR_VERSION
    assert json.loads((folder / "manifest.json").read_text())["generator_version"] == GENERATOR_VERSION
    made.clear()
    build_phantom_dataset("aorta", folder, 1, 1, log=made.append)
    assert made == []       # all current: nothing remade
    case.write_text(json.dumps({**data, "generator_version": "0"}))
    build_phantom_dataset("aorta", folder, 1, 1, log=made.append)
    assert len(made) == 1 and "aorta_00001" in made[0]
    assert json.loads(case.read_text())["generator_version"] == GENERATOR_VERSION


def test_phantoms_made_in_parallel_are_the_phantoms_made_one_by_one(tmp_path):
    """``models --phantom-workers N`` makes N phantoms at once, each in a process of its own; a phantom is a seeded
    draw, so the files are the same as those made one after another."""
    from NetZeroAICT.synthesis.model_zoo import phantom_cases

    logs = {1: [], 2: []}
    for workers, made in logs.items():
        names = phantom_cases("coronary", tmp_path / str(workers), [3, 20001], made.append, workers=workers)
        assert names == ["coronary_00003", "coronary_20001"]
        assert len(made) == 2
    for name in names:
        one, two = (read_volume(tmp_path / str(w) / name / "ncct.nii.gz") for w in (1, 2))
        assert np.array_equal(one.voxels, two.voxels) and one.voxels.std() > 100   # a CT, the same one
        assert (tmp_path / "2" / name / "case.json").read_text() == (tmp_path / "1" / name / "case.json").read_text()
    assert phantom_cases("coronary", tmp_path / "2", [3, 20001], logs[2].append, workers=2) == names
    assert len(logs[2]) == 2   # nothing made again
    with pytest.raises(NetZeroAICTError, match="0 phantoms at once"):
        phantom_cases("coronary", tmp_path / "0", [3], workers=0)


def test_a_region_past_the_scan_is_the_scan_mirrored_not_air():
    """The stride padding after a far face: the scan's own voxels while it has them, then its mirror image."""
    from NetZeroAICT.synthesis.inference import padded_region

    hu = np.arange(10 * 7 * 5, dtype=np.float32).reshape(10, 7, 5)
    region = padded_region(hu, (slice(2, 9), slice(0, 7), slice(1, 4)), (3, 1, 2))
    assert region.shape == (10, 8, 5) and region.dtype == np.float32
    np.testing.assert_array_equal(region[:8, :7, :4], hu[2:10, :, 1:5])      # the scan's own voxels first
    np.testing.assert_array_equal(region[8:, :7, :4], hu[[8, 7], :, 1:5])     # z: mirrored about slice 9
    np.testing.assert_array_equal(region[:8, 7, :4], hu[2:10, 5, 1:5])        # y: about row 6
    np.testing.assert_array_equal(region[:8, :7, 4], hu[2:10, :, 3])          # x: about column 4
    assert (region > -1000).all()                                            # no air anywhere
    np.testing.assert_array_equal(padded_region(hu, (slice(0, 10), slice(0, 7), slice(0, 5)), (0, 0, 0)), hu)
    # a one-voxel axis is repeated
    assert padded_region(hu[:1], (slice(0, 1), slice(0, 7), slice(0, 5)), (3, 0, 0)).shape == (4, 7, 5)
    # before the first face (a shifted stride grid): mirrored about the first voxel
    region = padded_region(hu, (slice(0, 10), slice(0, 7), slice(2, 5)), (0, 0, 0), (2, 0, 0))
    np.testing.assert_array_equal(region, hu[[2, 1] + list(range(10)), :, 2:5])
    with pytest.raises(ValueError, match="first voxel"):
        padded_region(hu, (slice(1, 10), slice(0, 7), slice(0, 5)), (0, 0, 0), (2, 0, 0))


def test_exact_inference_is_the_whole_volume_output_however_it_is_cut(tiny_model):
    """``exact`` mode gives the network's output on the whole volume at once, whether it runs in one slab or
    in many: every kept voxel sees its full receptive field. Sliding windows do not (their borders are
    zero-padded), so they differ from it."""
    import torch

    from NetZeroAICT.synthesis.inference import InferenceSettings, predict_enhancement, receptive_halo
    from NetZeroAICT.synthesis.network import window_channels

    card, network = load_model(tiny_model, "cpu")
    ncct, _, _, body = tube_pair(3, shape=(70, 46, 45))   # no side a multiple of the stride (4)
    hu = ncct.voxels
    halo = receptive_halo(network, len(card.windows_hu), 4)
    assert halo % 4 == 0 and 8 <= halo <= 64 and card.inference["halo_vox"] == halo   # written at training
    # the reference: one forward pass over the whole volume padded to the stride with its own mirror image (not
    # air: padded_region), with and without the x flip
    padded = np.pad(hu, [(0, (-n) % 4) for n in hu.shape], mode="reflect")
    with torch.inference_mode():
        x = torch.from_numpy(window_channels(padded, card.windows_hu))[None]
        whole = (network(x)[0, 0] + torch.flip(network(torch.flip(x, (4,))), (4,))[0, 0]).numpy() / 2
    whole = whole[:hu.shape[0], :hu.shape[1], :hu.shape[2]] * card.enhancement_scale_hu
    inside = body.voxels > 0
    results = {}
    for name, settings in {"one slab": InferenceSettings(tta_flips=[(), (2,)], align=4),
                           "one slab, contiguous": InferenceSettings(tta_flips=[(), (2,)], align=4,
                                                                     channels_last=False),
                           "many slabs": InferenceSettings(tta_flips=[(), (2,)], align=4, max_slab_voxels=20 * 48 * 48),
                           "sliding": InferenceSettings(mode="sliding", patch_size=(32, 32, 32), overlap=0.25,
                                                        tta_flips=[(), (2,)], align=4),
                           # MONAI with one window holding the whole volume: no tile borders, padded at the end
                           "one window": InferenceSettings(mode="sliding", patch_size=(72, 48, 48), overlap=0.5,
                                                           tta_flips=[(), (2,)], align=4, crop_to_body=False,
                                                           blend="constant")}.items():
        facts = {}
        mean, std = predict_enhancement(network, hu, card.windows_hu, card.enhancement_scale_hu, card.min_body_hu,
                                        settings, facts=facts)
        results[name] = float(np.abs(mean - whole)[inside].max())
        if name == "many slabs":
            assert facts["slabs"] > 2 and facts["halo_vox"] == halo
    assert results["one slab"] < 1e-3 and results["many slabs"] < 1e-3 and results["one window"] < 1e-3, results
    assert results["one slab, contiguous"] < 1e-3, results
    # channels-last runs a copy: the network passed in keeps its memory order
    assert all(p.is_contiguous() for p in network.parameters())
    from NetZeroAICT.synthesis.inference import _network_for

    fast, memory_format = _network_for(network, InferenceSettings(), "cpu")
    kernels = [p for p in fast.parameters() if p.dim() == 5]
    assert fast is not network and all(p.is_contiguous(memory_format=torch.channels_last_3d) for p in kernels)
    assert any(not p.is_contiguous() for p in kernels)
    assert memory_format == torch.channels_last_3d
    assert _network_for(network, InferenceSettings(channels_last=False), "cpu")[0] is network
    assert _network_for(fast, InferenceSettings(), "cpu")[0] is fast     # already channels-last: no second copy
    # the halo is measured once per network given (training validates every epoch), not once per copy
    import copy

    fresh = copy.deepcopy(network)
    vars(fresh).pop("_netzeroaict_halo", None)
    predict_enhancement(fresh, hu, card.windows_hu, 1.0, card.min_body_hu, InferenceSettings(align=4))
    assert fresh._netzeroaict_halo == (4, halo)
    assert results["sliding"] > 100 * results["many slabs"], results
    with pytest.raises(NetZeroAICTError, match="unknown inference mode"):
        predict_enhancement(network, hu, card.windows_hu, 1.0, card.min_body_hu, InferenceSettings(mode="tiles"))


def test_back_to_the_input_grid_matches_simpleitk():
    """The fast way back to the input grid gives SimpleITK's linear resampling, on oblique anisotropic grids
    and when the values reach the edge of the model grid."""
    from NetZeroAICT.synthesis.grids import to_input_grid, to_input_grid_sitk, to_model_grid

    rng = np.random.default_rng(0)
    for shape, spacing, filled in [((40, 50, 60), (0.7, 0.8, 1.3), "middle"), ((37, 41, 29), (1.1, 0.45, 2.0), "all")]:
        direction = np.linalg.qr(rng.normal(size=(3, 3)))[0]
        volume = Volume(rng.normal(0, 100, shape).astype(np.float32), spacing, (3.0, -5.0, 7.0), direction)
        hu, grid = to_model_grid(volume, 1.5)
        values = rng.normal(0, 50, hu.shape).astype(np.float32)
        if filled == "middle":
            inner = tuple(slice(n // 5, n - n // 4) for n in hu.shape)
            values[tuple(slice(None) for _ in hu.shape)] = 0.0
            values[inner] = rng.normal(0, 50, values[inner].shape)
        fast, reference = to_input_grid(values, grid, volume), to_input_grid_sitk(values, grid, volume)
        assert fast.shape == reference.shape == shape
        assert np.abs(fast - reference).max() < 1e-3
    assert not to_input_grid(np.zeros_like(hu), grid, volume).any()


def _gate_reference(enh, hu, gate_hu, min_body_hu, max_ncct_hu, max_hu):
    """The gate written out in plain numpy, voxel by voxel rule: what ``gate_enhancement`` must compute."""
    t0, t1 = gate_hu
    out = np.maximum(enh, 0.0) * np.clip((enh - t0) / (t1 - t0), 0.0, 1.0)
    never = (hu < min_body_hu) | (hu > max_ncct_hu)
    out[never] = 0.0
    return np.minimum(out, np.maximum(max_hu - hu, 0.0)), never


def test_restore_gates_adds_and_keeps_untouched_voxels_bit_for_bit():
    """Back on the input grid (resampled or not, box in the middle or reaching the edge), the synthetic CTA is
    the NCCT plus the gated enhancement, the uncertainty is the resampled TTA std, zeroed where nothing may be
    enhanced, and every voxel without enhancement keeps its NCCT value exactly; the statistics add up."""
    from types import SimpleNamespace

    from NetZeroAICT.synthesis.engine import MAX_HU, restore_to_input_grid
    from NetZeroAICT.synthesis.grids import to_input_grid_sitk, to_model_grid

    card = SimpleNamespace(enhancement_gate_hu=(15.0, 40.0), min_body_hu=-400.0, max_enhanced_ncct_hu=300.0)
    rng = np.random.default_rng(3)
    for shape, spacing, model_mm in [((45, 38, 52), (0.7, 0.8, 1.3), 1.5), ((33, 30, 28), (1.5, 1.5, 1.5), 1.5)]:
        ncct = rng.choice([-900.0, 40.0, 60.0, 500.0, 3050.0], size=shape).astype(np.float32)
        ncct += rng.normal(0, 5, shape).astype(np.float32)
        volume = Volume(ncct, spacing, (1.0, 2.0, -3.0))
        hu, grid = to_model_grid(volume, model_mm)
        mean = np.zeros(hu.shape, np.float32)
        std = np.zeros(hu.shape, np.float32)
        inner = tuple(slice(2, n - 3) for n in hu.shape) if grid is not None else (slice(None),) * 3
        mean[inner] = rng.uniform(-30, 400, mean[inner].shape)
        std[inner] = rng.uniform(0, 20, std[inner].shape)
        cta, unc, stats = restore_to_input_grid(volume, mean, std, grid, card)
        back_mean = to_input_grid_sitk(mean, grid, volume)
        back_std = to_input_grid_sitk(std, grid, volume)
        enh, never = _gate_reference(back_mean, ncct, card.enhancement_gate_hu, card.min_body_hu,
                                     card.max_enhanced_ncct_hu, MAX_HU)
        assert np.abs(cta - (ncct + enh)).max() < 1e-2
        assert np.abs(unc - np.where(never, 0.0, back_std)).max() < 1e-3
        untouched = (cta - ncct) == 0
        assert untouched.any() and (~untouched).any()
        assert np.array_equal(cta[untouched], ncct[untouched])
        assert cta.max() <= MAX_HU and not (cta - ncct)[never].any() and not unc[never].any()
        gained = cta - ncct
        assert stats["voxels_enhanced_fraction"] == pytest.approx((gained > 0).mean(), abs=2e-6)
        assert stats["max_enhancement_hu"] == pytest.approx(gained.max(), abs=0.01)
        assert stats["mean_enhancement_in_enhanced_hu"] == pytest.approx(gained[gained > 0].mean(), abs=0.01)


def test_hard_negative_mining_finds_false_contrast_and_sampler_draws_it(tmp_path):
    """A network that enhances every blood-like voxel paints the lumen (right), an unopacified vein (false
    contrast) and leaves an enhancing organ of fat density unenhanced (too little, but not false contrast):
    mining returns exactly the vein, and negative patches are then centred on what it returns."""
    import torch

    from NetZeroAICT.synthesis.training import mine_hard_negatives, new_card
    from NetZeroAICT.synthesis.training_data import PatchSampler, beside_lumen, load_training_case

    ncct, cta, lumen, body = tube_pair(5)
    z, y, x = np.indices(ncct.voxels.shape)
    away = (body.voxels > 0) & ~ndimage.binary_dilation(lumen.voxels > 0, iterations=3)
    vein = (((y - 34) ** 2 + (x - 14) ** 2) <= 6) & away
    ncct.voxels[vein] += 140.0   # fat (−100 HU) → unenhanced blood (≈ 40 HU), the same in both phases
    cta.voxels[vein] += 140.0
    organ = (((z - 20) ** 2 + (y - 12) ** 2 + (x - 30) ** 2) <= 9) & away & ~vein
    cta.voxels[organ] += 100.0   # enhances by 100 HU, invisible to the blood detector
    case_dir = tmp_path / "case"
    case_dir.mkdir()
    for name, volume in (("ncct", ncct), ("cta", cta), ("lumen", lumen), ("body", body),
                         ("enhancing", Volume(organ.astype(np.uint8), ncct.spacing_mm, origin_lps=ncct.origin_lps))):
        write_volume(volume, case_dir / f"{name}.nii.gz")
    case = load_training_case(case_dir, 1.5)

    class BloodDetector(torch.nn.Module):   # 1 (one lumen enhancement) where the 0–100 HU window reads 20–70 HU
        def forward(self, channels):
            w = channels[:, 2:3]
            return torch.sigmoid(200 * (w - 0.2)) * torch.sigmoid(200 * (0.7 - w))

    card = new_card("aorta", 1.5, 32, TINY)
    card.contrast_level = {"normalised": True, "training_lumen_enhancement_hu": [300.0, 320.0]}
    (points,) = mine_hard_negatives(BloodDetector(), [case], card, "cpu")
    mined = np.zeros(case.lumen.shape, dtype=bool)
    mined[tuple(points.T)] = True
    assert mined[vein].mean() >= 0.99 and not (mined & ~vein).any()
    # an enhancing organ at the density of blood (a fatty liver) painted arterial: mined only with organs=True,
    # while the fat-density organ, left darker than its target, stays out either way
    liver = (((z - 8) ** 2 + (y - 34) ** 2 + (x - 34) ** 2) <= 9) & away & ~vein & ~organ
    ncct.voxels[liver] = 40.0
    cta.voxels[liver] = 60.0
    write_volume(ncct, case_dir / "ncct.nii.gz")
    write_volume(cta, case_dir / "cta.nii.gz")
    write_volume(Volume((organ | liver).astype(np.uint8), ncct.spacing_mm, origin_lps=ncct.origin_lps),
                 case_dir / "enhancing.nii.gz")
    with_liver = load_training_case(case_dir, 1.5)
    for organs in (False, True):
        (points,) = mine_hard_negatives(BloodDetector(), [with_liver], card, "cpu", organs=organs)
        mined = np.zeros(case.lumen.shape, dtype=bool)
        mined[tuple(points.T)] = True
        assert mined[vein].mean() >= 0.99 and not (mined & organ).any()
        inner = ndimage.binary_erosion(liver)
        assert (mined[inner].mean() >= 0.99) if organs else not (mined & liver).any()
    # with a band of 2 voxels beside the lumen nothing there is mined; the vein, 3 or more away, still is
    (points,) = mine_hard_negatives(BloodDetector(), [case], card, "cpu", band=2)
    mined = np.zeros(case.lumen.shape, dtype=bool)
    mined[tuple(points.T)] = True
    assert mined[vein].mean() >= 0.99 and not (mined & beside_lumen(case.weight, 2)).any()
    # with a margin, false enhancement in the band is mined where it is above that share of the lumen's
    spill = beside_lumen(case.weight, 2) & (case.weight <= 1.0)
    painted = dataclasses.replace(case, ncct_hu=np.where(spill, 40.0, case.ncct_hu).astype(np.float32))
    for margin, expected in ((None, False), (0.1, True), (5.0, False)):
        (points,) = mine_hard_negatives(BloodDetector(), [painted], card, "cpu", band=2, band_margin=margin)
        mined = np.zeros(case.lumen.shape, dtype=bool)
        mined[tuple(points.T)] = True
        assert (mined & spill).any() == expected and mined[vein].mean() >= 0.99

    sampler = PatchSampler([case], (16, 16, 16), vessel_fraction=0.0, blood_like_fraction=1.0, hard_fraction=1.0)
    sampler.set_hard_negatives(0, np.array([[20, 24, 30]]))
    hu, _, _ = sampler.sample(6)
    expected = np.sort(case.ncct_hu[12:28, 16:32, 22:38], axis=None)
    for patch in hu[:, 0]:   # every negative patch is the box around the hard negative (randomly flipped)
        np.testing.assert_array_equal(np.sort(patch, axis=None), expected)
    sampler.set_hard_negatives(0, np.zeros((0, 3)))   # mining off: blood-like tissue again (here: the vein)
    hu, _, _ = sampler.sample(6)
    assert all(np.isin(np.sort(p, axis=None), expected).mean() < 1 for p in hu[:, 0])


def test_training_mines_hard_negatives_on_schedule(tmp_path):
    from NetZeroAICT.synthesis.training import train

    write_tube_dataset(tmp_path / "data", seeds_train=(0,), seeds_val=())
    card = train("aorta", tmp_path / "data", tmp_path / "m", epochs=2, steps_per_epoch=2, batch_size=1, patch=32,
                 architecture=TINY, spacing_mm=1.5, show_progress=False, mine_every=2, organ_false_contrast=True)
    rows = (tmp_path / "m" / "train_log.csv").read_text().splitlines()
    header = rows[0].split(",")
    column = header.index("hard_negative_voxels")
    assert rows[1].split(",")[column] == "" and rows[2].split(",")[column].isdigit()
    assert card.training["mine_every"] == 2 and "hard negatives" in card.training["sampling"]
    assert card.training["organ_false_contrast"] is True
    assert "(enhancing organs included)" in card.training["sampling"]
    assert "tissue and enhancing-organ voxels away from the lumen with false contrast" in card.training["loss"]


def test_learning_rate_warms_up_then_decays():
    from NetZeroAICT.synthesis.training import FINAL_LR_SHARE, lr_share

    shares = [lr_share(d, warmup=0.1) for d in np.linspace(0, 1, 101)]
    assert 0 < shares[0] < 0.05 and shares[5] == pytest.approx(0.5 + 0.005, abs=0.01)
    assert max(shares) == pytest.approx(1.0, abs=0.01) and int(np.argmax(shares)) == 10
    assert all(a >= b for a, b in zip(shares[10:], shares[11:]))
    assert shares[-1] == pytest.approx(FINAL_LR_SHARE) and lr_share(2.0, 0.1) == pytest.approx(FINAL_LR_SHARE)
    assert lr_share(0.0, warmup=0) == pytest.approx(1.0)


def assert_exact_inference_ignores_slabs(model_dir, align: int, shape: tuple, slab_rows: int) -> None:
    """The model in ``model_dir``, as the engine loads it, gives the same enhancement in one slab as in slabs of
    ``slab_rows`` rows (more than two): its card's halo covers its receptive field."""
    from NetZeroAICT.synthesis.inference import InferenceSettings, predict_enhancement
    from NetZeroAICT.synthesis.model_card import load_model

    loaded, network = load_model(model_dir, "cpu")
    hu = tube_pair(3, shape=shape)[0].voxels
    run = {}
    for name, slab in (("one slab", InferenceSettings.max_slab_voxels), ("many slabs", slab_rows * shape[1] * shape[2])):
        facts = {}
        run[name] = predict_enhancement(network, hu, loaded.windows_hu, 1.0, loaded.min_body_hu,
                                        InferenceSettings(tta_flips=[()], align=align,
                                                          halo=loaded.inference.get("halo_vox"), max_slab_voxels=slab),
                                        facts=facts)[0]
        assert facts["slabs"] > 2 or name == "one slab"
    np.testing.assert_allclose(run["many slabs"], run["one slab"], atol=1e-5)


def test_full_resolution_preset_adds_a_stride_one_level_and_trains(tmp_path):
    """``unet-full-res``: the shipped UNet with a first level at full resolution; a card names it in full, so the
    engine rebuilds it from the card alone and its exact inference does not depend on how the volume is cut."""
    from NetZeroAICT.synthesis.network import architecture_preset, build_network, default_architecture
    from NetZeroAICT.synthesis.training import train

    full, base = architecture_preset("unet-full-res", 3), default_architecture(3)
    assert full["kwargs"]["strides"] == [1, *base["kwargs"]["strides"]]
    assert full["kwargs"]["channels"][1:] == base["kwargs"]["channels"]
    assert build_network(full).model[0].conv.unit0.conv.stride == (1, 1, 1)
    with pytest.raises(ValidationError, match="unknown architecture preset 'unet9'"):
        architecture_preset("unet9", 3)
    write_tube_dataset(tmp_path / "data", seeds_train=(0,), seeds_val=())
    small = {**full, "kwargs": {**full["kwargs"], "channels": [2, 2, 4, 8, 8]}}
    card = train("aorta", tmp_path / "data", tmp_path / "m", epochs=1, steps_per_epoch=1, batch_size=1, patch=32,
                 architecture=small, spacing_mm=1.5, show_progress=False, mine_every=0)
    assert card.architecture["kwargs"]["strides"] == [1, 2, 2, 2]
    # its full-resolution activations are 8× the shipped UNet's first ones: smaller slabs keep the memory bound
    from NetZeroAICT.synthesis.network import FULL_RESOLUTION_MAX_SLAB_VOXELS
    from NetZeroAICT.synthesis.engine import card_settings
    from NetZeroAICT.synthesis.training import new_card

    assert card.inference["max_slab_voxels"] == FULL_RESOLUTION_MAX_SLAB_VOXELS
    assert card_settings(card).max_slab_voxels == FULL_RESOLUTION_MAX_SLAB_VOXELS
    assert "max_slab_voxels" not in new_card("aorta", architecture=base).inference
    assert_exact_inference_ignores_slabs(tmp_path / "m", align=8, shape=(72, 48, 48), slab_rows=20)


def test_input_skip_preset_adds_a_full_resolution_head_and_trains(tmp_path):
    """``unet-input-skip``: the shipped UNet giving 4 feature maps, and a full-resolution head over them and the
    input; the card names it, the engine rebuilds it from the card alone, its exact inference does not depend on
    how the volume is cut, and a malformed head entry is refused naming the field."""
    from NetZeroAICT.synthesis.model_card import validate_card
    from NetZeroAICT.synthesis.network import (FULL_RESOLUTION_MAX_SLAB_VOXELS, architecture_preset,
                                               build_network, default_architecture)
    from NetZeroAICT.synthesis.training import new_card, train

    arch = architecture_preset("unet-input-skip", 3)
    assert arch["kwargs"] == default_architecture(3)["kwargs"] and arch["input_skip"] == {"features": 4, "hidden": 8}
    net = build_network(arch)
    assert net.unet.model[-1][0].conv.out_channels == 4            # the UNet's last layer gives the features
    assert net.conv.in_channels == 4 + 3 and net.out.out_channels == 1
    write_tube_dataset(tmp_path / "data", seeds_train=(0,), seeds_val=())
    small = {**arch, "kwargs": {**arch["kwargs"], "channels": [4, 8, 8], "strides": [2, 2]}}
    card = train("aorta", tmp_path / "data", tmp_path / "m", epochs=1, steps_per_epoch=2, batch_size=1, patch=32,
                 architecture=small, spacing_mm=1.5, show_progress=False, mine_every=0)
    assert card.architecture["input_skip"] == {"features": 4, "hidden": 8}
    assert card.inference["max_slab_voxels"] == FULL_RESOLUTION_MAX_SLAB_VOXELS
    assert_exact_inference_ignores_slabs(tmp_path / "m", align=4, shape=(72, 48, 48), slab_rows=20)
    bad = new_card("aorta", architecture=arch).to_dict()
    bad["architecture"]["input_skip"] = {"features": 0, "hidden": 8}
    with pytest.raises(ValidationError, match="architecture/input_skip/features"):
        validate_card(bad)



def test_deep_preset_adds_a_fifth_level_and_its_inference_does_not_depend_on_the_slabs(tmp_path):
    """``unet-deep``: the shipped UNet with a fifth level (stride 16 in all): its card's halo covers the larger
    receptive field, so its exact inference gives the same voxels in one slab as in many."""
    from NetZeroAICT.synthesis.inference import receptive_halo
    from NetZeroAICT.synthesis.network import architecture_preset, build_network, default_architecture, network_stride
    from NetZeroAICT.synthesis.training import train

    deep, base = architecture_preset("unet-deep", 3), default_architecture(3)
    assert deep["kwargs"]["channels"] == [*base["kwargs"]["channels"], 128]
    assert network_stride(deep) == 16 and network_stride(base) == 8
    small = {**deep, "kwargs": {**deep["kwargs"], "channels": [2, 2, 4, 4, 8]}}   # the same reach, fewer channels
    shallow = {**base, "kwargs": {**base["kwargs"], "channels": [2, 2, 4, 4]}}
    network = build_network(small)   # in train mode: measured as inference runs (eval), and left as it was
    assert receptive_halo(network, 3, 16) > receptive_halo(build_network(shallow), 3, 8) and network.training
    write_tube_dataset(tmp_path / "data", seeds_train=(0,), seeds_val=())
    card = train("aorta", tmp_path / "data", tmp_path / "m", epochs=1, steps_per_epoch=1, batch_size=1, patch=32,
                 architecture=small, spacing_mm=1.5, show_progress=False, mine_every=0)
    assert card.architecture["kwargs"]["strides"] == [2, 2, 2, 2] and card.inference["halo_vox"] % 16 == 0
    assert_exact_inference_ignores_slabs(tmp_path / "m", align=16, shape=(96, 48, 48), slab_rows=16)

def test_real_cta_joins_training_as_a_virtual_non_contrast_pair(tmp_path, monkeypatch):
    """``models --real-cta``: a contrast CT becomes a training pair (its virtual non-contrast → the CT), written
    as voxels only, listed in the manifest's training split by the SHA-256 of its voxels, never by path."""
    import NetZeroAICT.foundry as foundry
    from NetZeroAICT.synthesis.model_zoo import build_phantom_dataset
    from NetZeroAICT.synthesis.training_data import load_training_case

    real = foundry.make_pair
    monkeypatch.setattr(foundry, "make_pair", lambda ind, seed: real(ind, seed, shape_ijk=(32, 32, 24), spacing_mm=2.0))
    source = real("aorta", 7, shape_ijk=(96, 96, 64), spacing_mm=3.0)
    ct_path = write_volume(source.cta, tmp_path / "patient_doe_cta.nii.gz")
    made = []
    folder = build_phantom_dataset("aorta", tmp_path / "data", 1, 1, log=made.append, real_cta=[ct_path])
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["split"]["train"] == ["aorta_00001", "real_cta_001"] and manifest["synthetic"] is False
    assert "aorta_20001" in manifest["split"]["test"] and not any("real" in n for n in manifest["split"]["test"])
    assert manifest["real_cta"][0]["source_sha256"] and "patient_doe" not in json.dumps(manifest)
    case_dir = folder / "real_cta_001"
    assert "patient_doe" not in (case_dir / "case.json").read_text()
    cta = read_volume(case_dir / "cta.nii.gz").voxels
    vnc = read_volume(case_dir / "ncct.nii.gz").voxels
    lumen = read_volume(case_dir / "lumen.nii.gz", label=True).voxels > 0
    true_lumen = source.masks["lumen"].voxels > 0
    np.testing.assert_array_equal(cta, source.cta.voxels)
    assert (lumen & true_lumen).sum() > 0.9 * true_lumen.sum()      # the enhanced blood was found
    assert vnc[lumen].mean() < 80 < 200 < cta[lumen].mean()          # and brought back to unenhanced HU
    tissue, labels = source.masks["tissue"].voxels, source.case["tissue_labels"]
    bone = tissue == labels["cortical_bone"]
    assert (vnc[bone] != cta[bone]).mean() < 0.01                     # bone as scanned
    case = load_training_case(case_dir, 3.0)
    assert case.lumen_enhancement_hu > 150 and case.weight[case.lumen > 0].min() > 1
    made.clear()
    build_phantom_dataset("aorta", folder, 1, 1, log=made.append, real_cta=[ct_path])
    assert made == []                                                 # same CT: the case is kept


def test_models_trains_each_indication_with_its_recipe_and_names_the_test_phantoms(tiny_model, tmp_path,
                                                                                    monkeypatch):
    """``make models`` passes the indication's recipe (the shared one, overridden where measured) to training,
    installs the model and evaluates it on held-out phantoms whose generator version the card states."""
    import shutil

    import NetZeroAICT.foundry as foundry
    from NetZeroAICT.foundry.phantom import GENERATOR_VERSION
    from NetZeroAICT.synthesis import model_zoo, training

    real = foundry.make_pair
    monkeypatch.setattr(foundry, "make_pair", lambda ind, seed: real(ind, seed, shape_ijk=(32, 32, 24), spacing_mm=2.0))
    monkeypatch.setitem(training.RECIPE_BY_INDICATION, "aorta", {"false_contrast_weight": 0.25})
    seen = {}

    def fake_train(indication, data, model_dir, **kwargs):   # the tiny model stands in for a real run
        seen.update(kwargs, indication=indication, had_checkpoint=(model_dir / "checkpoint" / "state.json").is_file())
        shutil.copytree(tiny_model, model_dir, dirs_exist_ok=True)
        return read_card(model_dir)

    monkeypatch.setattr(model_zoo, "train", fake_train)
    card = model_zoo.rebuild_model("aorta", tmp_path / "work", tmp_path / "models", minutes=0.1, n_train=1,
                                   n_test=1, log=lambda *_: None)
    assert seen["indication"] == "aorta" and seen["false_contrast_weight"] == 0.25 and seen["max_minutes"] == 0.1
    assert all(seen[k] == v for k, v in training.RECIPE.items() if k != "false_contrast_weight")
    monkeypatch.delitem(training.RECIPE_BY_INDICATION, "limb")   # an indication without overrides: the shared one
    assert training.recipe("limb") == training.RECIPE
    installed = read_card(tmp_path / "models" / "aorta")
    assert installed.metrics_held_out["test_generator_version"] == GENERATOR_VERSION == \
        card.training["dataset"]["generator_version"]
    assert installed.metrics_held_out["test_seeds"] == [20001]
    assert seen["resume"] is False and not seen["had_checkpoint"]
    # the shipped aorta model's seed by default, and the card's command says which
    assert seen["seed"] == model_zoo.shipped_seed("aorta") == 1 and "--seed 1 " in seen["command"] + " "

    # the validation phantoms: their own metrics in the card, the held-out ones untouched
    held_out = installed.metrics_held_out
    validated = model_zoo.reevaluate_model("aorta", tmp_path / "work", tmp_path / "models", log=lambda *_: None,
                                           split="validation")
    assert validated.metrics_validation["validation_seeds"] == list(model_zoo.SELECTION_SEEDS)
    assert [row["case"] for row in validated.metrics_validation["cases"]] == \
        [f"aorta_{seed:05d}" for seed in range(10001, 10007)]
    assert not set(model_zoo.SELECTION_SEEDS) & set(held_out["test_seeds"])
    assert read_card(tmp_path / "models" / "aorta").metrics_held_out == held_out
    with pytest.raises(NetZeroAICTError, match="unknown split"):
        model_zoo.reevaluate_model("aorta", tmp_path / "work", tmp_path / "models", split="train")

    # an interrupted run (a checkpoint in the work folder) goes on with --resume instead of starting afresh
    model_dir = tmp_path / "work" / "aorta" / "model"
    shutil.rmtree(model_dir)
    (model_dir / "checkpoint").mkdir(parents=True)
    (model_dir / "checkpoint" / "state.json").write_text("{}")
    model_zoo.rebuild_model("aorta", tmp_path / "work", tmp_path / "models", minutes=0.1, n_train=1, n_test=1,
                            log=lambda *_: None, resume=True)
    assert seen["resume"] is True and seen["had_checkpoint"]
    assert "--resume" in seen["command"]
    model_zoo.rebuild_model("aorta", tmp_path / "work", tmp_path / "models", minutes=0.1, n_train=1, n_test=1,
                            log=lambda *_: None, seed=0)   # without --resume the checkpoint goes: a fresh start
    assert seen["resume"] is False and not seen["had_checkpoint"]
    assert seen["seed"] == 0 and "--seed" not in seen["command"]
    assert seen["batch_size"] == training.RECIPE["batch_size"] and "--batch-size" not in seen["command"]
    # a GPU run: more patches per step, and the card's command says so (its evaluation is not run here)
    monkeypatch.setattr(model_zoo, "reevaluate_model", lambda *args: read_card(tmp_path / "models" / "aorta"))
    model_zoo.rebuild_model("aorta", tmp_path / "work", tmp_path / "models", minutes=0.1, n_train=1, n_test=1,
                            log=lambda *_: None, batch_size=8, device="cuda")
    assert seen["batch_size"] == 8 and seen["device"] == "cuda"
    assert "--device cuda --batch-size 8" in seen["command"]


def test_keep_gives_the_model_the_best_or_the_last_epochs_weights(tmp_path):
    """``keep="last"`` installs the final epoch's weights, ``"best"`` those of the best validation score; a
    finished run resumed with the other choice only writes its model again, with the other weights."""
    import torch
    from safetensors.torch import load_file, save_file

    from NetZeroAICT.synthesis.training import train

    write_tube_dataset(tmp_path / "data", seeds_train=(0,))
    kwargs = dict(steps_per_epoch=2, batch_size=1, patch=32, architecture=TINY, spacing_mm=1.5, show_progress=False,
                  epochs=3, max_minutes=60)
    ckpt = tmp_path / "m" / "checkpoint"

    def model_tensors():
        return load_file(tmp_path / "m" / "model.safetensors")

    def same(a, b):
        return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    last = train("aorta", tmp_path / "data", tmp_path / "m", keep="last", **kwargs)
    assert last.training["keep"] == "last" and last.training["kept_epoch"] == 3
    assert "last epoch's weights kept" in last.training["validation"]
    assert same(model_tensors(), load_file(ckpt / "weights.safetensors"))
    # make the best epoch's weights differ from the last, so that the two choices can be told apart
    best_tensors = {k: (v * 0.5 if v.is_floating_point() else v) for k, v in load_file(ckpt / "best.safetensors").items()}
    save_file(best_tensors, ckpt / "best.safetensors")
    state = json.loads((ckpt / "state.json").read_text())
    state["history"][-1]["elapsed_s"] = 3600.0   # the budget is spent: the resumed run trains no epoch
    (ckpt / "state.json").write_text(json.dumps(state))
    best = train("aorta", tmp_path / "data", tmp_path / "m", keep="best", resume=True, **kwargs)
    assert best.training["kept_epoch"] == best.training["best_epoch"] == state["best"]["epoch"]
    assert "best epoch's weights kept" in best.training["validation"]
    assert same(model_tensors(), best_tensors) and not same(best_tensors, load_file(ckpt / "weights.safetensors"))
    again = train("aorta", tmp_path / "data", tmp_path / "m", keep="last", resume=True, **kwargs)
    assert again.training["kept_epoch"] == 3 and same(model_tensors(), load_file(ckpt / "weights.safetensors"))
    with pytest.raises(NetZeroAICTError, match="keep 'median'"):
        train("aorta", tmp_path / "data", tmp_path / "m2", keep="median", **kwargs)


def test_a_training_can_start_from_a_models_weights(tiny_model, tmp_path, monkeypatch):
    """``init_from``: the network starts from a model folder's weights (checked against its card), a new run with
    its own warm-up and decay; as a trained network it gets thick-slice patches at their full share and hard
    negatives mined before its first step. The card names the model it started from, and so does a resumed run's.
    A model with another network, or with altered weights, is refused before anything is written."""
    import shutil

    import torch
    from safetensors.torch import load_file

    from NetZeroAICT.synthesis import training
    from NetZeroAICT.synthesis.training_data import PatchSampler

    write_tube_dataset(tmp_path / "data", seeds_train=(0,), seeds_val=())
    kwargs = dict(epochs=1, steps_per_epoch=1, batch_size=1, patch=32, show_progress=False, mine_every=75,
                  learning_rate=0.0, coarse_fraction=0.35)   # no step moves a weight: what the run started from stays
    shares, mined = [], []
    sample = PatchSampler.sample
    monkeypatch.setattr(PatchSampler, "sample", lambda self, n: shares.append(self.coarse_fraction) or sample(self, n))
    mine = training.mine_hard_negatives
    monkeypatch.setattr(training, "mine_hard_negatives", lambda *a, **k: mined.append(1) or mine(*a, **k))

    def weights(folder):   # the trained parameters, not the batch-norm statistics a step in train mode updates
        return {k: v for k, v in load_file(folder / "model.safetensors").items() if "running" not in k
                and "num_batches" not in k}

    def same(a, b):
        return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    fresh = training.train("aorta", tmp_path / "data", tmp_path / "fresh", architecture=TINY, spacing_mm=1.5, **kwargs)
    assert not same(weights(tmp_path / "fresh"), weights(tiny_model)) and "initialised_from" not in fresh.training
    assert shares == [0.0] and mined == []   # a new network: no thick slices at the first step, nothing mined yet
    shares.clear()
    tuned = training.train("aorta", tmp_path / "data", tmp_path / "tuned", init_from=tiny_model, **kwargs)
    assert same(weights(tmp_path / "tuned"), weights(tiny_model))
    assert tuned.architecture == TINY and tuned.spacing_mm == 1.5   # the model's network and spacing
    assert shares == [0.35] and mined == [1]
    source = read_card(tiny_model)
    record = tuned.training["initialised_from"]
    assert (record["model_id"], record["version"], record["weights_sha256"]) == (
        source.model_id, source.version, source.weights["sha256"])
    assert "from the weights of nzct-aorta" in tuned.training["lr_schedule"]
    assert "from the first step" in tuned.training["sampling"]
    # resumed without the model: the checkpoint's network, spacing and record; another network or spacing refused
    for other in ({"architecture": "unet"}, {"spacing_mm": 2.0}):
        with pytest.raises(NetZeroAICTError, match="the checkpoint was trained with another (architecture|spacing)"):
            training.train("aorta", tmp_path / "data", tmp_path / "tuned", resume=True, **{**kwargs, "epochs": 2},
                           **other)
    resumed = training.train("aorta", tmp_path / "data", tmp_path / "tuned", resume=True, **{**kwargs, "epochs": 2})
    assert resumed.training["epochs_run"] == 2 and resumed.training["initialised_from"] == record
    assert resumed.architecture == TINY and resumed.spacing_mm == 1.5

    with pytest.raises(NetZeroAICTError, match="another network"):
        training.train("aorta", tmp_path / "data", tmp_path / "other", init_from=tiny_model, architecture="unet",
                       **kwargs)
    altered = tmp_path / "altered"
    shutil.copytree(tiny_model, altered)
    blob = bytearray((altered / "model.safetensors").read_bytes())
    blob[-1] ^= 1
    (altered / "model.safetensors").write_bytes(bytes(blob))
    with pytest.raises(NetZeroAICTError, match="does not match the model card"):
        training.train("aorta", tmp_path / "data", tmp_path / "refused", init_from=altered, **kwargs)
    assert not (tmp_path / "other").exists() and not (tmp_path / "refused").exists()


def test_train_cli_defaults_to_the_indication_recipe(monkeypatch, tmp_path, capsys):
    """``train`` without --false-contrast-weight trains as ``make models`` does for that indication."""
    from NetZeroAICT.cli import main
    from NetZeroAICT.synthesis import training

    seen, sizes = [], []

    class Stop(Exception):
        pass

    def fake_train(indication, data, out, **kwargs):
        seen.append((indication, kwargs["false_contrast_weight"], kwargs["coarse_fraction"], kwargs["architecture"],
                     kwargs["flip_axes"], kwargs["organ_fraction"], kwargs["organ_false_contrast"],
                     kwargs["tta_passes"], kwargs["tta_lower_sd"], kwargs["keep"], kwargs["thin_vessel_share"]))
        sizes.append((kwargs["patch"], kwargs["batch_size"]))
        assert kwargs["init_from"] in (None, str(tmp_path / "model"))
        raise Stop

    monkeypatch.setattr(training, "train", fake_train)
    own = training.recipe("neck_brain")
    for extra, expected in (([], (own["false_contrast_weight"], own["coarse_fraction"], own["architecture"],
                                  tuple(own["flip_axes"]), own["organ_fraction"], own["organ_false_contrast"],
                                  own["tta_passes"], own["tta_lower_sd"], "last", own["thin_vessel_share"])),
                            (["--false-contrast-weight", "0.3", "--coarse-fraction", "0",
                              "--architecture", "unet-full-res", "--flips", "none", "--organ-fraction", "0.1",
                              "--organ-false-contrast", "on", "--tta-passes", "4", "--tta-lower-sd", "1",
                              "--keep", "best", "--thin-vessel-share", "0.25"],
                             (0.3, 0.0, "unet-full-res", (), 0.1, True, 4, 1.0, "best", 0.25)),
                            (["--flips", "xyz", "--organ-false-contrast", "off"],
                             (own["false_contrast_weight"], own["coarse_fraction"], own["architecture"], (0, 1, 2),
                              own["organ_fraction"], False, own["tta_passes"], own["tta_lower_sd"], own["keep"],
                              own["thin_vessel_share"]))):
        with pytest.raises(Stop):
            main(["train", "--indication", "neck_brain", "--data", str(tmp_path), "--out", str(tmp_path / "m"),
                  *extra])
        assert seen.pop() == ("neck_brain", *expected)
    assert training.recipe("neck_brain")["false_contrast_weight"] != training.RECIPE["false_contrast_weight"]
    # the patch and the batch size are the recipe's too (the aorta's fifth level trains on 64³), unless asked for
    for indication, extra, expected in (("aorta", [], (training.recipe("aorta")["patch"], 2)),
                                        ("limb", [], (48, training.recipe("limb")["batch_size"])),
                                        ("aorta", ["--patch", "32", "--batch-size", "4"], (32, 4))):
        with pytest.raises(Stop):
            main(["train", "--indication", indication, "--data", str(tmp_path), "--out", str(tmp_path / "m"), *extra])
        assert sizes[-1] == expected
    assert (training.recipe("aorta")["patch"], training.recipe("limb")["batch_size"]) == (64, 8)
    # a model to start from brings its own network, unless one is asked for
    for extra, architecture in (([], None), (["--architecture", "unet"], "unet")):
        with pytest.raises(Stop):
            main(["train", "--indication", "neck_brain", "--data", str(tmp_path), "--out", str(tmp_path / "m"),
                  "--init-from", str(tmp_path / "model"), *extra])
        assert seen.pop()[3] == architecture
    # and so does a checkpoint that records its network (a run --resume'd with no checkpoint yet, or with one from
    # before checkpoints recorded it, gets the recipe's)
    (tmp_path / "m" / "checkpoint").mkdir(parents=True)
    for state, architecture in ((None, own["architecture"]), ({"epoch": 3}, own["architecture"]),
                                ({"architecture": {"name": "x"}}, None)):
        if state is not None:
            (tmp_path / "m" / "checkpoint" / "state.json").write_text(json.dumps(state))
        with pytest.raises(Stop):
            main(["train", "--indication", "neck_brain", "--data", str(tmp_path), "--out", str(tmp_path / "m"),
                  "--resume"])
        assert seen.pop()[3] == architecture


def test_models_cli_passes_resume(monkeypatch, tmp_path):
    """``models --resume`` reaches the rebuild (which goes on from the work folder's checkpoint); without it, not."""
    from NetZeroAICT.cli import main
    from NetZeroAICT.synthesis import model_zoo

    seen = []

    class Stop(Exception):
        pass

    def fake_rebuild(name, **kwargs):
        seen.append((name, kwargs["resume"], kwargs["minutes"], kwargs["seed"]))
        assert kwargs["n_test"] == model_zoo.TEST_CASES == 10     # ten held-out phantoms unless told
        raise Stop

    monkeypatch.setattr(model_zoo, "rebuild_model", fake_rebuild)
    for extra, resume, seed in (([], False, None), (["--resume"], True, None), (["--seed", "3"], False, 3)):
        with pytest.raises(Stop):
            main(["models", "--indication", "limb", "--minutes", "5", "--work", str(tmp_path), *extra])
        assert seen.pop() == ("limb", resume, 5.0, seed)
    # --split says what --evaluate-only evaluates on; with a rebuild it is refused before anything runs
    assert main(["models", "--indication", "limb", "--work", str(tmp_path), "--split", "validation"]) == 2
    assert seen == []
    splits = []
    monkeypatch.setattr(model_zoo, "reevaluate_model", lambda name, **kw: splits.append((name, kw["split"])))
    main(["models", "--indication", "limb", "--work", str(tmp_path), "--evaluate-only", "--split", "validation"])
    main(["models", "--indication", "aorta", "--work", str(tmp_path), "--evaluate-only"])
    assert splits == [("limb", "validation"), ("aorta", "test")]


def test_models_without_a_budget_rebuild_each_shipped_model_with_its_own(monkeypatch, tmp_path, capsys):
    """``models`` without --minutes / --train-cases trains each indication with its shipped model's budget;
    each given value overrides it."""
    from NetZeroAICT.cli import main
    from NetZeroAICT.synthesis import model_zoo

    assert model_zoo.training_budget("neck_brain") == (150.0, 10)
    assert model_zoo.training_budget("neck_brain", 6, None) == (6.0, 10)
    assert model_zoo.training_budget("limb", None, 3) == (None, 3)   # budgeted in epochs
    assert model_zoo.training_budget("limb", 4, None) == (4.0, 20)
    assert set(model_zoo.SHIPPED_BUDGET) == set(INDICATIONS)

    seen = []

    class Stop(Exception):
        pass

    def fake_build(indication, folder, n_train, n_test, log=print, real_cta=(), workers=1):
        seen.append((indication, n_train))
        raise Stop

    monkeypatch.setattr(model_zoo, "build_phantom_dataset", fake_build)
    for extra, expected in (([], ("pulmonary", 20)), (["--train-cases", "2"], ("pulmonary", 2)),
                            ([], ("limb", 20))):
        with pytest.raises(Stop):
            main(["models", "--indication", expected[0], "--work", str(tmp_path), *extra])
        assert seen.pop() == expected
    for bad, message in ((["--epochs", "0"], "0 epochs"), (["--epochs", "5", "--minutes", "3"], "not both"),
                         (["--phantom-workers", "0"], "0 phantoms at once")):
        assert main(["models", "--indication", "limb", "--work", str(tmp_path), *bad]) == 2
        assert message in capsys.readouterr().err
    assert not seen   # refused before any phantom


def test_a_run_stopped_by_its_time_budget_is_spent_when_resumed(tmp_path, monkeypatch):
    """The time a run stops for is the time its checkpoint records (taken after the epoch's validation), so
    resuming a run that stopped for its budget trains no more epochs: the resume only writes its model again."""
    import types

    from NetZeroAICT.synthesis import training

    write_tube_dataset(tmp_path / "data", seeds_train=(0,))
    clock = [0.0]
    monkeypatch.setattr(training, "time", types.SimpleNamespace(perf_counter=lambda: clock[0]))
    real = training.validation_metrics

    def slow_validation(*args):   # the validation takes 100 s of the 60-second budget
        clock[0] += 100.0
        return real(*args)

    monkeypatch.setattr(training, "validation_metrics", slow_validation)
    kwargs = dict(steps_per_epoch=1, batch_size=1, patch=32, architecture=TINY, spacing_mm=1.5, show_progress=False,
                  epochs=5, max_minutes=1)
    assert training.train("aorta", tmp_path / "data", tmp_path / "m", **kwargs).training["epochs_run"] == 1
    rows = list(csv.DictReader((tmp_path / "m" / "train_log.csv").open()))
    assert [float(r["elapsed_s"]) for r in rows] == [100.0]
    resumed = training.train("aorta", tmp_path / "data", tmp_path / "m", resume=True, **kwargs)
    assert resumed.training["epochs_run"] == 1
    assert len(list(csv.DictReader((tmp_path / "m" / "train_log.csv").open()))) == 1


def test_a_warm_restart_trains_to_its_budget_then_resumes_to_the_whole_one(monkeypatch, tmp_path, tiny_model,
                                                                            capsys):
    """A time budget with a warm restart (the shipped neck & brain model's, or ``--restart-at``): a run to the
    restart's minutes, then the same run resumed to the whole budget; the card and its command say so. A restart
    outside the budget, or with a budget in epochs, is refused before any phantom."""
    import shutil

    import NetZeroAICT.foundry as foundry
    from NetZeroAICT.cli import main
    from NetZeroAICT.synthesis import model_zoo

    real = foundry.make_pair
    monkeypatch.setattr(foundry, "make_pair", lambda ind, seed: real(ind, seed, shape_ijk=(32, 32, 24), spacing_mm=2.0))
    monkeypatch.setattr(model_zoo, "reevaluate_model", lambda *a, **k: read_card(tmp_path / "models" / "neck_brain"))
    calls = []

    def fake_train(indication, data, model_dir, **kwargs):
        calls.append((kwargs["max_minutes"], kwargs["resume"], (model_dir / "checkpoint").is_dir()))
        shutil.copytree(tiny_model, model_dir, dirs_exist_ok=True)
        card = read_card(model_dir)
        card.training["command"] = kwargs["command"]
        if kwargs.get("init_from"):
            starts.append((kwargs["init_from"], kwargs["learning_rate"],
                           len(json.loads((data / "manifest.json").read_text())["split"]["train"])))
            card.training["initialised_from"] = {"model_id": read_card(kwargs["init_from"]).model_id}
        return card

    monkeypatch.setattr(model_zoo, "train", fake_train)
    rebuild = dict(work_dir=tmp_path / "work", install_dir=tmp_path / "models", n_train=1, n_test=1,
                   log=lambda *_: None)
    shipped = model_zoo.SHIPPED_BUDGET["neck_brain"]
    starts = []
    card = model_zoo.rebuild_model("neck_brain", **rebuild, fine_cases=2)
    fine = shipped["fine_tune"]
    assert calls == [(shipped["restart_at_minutes"], False, False), (shipped["minutes"], True, True),
                     (fine["minutes"], False, False)]
    # the fine-tuning starts from the first run's model, on its own phantoms, at a share of the learning rate
    work = tmp_path / "work" / "neck_brain"
    assert starts == [(work / "model", model_zoo.recipe("neck_brain")["learning_rate"] * model_zoo.FINE_TUNE_LR_SHARE,
                       2)]
    assert 0 < model_zoo.FINE_TUNE_LR_SHARE < 1
    assert read_card(work / "model").training["restart_at_minutes"] == 95.0
    assert "warm restart" in read_card(work / "model").training["lr_schedule"]
    assert card.training["initialised_from"] and "a fine-tuning" in card.training["lr_schedule"]
    assert card.training["data"].startswith("neck_brain/data-fine-tune ")
    assert "--minutes 150 --restart-at 95 --train-cases 1 " in card.training["command"]
    assert f" --fine-tune-minutes {fine['minutes']:g} --fine-tune-cases 2" in card.training["command"]
    assert read_card(tmp_path / "models" / "neck_brain").training["initialised_from"]
    for kwargs, expected in (({"minutes": 2.0}, [(2.0, False, False)]),   # another budget: no restart of its own
                             ({"minutes": 2.0, "restart_at": 0.5}, [(0.5, False, False), (2.0, True, True)]),
                             ({"epochs": 3}, [(None, False, False)]),
                             ({"minutes": 2.0, "fine_minutes": 1.0}, [(2.0, False, False), (1.0, False, False)]),
                             ({"fine_minutes": 0.0}, [(95.0, False, False), (150.0, True, True)])):
        calls.clear()
        card = model_zoo.rebuild_model("neck_brain", **rebuild, **kwargs)
        assert calls == expected
        assert ("restart_at_minutes" in card.training) == (len(expected) == 2 and expected[1][1])
        assert ("initialised_from" in card.training) == ("fine_minutes" in kwargs and kwargs["fine_minutes"] > 0)
    assert model_zoo.restart_minutes("aorta", "cpu") is None   # the others have none
    calls.clear()
    for bad, message in ((["--minutes", "2", "--restart-at", "2"], "a restart at 2 min of a 2-minute budget"),
                         (["--restart-at", "0"], "a restart at 0 min"),
                         (["--epochs", "5", "--restart-at", "1"], "needs a time budget"),
                         (["--indication", "limb", "--restart-at", "1"], "needs a time budget"),
                         (["--fine-tune-minutes", "-1"], "a fine-tuning of -1 min"),
                         (["--fine-tune-minutes", "1", "--fine-tune-cases", "0"], "0 phantoms"),
                         (["--minutes", "2", "--fine-tune-cases", "3"], "but no fine-tuning")):
        indication = [] if "--indication" in bad else ["--indication", "neck_brain"]
        assert main(["models", *indication, "--work", str(tmp_path / "w"), *bad]) == 2
        assert message in capsys.readouterr().err
    assert not calls and not (tmp_path / "w").exists()


def test_a_gpu_trained_model_rebuilt_on_a_cpu_trains_the_epochs_its_gpu_run_reached(monkeypatch, tmp_path,
                                                                                    tiny_model):
    """A shipped model trained on a GPU for minutes is rebuilt on a CPU for the epochs that run reached (its
    minutes here would be a small share of that training), with the schedule over those epochs; on a GPU with
    its minutes; and ``epochs`` or ``minutes`` given override both. The card's command says which."""
    import shutil

    import NetZeroAICT.foundry as foundry
    from NetZeroAICT.synthesis import model_zoo

    real = foundry.make_pair
    monkeypatch.setattr(foundry, "make_pair", lambda ind, seed: real(ind, seed, shape_ijk=(32, 32, 24), spacing_mm=2.0))
    monkeypatch.setattr(model_zoo, "reevaluate_model", lambda *a, **k: read_card(tmp_path / "models" / "pulmonary"))
    seen = {}

    def fake_train(indication, data, model_dir, **kwargs):
        seen.update(kwargs)
        shutil.copytree(tiny_model, model_dir, dirs_exist_ok=True)
        return read_card(model_dir)

    monkeypatch.setattr(model_zoo, "train", fake_train)
    budget = model_zoo.SHIPPED_BUDGET["pulmonary"]
    assert model_zoo.shipped_device("pulmonary") == "cuda" and model_zoo.shipped_device("limb") == "cpu"
    for device, kwargs, epochs, minutes in (("cpu", {}, budget["epochs"], None), ("cuda", {}, 100_000, 6.5),
                                            ("cpu", {"epochs": 7}, 7, None), ("cpu", {"minutes": 2.0}, 100_000, 2.0)):
        model_zoo.rebuild_model("pulmonary", tmp_path / "work", tmp_path / "models", n_train=1, n_test=1,
                                device=device, log=lambda *_: None, **kwargs)
        assert (seen["epochs"], seen["max_minutes"]) == (epochs, minutes)
        assert (f"--epochs {epochs} " if minutes is None else f"--minutes {minutes:g} ") in seen["command"]
        assert seen["architecture"] == "unet-full-res" and seen["batch_size"] == 8
    assert model_zoo.rebuild_epochs("neck_brain", "cpu") is None   # a CPU model with minutes: those anywhere
    for device in ("cpu", "cuda"):   # a model budgeted in epochs: those anywhere, unless told otherwise
        assert model_zoo.rebuild_epochs("limb", device) == model_zoo.SHIPPED_BUDGET["limb"]["epochs"]
        assert model_zoo.rebuild_epochs("limb", device, minutes=3.0) is None


def test_test_time_augmentation_of_a_card():
    """2, 4 or 8 passes: flips (x first) for a network trained with flips, shifts over a half-stride cube for one
    trained without; a flip the network never saw in training, or another number of passes, is refused."""
    from NetZeroAICT.synthesis.training import new_card, tta_settings

    assert new_card("aorta").inference["tta_flips"] == [[], [2]]   # the default: the left-right flip
    assert new_card("aorta", flip_axes=()).inference["tta_shifts"] == [[0, 0, 0], [4, 4, 4]]
    for passes in (2, 4, 8):
        flips = tta_settings((0, 1, 2), passes)["tta_flips"]
        shifts = tta_settings((), passes)
        assert len({tuple(f) for f in flips}) == passes and flips[:2] == [[], [2]]
        assert shifts["tta_flips"] == [[]] and len({tuple(s) for s in shifts["tta_shifts"]}) == passes
        assert all(v in (0, 4) for s in shifts["tta_shifts"] for v in s)
    assert new_card("neck_brain", tta_passes=8).inference["tta_flips"][-1] == [0, 1, 2]
    with pytest.raises(NetZeroAICTError, match="flips along z"):
        tta_settings((1, 2), 8)
    with pytest.raises(NetZeroAICTError, match="3 test-time passes"):
        tta_settings((0, 1, 2), 3)


def test_a_model_version_says_what_changed(tiny_model, tmp_path):
    """MAJOR.MINOR.PATCH: another network, spacing, windows or output is a new major version, new weights a new
    minor one, the same weights with other run settings a new patch; the same model keeps its version."""
    from NetZeroAICT.synthesis.model_card import next_version

    card = read_card(tiny_model)
    assert next_version(None, card) == "1.0.0"
    previous = dataclasses.replace(card, version="2.3.1")
    assert next_version(previous, card) == "2.3.1"
    assert next_version(previous, dataclasses.replace(card, inference={**card.inference, "overlap": 0.5})) == "2.3.2"
    retrained = dataclasses.replace(card, weights={**card.weights, "sha256": "f" * 64, "tensors_sha256": "e" * 64})
    assert next_version(previous, retrained) == "2.4.0"
    # the same tensors in another file (its metadata holds the version) are the same weights
    rewritten = dataclasses.replace(card, weights={**card.weights, "sha256": "f" * 64})
    assert card.weights["tensors_sha256"] and next_version(previous, rewritten) == "2.3.1"
    # a card from before the tensors' digest: the file's
    old = {"file": card.weights["file"], "sha256": card.weights["sha256"]}
    assert next_version(dataclasses.replace(previous, weights=old), rewritten) == "2.4.0"
    assert next_version(dataclasses.replace(previous, weights=old), card) == "2.3.1"
    for changed in ({"spacing_mm": 1.25}, {"windows_hu": card.windows_hu[:2]},
                    {"architecture": {**TINY, "kwargs": {**TINY["kwargs"], "channels": [8, 8, 16]}}},
                    {"contrast_level": {**card.contrast_level, "normalised": not card.normalised}}):
        assert next_version(previous, dataclasses.replace(retrained, **changed)) == "3.0.0", changed
    with pytest.raises(ValidationError, match="not MAJOR.MINOR.PATCH"):
        next_version(dataclasses.replace(card, version="1.0"), retrained)


def test_set_version_rewrites_the_weights_metadata_not_the_tensors(tiny_model, tmp_path):
    import shutil

    from safetensors import safe_open

    from NetZeroAICT.synthesis.model_card import set_version

    folder = tmp_path / "model"
    shutil.copytree(tiny_model, folder)
    _, before = load_model(folder)
    card = set_version(folder, "4.1.0")
    assert read_card(folder).version == card.version == "4.1.0"
    assert card.weights["sha256"] != read_card(tiny_model).weights["sha256"]
    _, after = load_model(folder)   # the card's new digest matches the rewritten file
    assert all(np.array_equal(before.state_dict()[k].numpy(), v.numpy()) for k, v in after.state_dict().items())
    with safe_open(str(folder / "model.safetensors"), "pt") as weights:
        assert weights.metadata()["version"] == "4.1.0"
    blob = bytearray((folder / "model.safetensors").read_bytes())
    blob[-1] ^= 1
    (folder / "model.safetensors").write_bytes(bytes(blob))
    with pytest.raises(ValidationError, match="does not match the model card"):
        set_version(folder, "5.0.0")
    assert read_card(folder).version == "4.1.0"   # nothing rewritten


def test_a_rebuild_installs_the_next_version(monkeypatch, tmp_path, tiny_model):
    """``models`` gives a retrained model the next minor version of the one it replaces (1.0.0 where there was
    none), the same tensors installed again the same version, and another network the next major version; the
    weight file carries it too."""
    import shutil

    from safetensors import safe_open

    import torch

    import NetZeroAICT.foundry as foundry
    from NetZeroAICT.synthesis import model_zoo
    from NetZeroAICT.synthesis.model_card import save_model

    real = foundry.make_pair
    monkeypatch.setattr(foundry, "make_pair", lambda ind, seed: real(ind, seed, shape_ijk=(32, 32, 24), spacing_mm=2.0))
    monkeypatch.setattr(model_zoo, "reevaluate_model", lambda name, work, install, *a, **k: read_card(install / name))
    architecture, nudge = {}, [0]

    def fake_train(indication, data, model_dir, **kwargs):   # the tiny model's weights, nudged by nudge[0]
        shutil.copytree(tiny_model, model_dir, dirs_exist_ok=True)
        card, network = load_model(model_dir)
        with torch.no_grad():
            next(network.parameters()).add_(1e-3 * nudge[0])
        save_model(network, card, model_dir)
        if architecture:   # another network: its card says so (the weights are the tiny model's)
            card.architecture = architecture
        return card

    monkeypatch.setattr(model_zoo, "train", fake_train)
    installed = tmp_path / "models" / "aorta"
    # the third install has the second's tensors again (a finished run installed once more): same version
    for step, expected in zip((1, 2, 2, 3, 4), ("1.0.0", "1.1.0", "1.1.0", "1.2.0", "2.0.0")):
        nudge[0] = step
        if expected == "2.0.0":
            architecture.update({**TINY, "kwargs": {**TINY["kwargs"], "channels": [8, 8, 16]}})
        card = model_zoo.rebuild_model("aorta", tmp_path / "work", tmp_path / "models", n_train=1, n_test=1,
                                       minutes=1.0, log=lambda *_: None)
        assert card.version == read_card(installed).version == expected
        data = read_card(installed).training["data"]   # not this machine's folder: the work folder's part of it
        assert data.startswith("aorta/data in the models work folder") and str(tmp_path) not in data
        with safe_open(str(installed / "model.safetensors"), "pt") as weights:
            assert weights.metadata()["version"] == expected


def test_models_parallel_runs_indications_at_once_and_reports_every_failure(tmp_path):
    """``models --parallel N``: up to N indications at once, each in its own process; one that fails does not
    stop the others, and the error names it and what it said, and which were installed."""
    from NetZeroAICT.synthesis.model_zoo import rebuild_models_parallel
    from Testing.models_workers import timed_rebuild

    def runs():
        return {p.stem: json.loads(p.read_text()) for p in tmp_path.glob("*.json")}

    summaries = rebuild_models_parallel(["pulmonary", "aorta"], 2, worker=timed_rebuild, work_dir=str(tmp_path),
                                        minutes=3.0)
    assert list(summaries) == ["pulmonary", "aorta"] and summaries["aorta"]["indication"] == "aorta"
    a, p = runs()["aorta"], runs()["pulmonary"]
    assert a["pid"] != p["pid"] and a["start"] < p["end"] and p["start"] < a["end"]   # at the same time
    assert a["minutes"] == 3.0
    for path in tmp_path.glob("*.json"):
        path.unlink()
    with pytest.raises(NetZeroAICTError) as error:
        rebuild_models_parallel(["aorta", "limb", "coronary"], 3, worker=timed_rebuild, work_dir=str(tmp_path),
                                minutes=1.0, log=lambda m: None)
    message = str(error.value)
    assert "limb: RuntimeError: the limb phantoms could not be written" in message
    assert "1 of 3 indications failed" in message and "installed: aorta, coronary" in message
    assert set(runs()) == {"aorta", "coronary"}
    for path in tmp_path.glob("*.json"):
        path.unlink()
    rebuild_models_parallel(["aorta", "coronary"], 1, worker=timed_rebuild, work_dir=str(tmp_path), minutes=1.0)
    first, second = sorted(runs().values(), key=lambda r: r["start"])
    assert first["end"] <= second["start"]                                             # one after another
    with pytest.raises(NetZeroAICTError, match="0 indications at once"):
        rebuild_models_parallel(["aorta"], 0, worker=timed_rebuild)


def test_models_cli_parallel(monkeypatch, tmp_path, capsys):
    """``models --parallel`` hands every indication and the same settings to the parallel rebuild; one indication,
    or --parallel 1, goes the sequential way; 0 is refused."""
    from NetZeroAICT.cli import main
    from NetZeroAICT.synthesis import model_zoo

    seen = []
    monkeypatch.setattr(model_zoo, "rebuild_models_parallel",
                        lambda names, parallel, **kw: seen.append((names, parallel, kw)) or {n: {} for n in names})
    monkeypatch.setattr(model_zoo, "rebuild_model", lambda name, **kw: seen.append((name, kw)) or 1 / 0)
    assert main(["models", "--all", "--parallel", "5", "--minutes", "6", "--batch-size", "8", "--device", "cpu",
                 "--work", str(tmp_path)]) == 0
    names, parallel, settings = seen.pop()
    assert names == list(INDICATIONS) and parallel == 5
    assert settings["minutes"] == 6.0 and settings["batch_size"] == 8 and settings["device"] == "cpu"
    assert settings["work_dir"] == str(tmp_path) and settings["n_train"] is None   # each its shipped budget
    with pytest.raises(ZeroDivisionError):
        main(["models", "--indication", "limb", "--parallel", "3", "--work", str(tmp_path)])
    assert seen.pop()[0] == "limb"
    with pytest.raises(ZeroDivisionError):
        main(["models", "--indication", "aorta", "--indication", "limb", "--parallel", "1", "--work", str(tmp_path)])
    assert seen.pop()[0] == "aorta" and not seen
    assert main(["models", "--all", "--parallel", "0", "--work", str(tmp_path)]) == 2
    assert "--parallel: 0 indications at once" in capsys.readouterr().err and not seen


def test_real_cta_that_is_not_enhanced_is_refused(tmp_path):
    from NetZeroAICT.synthesis.model_zoo import add_real_cta_cases

    source = __import__("NetZeroAICT.foundry", fromlist=["make_pair"]).make_pair(
        "aorta", 3, shape_ijk=(96, 96, 64), spacing_mm=3.0)
    path = write_volume(source.ncct, tmp_path / "plain.nii.gz")
    with pytest.raises(NetZeroAICTError, match="does not look contrast-enhanced.*non-contrast") as error:
        add_real_cta_cases(tmp_path / "data", [path])
    assert "plain.nii.gz" in str(error.value)


def test_real_dicom_cta_case_carries_no_dicom_identifiers(cect_dicom_path, tmp_path):
    """A real contrast CT read from DICOM: the training case holds voxels and geometry only."""
    import pydicom

    from NetZeroAICT.synthesis.model_zoo import add_real_cta_cases

    entries = add_real_cta_cases(tmp_path / "data", [cect_dicom_path])
    header = pydicom.dcmread(sorted(p for p in cect_dicom_path.iterdir() if p.is_file())[0], stop_before_pixels=True)
    identifiers = [str(header.get(tag, "")) for tag in (
        "StudyInstanceUID", "SeriesInstanceUID", "PatientID", "PatientName", "AccessionNumber", "StudyDate",
        "StationName", "DeviceSerialNumber", "IrradiationEventUID", "ProtocolName", "SeriesDescription")]
    identifiers = [i for i in identifiers if len(i) > 3]
    assert identifiers   # the source does carry some
    import gzip

    for path in (tmp_path / "data" / "real_cta_001").iterdir():
        blob = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        assert not any(i.encode() in blob for i in identifiers), path.name
        assert str(cect_dicom_path).encode() not in blob
    assert entries[0]["name"] == "real_cta_001" and len(entries[0]["source_sha256"]) == 64


def test_engine_reuses_the_network_output_across_contrast_levels(tiny_model, tube_ncct, monkeypatch):
    """Evaluation runs each case at the default and at its true contrast level: with reuse on, the network
    runs once, and the second result equals a fresh run at that level."""
    import NetZeroAICT.synthesis.engine as engine_module

    _, ncct, _, _ = tube_ncct
    calls = []
    real = engine_module.predict_enhancement
    monkeypatch.setattr(engine_module, "predict_enhancement", lambda *a, **k: calls.append(1) or real(*a, **k))
    engine = SynthesisEngine("aorta", tiny_model, "cpu")
    engine.reuse_network_output = True
    first = engine.synthesize(ncct, accept_warnings=True)
    engine.lumen_enhancement_hu = 250.0
    second = engine.synthesize(ncct, accept_warnings=True)
    assert len(calls) == 1 and "reused" in second.record["inference"]["network_output"]
    fresh = SynthesisEngine("aorta", tiny_model, "cpu", lumen_enhancement_hu=250.0).synthesize(ncct, accept_warnings=True)
    np.testing.assert_array_equal(second.cta.voxels, fresh.cta.voxels)
    np.testing.assert_array_equal(second.uncertainty.voxels, fresh.uncertainty.voxels)
    assert not np.array_equal(first.cta.voxels, second.cta.voxels)
    assert len(calls) == 2                            # the fresh engine ran it
    changed = ncct.with_voxels(ncct.voxels + 1.0)     # another input: the network runs again
    engine.synthesize(changed, accept_warnings=True)
    assert len(calls) == 3


@pytest.mark.parametrize("args, message", [
    (["--all", "--real-cta", "{ct}"], "needs exactly one --indication"),
    (["--indication", "aorta", "--real-cta", "{missing}"], "no such file or folder"),
])
def test_models_cli_checks_real_cta_before_building_anything(tmp_path, args, message):
    import os
    import subprocess
    import sys

    from Testing.conftest import REPO

    ct = tmp_path / "ct.nii.gz"
    ct.write_bytes(b"")
    args = [a.format(ct=ct, missing=tmp_path / "missing.nii.gz") for a in args]
    run = subprocess.run([sys.executable, "-m", "NetZeroAICT", "models", *args, "--work", str(tmp_path / "work")],
                         capture_output=True, text=True, timeout=120, cwd=REPO,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert run.returncode == 2 and message in run.stderr
    assert not (tmp_path / "work").exists()


def test_false_contrast_costs_like_missed_contrast():
    """With false_contrast_weight 1, enhancing a tissue voxel costs what missing a vessel voxel costs."""
    import torch

    from NetZeroAICT.synthesis.training import enhancement_loss

    target = torch.zeros(1, 1, 8, 8, 8)
    weight = torch.ones_like(target)
    target[0, 0, 2:4, 2:4, 2:4] = 1.0        # a vessel
    weight[0, 0, 2:4, 2:4, 2:4] = 11.0

    def loss(pred, fc):
        return float(enhancement_loss(pred, target, weight, gradient_weight=0.0, false_contrast_weight=fc))

    missed = target.clone()
    missed[0, 0, 2, 2, 2] = 0.0             # one vessel voxel not enhanced
    false = target.clone()
    false[0, 0, 6, 6, 6] = 1.0              # one tissue voxel enhanced
    assert loss(false, 0.0) < loss(missed, 0.0) / 5       # off: false contrast is cheap
    assert loss(false, 1.0) == pytest.approx(loss(missed, 1.0), rel=0.05)
    small = target.clone()
    small[0, 0, 6, 6, 6] = 0.05             # below the margin: an ordinary tissue error
    assert loss(small, 1.0) == pytest.approx(loss(small, 0.0))


def test_false_contrast_band_spares_the_spill_beside_the_lumen():
    """With ``false_contrast_band`` 2, a tissue voxel 2 voxels beside the near-lumen voxels, enhanced, is an
    ordinary tissue error, while one 3 voxels away still costs like missed contrast; the numpy and torch forms of
    the band agree."""
    import torch

    from NetZeroAICT.synthesis.training import enhancement_loss
    from NetZeroAICT.synthesis.training_data import LUMEN_WEIGHT, beside_lumen

    target = torch.zeros(1, 1, 12, 12, 12)
    weight = torch.ones_like(target)
    target[0, 0, 5:7, 5:7, 1:11] = 1.0                  # a thin artery along x
    weight[0, 0, 4:8, 4:8, 0:12] = 1 + LUMEN_WEIGHT      # near the lumen: the lumen grown by one

    def loss(pred, band):
        return float(enhancement_loss(pred, target, weight, gradient_weight=0.0, false_contrast_weight=1.0,
                                      false_contrast_band=band))

    spill = target.clone()
    spill[0, 0, 9, 5, 5] = 1.0                          # 2 voxels beyond the near-lumen voxels (z 4–7)
    far = target.clone()
    far[0, 0, 10, 5, 5] = 1.0                           # 3 voxels beyond
    assert loss(spill, 2) < loss(spill, 0) / 5
    assert loss(far, 2) == pytest.approx(loss(far, 0), rel=1e-6)
    assert loss(spill, 0) == pytest.approx(loss(far, 0), rel=1e-6)
    # with a margin the band tolerates a faint spill only: above the margin it is false contrast again

    def with_margin(pred):
        return float(enhancement_loss(pred, target, weight, gradient_weight=0.0, false_contrast_weight=1.0,
                                      false_contrast_band=2, false_contrast_band_margin=0.25))

    faint = target.clone()
    faint[0, 0, 9, 5, 5] = 0.2
    assert with_margin(faint) == pytest.approx(loss(faint, 2), rel=1e-6) and with_margin(faint) < loss(faint, 0)
    assert with_margin(spill) == pytest.approx(loss(spill, 0), rel=1e-6)
    assert with_margin(far) == pytest.approx(loss(far, 0), rel=1e-6)
    grown = beside_lumen(weight, 2)[0, 0].numpy()
    assert np.array_equal(grown, beside_lumen(weight[0, 0].numpy(), 2))
    assert grown[9, 5, 5] and not grown[10, 5, 5] and grown[2, 2, 0] and not grown[1, 5, 5]
    assert np.array_equal(beside_lumen(weight[0, 0].numpy(), 0), weight[0, 0].numpy() > LUMEN_WEIGHT)


def test_organ_false_contrast_costs_like_missed_contrast_only_when_asked():
    """A liver voxel (organ weight 3) made arterial: cheap by default, like missed contrast with
    ``organ_false_contrast``; a voxel near the lumen (weight 13, in an organ too) is never false contrast, and an
    organ voxel under its target is an ordinary organ error either way."""
    import torch

    from NetZeroAICT.synthesis.training import enhancement_loss
    from NetZeroAICT.synthesis.training_data import LUMEN_WEIGHT, ORGAN_WEIGHT

    target = torch.zeros(1, 1, 8, 8, 8)
    weight = torch.ones_like(target)
    weight[0, 0, 5:8, 5:8, 5:8] = 1 + ORGAN_WEIGHT                 # an organ, enhancing a little
    target[0, 0, 5:8, 5:8, 5:8] = 0.05
    target[0, 0, 2:4, 2:4, 2:4] = 1.0                               # a vessel
    weight[0, 0, 2:4, 2:4, 2:4] = 1 + LUMEN_WEIGHT
    target[0, 0, 4, 2:4, 2:4] = 1.0
    weight[0, 0, 4, 2:4, 2:4] = 1 + LUMEN_WEIGHT + ORGAN_WEIGHT    # the vessel where it runs in the organ

    def loss(pred, organs):
        return float(enhancement_loss(pred, target, weight, gradient_weight=0.0, false_contrast_weight=1.0,
                                      organ_false_contrast=organs))

    missed = target.clone()
    missed[0, 0, 4, 2, 2] = 0.0                                     # a vessel voxel of the highest weight missed
    liver = target.clone()
    liver[0, 0, 6, 6, 6] = 1.05                                     # the organ voxel made arterial (error 1)
    assert loss(liver, False) < loss(missed, False) / 2
    assert loss(liver, True) == pytest.approx(loss(missed, True), rel=0.05)
    rim = target.clone()
    rim[0, 0, 4, 2, 2] = 2.0                                        # over-enhanced in the vessel, in the organ
    assert loss(rim, True) == pytest.approx(loss(rim, False))
    under = target.clone()
    under[0, 0, 6, 6, 6] = -0.5                                     # an organ voxel too dark: not false contrast
    assert loss(under, True) == pytest.approx(loss(under, False))


def _stored_otherwise(volume: Volume, flip_ijk=(), swap_ik: bool = False) -> Volume:
    """The same voxels at the same places in the patient, stored in another order: voxel axes in ``flip_ijk``
    (0=i, 1=j, 2=k) run the other way, and with ``swap_ik`` i and k trade places (a sagittal stack)."""
    voxels, direction = volume.voxels, volume.direction_lps.copy()
    spacing, origin = list(volume.spacing_mm), np.asarray(volume.origin_lps, dtype=float)
    for axis in flip_ijk:
        last = np.zeros(3)
        last[axis] = volume.shape_ijk[axis] - 1
        origin = origin + direction @ (last * np.asarray(volume.spacing_mm))
        direction[:, axis] *= -1
        voxels = np.flip(voxels, 2 - axis)
    if swap_ik:
        voxels = np.transpose(voxels, (2, 1, 0))
        direction = direction[:, [2, 1, 0]]
        spacing = spacing[::-1]
    return Volume(np.ascontiguousarray(voxels), tuple(spacing), tuple(origin), direction,
                  metadata=dict(volume.metadata))


def _stored_back(array: np.ndarray, flip_ijk=(), swap_ik: bool = False) -> np.ndarray:
    if swap_ik:
        array = np.transpose(array, (2, 1, 0))
    for axis in flip_ijk:
        array = np.flip(array, 2 - axis)
    return array


@pytest.mark.parametrize("flip_ijk, swap_ik", [((0, 1), False), ((1,), True), ((0, 2), False)])
def test_the_network_reads_every_file_in_the_patient_order_it_was_trained_in(tiny_model, flip_ijk, swap_ik):
    """A NIfTI written from RAS (as dcm2niix writes it: rows run anterior, columns to the patient's right), a
    sagittal stack or a feet-first series holds the same patient as a DICOM-ordered axial one; the network was
    trained on (Superior, Posterior, Left) arrays and must see each of them that way, so the synthetic CTA
    and the uncertainty are the same voxel for voxel."""
    from NetZeroAICT.synthesis.grids import from_network_order, to_network_order

    ncct, *_ = tube_pair(11)
    other = _stored_otherwise(ncct, flip_ijk, swap_ik)
    assert np.allclose(other.ijk_to_lps() @ [0, 0, 0, 1], _stored_otherwise(other).ijk_to_lps() @ [0, 0, 0, 1])
    assert np.array_equal(to_network_order(other.voxels, other.direction_lps), ncct.voxels)
    assert np.array_equal(from_network_order(ncct.voxels, other.direction_lps), other.voxels)
    assert to_network_order(ncct.voxels, ncct.direction_lps) is ncct.voxels      # already in order: no copy
    engine = SynthesisEngine("aorta", tiny_model, "cpu")
    first = engine.synthesize(ncct, accept_warnings=True)
    second = engine.synthesize(other, accept_warnings=True)
    assert second.cta.same_grid(other)
    changed = first.cta.voxels != ncct.voxels
    assert changed.sum() > 100
    assert np.abs(_stored_back(second.cta.voxels, flip_ijk, swap_ik) - first.cta.voxels).max() < 1e-3
    assert np.abs(_stored_back(second.uncertainty.voxels, flip_ijk, swap_ik) - first.uncertainty.voxels).max() < 1e-3
    assert first.record["inference"]["voxel_order"].startswith("as stored")
    assert second.record["inference"]["voxel_order"].startswith("reordered")


def test_training_cases_are_read_in_the_patient_order_the_engine_uses(tmp_path):
    from NetZeroAICT.synthesis.training_data import load_training_case

    data = write_tube_dataset(tmp_path / "data", seeds_train=(4,), seeds_val=())
    case = data / "case_004"
    other = tmp_path / "other"
    other.mkdir()
    for name in ("ncct", "cta", "lumen", "body"):
        volume = read_volume(case / f"{name}.nii.gz", label=name in ("lumen", "body"))
        write_volume(_stored_otherwise(volume, (0, 1), True), other / f"{name}.nii.gz")
    a, b = load_training_case(case, 1.5), load_training_case(other, 1.5)
    for field in ("ncct_hu", "enhancement_hu", "lumen", "weight"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field
    assert a.lumen_enhancement_hu == b.lumen_enhancement_hu


def test_shift_tta_averages_passes_on_shifted_grids(tiny_model):
    """A network trained without flips knows the anatomy's sides, so its test-time augmentation shifts the
    volume against the network's stride instead: the mean and standard deviation are over all passes."""
    from NetZeroAICT.synthesis.inference import InferenceSettings, predict_enhancement

    card, network = load_model(tiny_model, "cpu")
    ncct, _, lumen, _ = tube_pair(6)
    hu = ncct.voxels

    def run(volume=hu, **kw):
        facts = {}
        mean, std = predict_enhancement(network, volume, card.windows_hu, 350.0, card.min_body_hu,
                                        InferenceSettings(align=4, **kw), facts=facts)
        return mean, std, facts

    plain, _, _ = run(tta_flips=[()])
    same, zero_std, _ = run(tta_flips=[()], tta_shifts=[(0, 0, 0)])
    assert np.array_equal(plain, same) and not zero_std.any()
    # the pass shifted by 2 is the unshifted run of the scan with 2 voxels mirrored before each first face (the
    # stride grid, 4, then starts 2 voxels into the scan): every voxel is in both passes, the first ones too
    front = np.pad(hu, [(2, 0)] * 3, mode="reflect")
    shifted = run(front, tta_flips=[()])[0][2:, 2:, 2:]
    inside = lumen.voxels > 0
    assert 0 < np.abs(shifted - plain)[inside].mean() < 100        # another sampling grid, the same vessels
    assert shifted[inside].mean() > 150 and plain[inside].mean() > 150
    both, std, facts = run(tta_flips=[()], tta_shifts=[(0, 0, 0), (2, 2, 2)])
    assert both.shape == std.shape == hu.shape
    assert np.abs(both - (plain + shifted) / 2).max() < 1e-3
    assert np.abs(std - np.abs(plain - shifted) / 2).max() < 1e-3
    first = np.zeros(hu.shape, bool)
    first[:2], first[:, :2], first[:, :, :2] = True, True, True     # the first 2 voxels along an axis
    assert std[first & inside].min() > 0                             # an uncertainty there too
    assert facts["tta_shifts"] == [[0, 0, 0], [2, 2, 2]] and facts["mode"] == "exact"
    alone, _, _ = run(tta_flips=[()], tta_shifts=[(2, 2, 2)])       # a shifted pass alone is that pass
    assert np.abs(alone - shifted).max() < 1e-3
    with pytest.raises(NetZeroAICTError, match="0 or more voxels"):
        run(tta_shifts=[(0, -1, 0)])


def test_tta_lower_bound_takes_standard_deviations_off_the_mean(tiny_model, tmp_path):
    """``tta_lower_sd``: the enhancement is the passes' mean less k of their standard deviations, not below 0,
    after flips and shifts are combined; the uncertainty stays their standard deviation. From the card, the
    engine's synthetic CTA is nowhere brighter than with the mean, and the run record says how it was made."""
    import shutil

    from NetZeroAICT.synthesis.inference import InferenceSettings, predict_enhancement

    card, network = load_model(tiny_model, "cpu")
    ncct, _, lumen, _ = tube_pair(6)
    hu = ncct.voxels
    for passes in ({"tta_flips": [(), (2,), (1,)]}, {"tta_flips": [()], "tta_shifts": [(0, 0, 0), (2, 2, 2)]}):
        mean, std = predict_enhancement(network, hu, card.windows_hu, 350.0, card.min_body_hu,
                                        InferenceSettings(align=4, **passes))
        inside = lumen.voxels > 0
        assert std[inside].mean() > 1.0 and mean[inside].mean() > 150    # passes that differ, on a vessel
        low, same_std = predict_enhancement(network, hu, card.windows_hu, 350.0, card.min_body_hu,
                                            InferenceSettings(align=4, tta_lower_sd=0.5, **passes))
        assert np.array_equal(same_std, std)
        assert np.abs(low - np.maximum(mean - 0.5 * std, 0)).max() < 1e-3
        assert low.min() >= 0 and (low < mean - 0.1).any()
    for k in (-0.5, 3.5):
        with pytest.raises(NetZeroAICTError, match="standard deviations is outside 0–3"):
            predict_enhancement(network, hu, card.windows_hu, 350.0, card.min_body_hu,
                                InferenceSettings(align=4, tta_lower_sd=k))

    path = tmp_path / "ncct.nii.gz"
    write_volume(ncct, path)
    runs = {}
    for k in (0.0, 1.0):
        folder = tmp_path / f"k{k:g}"
        shutil.copytree(tiny_model, folder)
        data = json.loads((folder / "model.json").read_text())
        data["inference"] = {**data["inference"], "tta_flips": [[], [2], [1]], "tta_lower_sd": k}
        (folder / "model.json").write_text(json.dumps(data))
        runs[k] = SynthesisEngine("aorta", folder, "cpu").synthesize(read_volume(path), accept_warnings=True)
    plain, low = runs[0.0], runs[1.0]
    assert (low.cta.voxels <= plain.cta.voxels + 1e-3).all()
    assert (low.cta.voxels < plain.cta.voxels - 1.0).any()
    assert np.array_equal(low.uncertainty.voxels, plain.uncertainty.voxels)
    assert plain.record["inference"]["enhancement_from_passes"] == "mean"
    assert low.record["inference"]["enhancement_from_passes"] == "mean − 1 × standard deviation, not below 0"
    data["inference"]["tta_lower_sd"] = 4
    (folder / "model.json").write_text(json.dumps(data))
    with pytest.raises(ValidationError, match="tta_lower_sd"):
        read_card(folder)


def test_training_writes_the_tta_lower_bound_into_the_card(tmp_path):
    """``train(tta_lower_sd=)`` (``--tta-lower-sd``) goes into the card; 0, the recipe's default, leaves it out;
    outside 0–3 it is refused before anything is trained."""
    from NetZeroAICT.synthesis.training import RECIPE, new_card, train

    assert RECIPE["tta_lower_sd"] == 0.0 and "tta_lower_sd" not in new_card("aorta").inference
    assert new_card("neck_brain", tta_passes=8, tta_lower_sd=0.5).inference["tta_lower_sd"] == 0.5
    write_tube_dataset(tmp_path / "data", seeds_train=(0,), seeds_val=())
    kwargs = dict(epochs=1, steps_per_epoch=1, batch_size=1, patch=32, architecture=TINY, spacing_mm=1.5,
                  show_progress=False, mine_every=0)
    with pytest.raises(NetZeroAICTError, match="outside 0–3") as refused:
        train("aorta", tmp_path / "data", tmp_path / "refused", tta_lower_sd=5.0, **kwargs)
    assert "tta_lower_sd" in str(refused.value) and not (tmp_path / "refused").exists()
    card = train("aorta", tmp_path / "data", tmp_path / "m", tta_lower_sd=0.75, **kwargs)
    assert card.inference["tta_lower_sd"] == 0.75
    assert read_card(tmp_path / "m").inference["tta_lower_sd"] == 0.75


def test_local_radius_is_the_vessel_radius_at_every_lumen_voxel():
    """A rim voxel of a tube three voxels in radius gets the tube's radius, a thin tube's voxels about 1, the
    outside 0."""
    from NetZeroAICT.synthesis.training_data import local_radius

    z, y, x = np.mgrid[:20, :40, :60]
    wide = (y - 20) ** 2 + (x - 15) ** 2 <= 3 ** 2
    thin = (y - 20) ** 2 + (x - 45) ** 2 <= 1
    radius = local_radius((wide | thin).astype(np.uint8))
    assert radius[~(wide | thin)].max() == 0
    assert radius[wide].min() >= 3.0 and radius[10, 20, 12] >= 3.0   # (10, 20, 12): on the wide tube's rim
    assert radius[thin].max() <= 1.5 and radius[thin].min() >= 1.0
    assert local_radius(np.zeros((4, 4, 4), np.uint8)).max() == 0


def test_thin_vessel_share_centres_patches_per_vessel_length(tmp_path):
    """With ``thin_vessel_share`` 1 a lumen-centred patch lands on a thin and on a wide tube of the same length
    about equally often; drawn per lumen voxel (share 0) the thin one, a fifteenth of the voxels, seldom. Out of
    0–1 it is refused by the sampler and by ``train`` before anything is written; ``train`` records it."""
    from NetZeroAICT.synthesis.training import train
    from NetZeroAICT.synthesis.training_data import PatchSampler, TrainingCase

    z, y, x = np.mgrid[:40, :40, :140]
    wide = (y - 20) ** 2 + (x - 20) ** 2 <= 4 ** 2
    thin = (y - 20) ** 2 + (x - 120) ** 2 <= 1
    lumen = (wide | thin).astype(np.uint8)
    weight = np.where(lumen > 0, 11.0, 1.0).astype(np.float32)
    ncct = x.astype(np.float32)   # a patch's mean NCCT is the x of its centre: which tube it was drawn on
    case = TrainingCase("tubes", ncct, lumen * 300.0, lumen, weight, 300.0)
    assert thin.sum() / lumen.sum() < 0.1

    def on_thin(share: float) -> float:
        sampler = PatchSampler([case], (20, 20, 20), vessel_fraction=1.0, seed=3, thin_vessel_share=share)
        patches = [sampler.sample(1) for _ in range(300)]
        assert all(w.max() > 1 for _, _, w in patches)   # every patch holds lumen
        return float(np.mean([hu.mean() > 70 for hu, _, _ in patches]))

    per_voxel, per_length = on_thin(0.0), on_thin(1.0)
    assert per_voxel < 0.15 and 0.35 < per_length < 0.65, (per_voxel, per_length)

    with pytest.raises(NetZeroAICTError, match="outside 0–1"):
        PatchSampler([case], (16, 16, 16), thin_vessel_share=1.5)
    write_tube_dataset(tmp_path / "data", seeds_train=(0,), seeds_val=())
    kwargs = dict(epochs=1, steps_per_epoch=1, batch_size=1, patch=32, architecture=TINY, spacing_mm=1.5,
                  show_progress=False, mine_every=0)
    with pytest.raises(NetZeroAICTError, match="thin-vessel share"):
        train("aorta", tmp_path / "data", tmp_path / "refused", thin_vessel_share=-0.1, **kwargs)
    assert not (tmp_path / "refused").exists()
    card = train("aorta", tmp_path / "data", tmp_path / "m", thin_vessel_share=0.5, **kwargs)
    assert card.training["thin_vessel_share"] == 0.5 and "per unit of vessel length" in card.training["sampling"]


def test_training_without_flips_gives_a_card_with_shift_tta(tmp_path):
    """``flip_axes=()``: patches are never flipped, the card says so and asks for shift TTA, which the engine
    runs and records; the default recipe flips along all three axes and uses the left-right flip TTA."""
    from NetZeroAICT.synthesis.training import RECIPE, SHIFT_TTA, new_card, train
    from NetZeroAICT.synthesis.training_data import PatchSampler, TrainingCase

    assert tuple(RECIPE["flip_axes"]) == (0, 1, 2)
    assert new_card("aorta").inference["tta_flips"] == [[], [2]] and "tta_shifts" not in new_card("aorta").inference
    ramp = np.arange(40 * 40 * 40, dtype=np.float32).reshape(40, 40, 40)
    case = TrainingCase("ramp", ramp, ramp.copy(), np.ones(ramp.shape, np.uint8), np.ones(ramp.shape, np.float32),
                        1.0)
    for axes, flipped_ever in (((), False), ((0, 1, 2), True)):
        sampler = PatchSampler([case], (8, 8, 8), seed=1, flip_axes=axes)
        steps = [np.sign(np.diff(sampler.sample(4)[0][:, 0], axis=a)) for _ in range(5) for a in (1, 2, 3)]
        assert any((s < 0).any() for s in steps) == flipped_ever
    data = write_tube_dataset(tmp_path / "data")
    card = train("aorta", data, tmp_path / "model", epochs=1, steps_per_epoch=2, batch_size=1, patch=32,
                 architecture=TINY, spacing_mm=1.5, show_progress=False, coarse_fraction=0.0, mine_every=0,
                 flip_axes=())
    assert card.training["flip_axes"] == [] and "never flipped" in card.training["sampling"]
    assert card.inference["tta_flips"] == [[]] and card.inference["tta_shifts"] == [list(s) for s in SHIFT_TTA]
    ncct, *_ = tube_pair(2)
    result = SynthesisEngine("aorta", tmp_path / "model", "cpu").synthesize(ncct, accept_warnings=True)
    assert result.record["inference"]["tta_shifts"] == [list(s) for s in SHIFT_TTA]
    assert result.record["inference"]["tta_flips"] == [[]]


def test_organ_patches_show_the_liver_at_blood_density_and_keep_its_target(tmp_path):
    """A case with a tissue map gives a liver/spleen mask and its HU; organ patches are centred in it and show it
    at a density drawn from ORGAN_SHOWN_HU, the rest of the patch and the target untouched. A case without a
    tissue map (a user's pair) has no mask and gives no organ patch; a fraction of 0 leaves the sampler as it was."""
    from NetZeroAICT.synthesis.training import train
    from NetZeroAICT.synthesis.training_data import (ORGAN_SHOWN_HU, PatchSampler, load_training_case)

    data = write_tube_dataset(tmp_path / "data", seeds_train=(4,), seeds_val=())
    case_dir = data / "case_004"
    ncct = read_volume(case_dir / "ncct.nii.gz")
    cta = read_volume(case_dir / "cta.nii.gz")
    tissue = np.zeros(ncct.voxels.shape, np.uint8)
    tissue[8:32, 4:20, 4:20] = 9                                  # "liver", 24 x 16 x 16 voxels at 60 HU
    tissue[8:32, 30:44, 30:44] = 3                                # muscle: not density-variable
    voxels, cvox = ncct.voxels.copy(), cta.voxels.copy()
    voxels[tissue == 9] = 60.0 + np.random.default_rng(0).normal(0, 3, int((tissue == 9).sum()))
    cvox[tissue == 9] = voxels[tissue == 9] + 20.0               # the liver enhances by 20 HU
    for name, array in (("ncct", voxels), ("cta", cvox), ("tissue", tissue)):
        write_volume(Volume(array, ncct.spacing_mm, ncct.origin_lps, ncct.direction_lps), case_dir / f"{name}.nii.gz")
    (case_dir / "case.json").write_text(json.dumps({"tissue_labels": {"liver": 9, "spleen": 10, "muscle": 3}}))
    enhancing = np.zeros(tissue.shape, np.uint8)
    enhancing[tissue == 9] = 1
    write_volume(Volume(enhancing, ncct.spacing_mm, ncct.origin_lps, ncct.direction_lps), case_dir / "enhancing.nii.gz")

    assert load_training_case(case_dir, 1.5).organ is None       # read only when organ patches need it
    case = load_training_case(case_dir, 1.5, organs=True)
    assert case.organ is not None and case.organ.sum() == (tissue == 9).sum()
    assert case.organ_hu == pytest.approx(60.0, abs=1.0)
    (case_dir / "case.json").unlink()
    bare = load_training_case(case_dir, 1.5, organs=True)
    assert bare.organ is None                                     # no labels: no mask

    sampler = PatchSampler([case], (8, 8, 8), vessel_fraction=0.0, blood_like_fraction=0.0, seed=2,
                           normalise=True, organ_fraction=1.0, flip_axes=())
    hu, target, _ = sampler.sample(24)
    inside = np.abs(target - 20.0 / case.lumen_enhancement_hu) < 1e-4  # every patch centred in the liver
    assert inside.reshape(24, -1).mean(axis=1).min() > 0.2
    for b in range(24):   # the liver's core shows one shifted density within ORGAN_SHOWN_HU; the target is kept
        core = hu[b, 0][inside[b, 0] & (ndimage.binary_erosion(inside[b, 0], iterations=2))]
        if core.size:
            assert ORGAN_SHOWN_HU[0] - 12 < core.mean() < ORGAN_SHOWN_HU[1] + 12
    means = [hu[b, 0][inside[b, 0]].mean() for b in range(24)]
    assert np.std(means) > 4                                      # drawn per patch
    assert max(means) < 60.0 - 2                                  # shown darker than its own 60 HU

    no_map = PatchSampler([bare], (8, 8, 8), vessel_fraction=0.0, blood_like_fraction=0.0, seed=2,
                          organ_fraction=1.0, flip_axes=())
    anywhere = PatchSampler([bare], (8, 8, 8), vessel_fraction=0.0, blood_like_fraction=0.0, seed=2, flip_axes=())
    for a, b in zip(no_map.sample(6), anywhere.sample(6)):       # no map: patches drawn anywhere, unshifted
        assert np.array_equal(a, b)
    plain = PatchSampler([case], (8, 8, 8), seed=2)
    off = PatchSampler([case], (8, 8, 8), seed=2, organ_fraction=0.0)
    for a, b in zip(plain.sample(6), off.sample(6)):
        assert np.array_equal(a, b)
    with pytest.raises(NetZeroAICTError, match="organ fraction"):
        train("aorta", data, tmp_path / "m", epochs=1, steps_per_epoch=1, organ_fraction=0.5, show_progress=False)


def test_card_notes_say_where_and_how_long_a_model_was_trained_and_name_a_full_resolution_or_fifth_level():
    """A card's notes follow its training section: CPU or the GPU's name, a time budget or a number of epochs, and
    the full-resolution note only for a network whose first level runs at stride 1."""
    from NetZeroAICT.synthesis.network import architecture_preset
    from NetZeroAICT.synthesis.training import CARD_NOTES, FULL_RESOLUTION_NOTE, card_notes, new_card

    plain = new_card("limb")
    plain.training = {"device": "cpu", "max_minutes": 36.0}
    assert card_notes(plain) == CARD_NOTES + " Trained on phantoms only, on CPU, for a fixed time budget; research " \
                                             "use only."
    full = new_card("pulmonary", architecture=architecture_preset("unet-full-res", 3))
    full.training = {"device": "cuda", "device_name": "NVIDIA H200", "max_minutes": 6.5}
    assert FULL_RESOLUTION_NOTE in card_notes(full) and "on NVIDIA H200, for a fixed time budget" in card_notes(full)
    full.training = {"device": "cuda:1", "max_minutes": None}
    assert "on a GPU, for a fixed number of epochs" in card_notes(full)
    assert FULL_RESOLUTION_NOTE not in card_notes(plain)
    skip = new_card("limb", architecture=architecture_preset("unet-input-skip", 3))
    assert FULL_RESOLUTION_NOTE not in card_notes(skip)
    # a fifth level has its own stride and patch, which the notes say (and no other network gets that note)
    from NetZeroAICT.synthesis.training import FIFTH_LEVEL_NOTE

    deep = new_card("aorta", architecture=architecture_preset("unet-deep", 3))
    assert FIFTH_LEVEL_NOTE in card_notes(deep) and FULL_RESOLUTION_NOTE not in card_notes(deep)
    assert not any(FIFTH_LEVEL_NOTE in card_notes(c) for c in (plain, full, skip))
