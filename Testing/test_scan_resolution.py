"""Scan-resolution channels: a network trained on thick-slice patches is told how coarse each patch (in training)
and each scan (in the engine) is, instead of having to guess it from the look of the image."""

from __future__ import annotations

import numpy as np
import pytest

from NetZeroAICT import Volume
from NetZeroAICT.errors import NetZeroAICTError, ValidationError
from Testing.synthesis_tubes import tube_pair, write_tube_dataset

TINY = {"name": "monai.networks.nets.UNet",
        "kwargs": {"spatial_dims": 3, "in_channels": 6, "out_channels": 1, "channels": [4, 8, 8],
                   "strides": [2, 2], "num_res_units": 1, "norm": "batch", "act": "prelu"}}


def test_voxel_edges_follow_the_patient_axes_whatever_the_storage_order():
    from NetZeroAICT.synthesis.network import scan_voxel_edges_zyx

    axial = (0.7, 0.8, 5.0)                            # i (x), j (y), k (z: the slices)
    assert scan_voxel_edges_zyx(axial, np.eye(3)) == (5.0, 0.8, 0.7)
    assert scan_voxel_edges_zyx(axial, np.diag([-1.0, -1.0, 1.0])) == (5.0, 0.8, 0.7)   # RAS-stored: same edges
    # a sagittal series: i runs posterior, j superior→inferior, k (the slices) left
    sagittal = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
    assert scan_voxel_edges_zyx((0.6, 0.9, 4.0), sagittal) == (0.9, 0.6, 4.0)


def test_channels_are_log2_of_the_coarsening_clipped_to_what_training_showed():
    from NetZeroAICT.synthesis.network import scan_resolution_channels

    assert scan_resolution_channels((1.5, 1.5, 1.5), 1.5, (3, 2, 2)) == (0.0, 0.0, 0.0)
    assert scan_resolution_channels((0.5, 0.7, 0.7), 1.5, (3, 2, 2)) == (0.0, 0.0, 0.0)   # finer: as sharp as the grid
    z, y, x = scan_resolution_channels((3.0, 3.0, 2.25), 1.5, (3, 2, 2))
    assert (z, y, x) == pytest.approx((1.0, 1.0, np.log2(1.5)))
    assert scan_resolution_channels((7.5, 6.0, 1.5), 1.5, (3, 2, 2)) == pytest.approx((np.log2(3), 1.0, 0.0))


def test_constant_channels_follow_the_windows():
    import torch

    from NetZeroAICT.synthesis.network import window_channels_torch

    hu = torch.full((2, 1, 4, 5, 6), 40.0)
    windows = [[-1000.0, 1000.0], [0.0, 100.0]]
    plain = window_channels_torch(hu, windows)
    assert plain.shape == (2, 2, 4, 5, 6)
    same = window_channels_torch(hu, windows, [1.0, 0.5, 0.0])
    assert same.shape == (2, 5, 4, 5, 6)
    torch.testing.assert_close(same[:, :2], plain)
    assert (same[:, 2] == 1.0).all() and (same[:, 3] == 0.5).all() and (same[:, 4] == 0.0).all()
    per_item = window_channels_torch(hu, windows, torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]]))
    assert (per_item[0, 2] == 1.0).all() and (per_item[1, 2] == 0.0).all() and (per_item[1, 4] == 1.0).all()


def test_sampler_says_how_it_coarsened_each_patch():
    from NetZeroAICT.synthesis.training_data import PatchSampler, TrainingCase, coarse_z_factors

    rng = np.random.default_rng(0)
    ncct = rng.normal(40, 15, (32, 32, 32)).astype(np.float32)
    case = TrainingCase("c", ncct, np.zeros_like(ncct), np.zeros(ncct.shape, np.uint8), np.ones(ncct.shape, np.float32))
    sharp = PatchSampler([case], (12, 12, 12), vessel_fraction=0.0, blood_like_fraction=0.0, seed=1)
    sharp.sample(5)
    assert sharp.last_factors_zyx.shape == (5, 3) and (sharp.last_factors_zyx == 1).all()
    thick = PatchSampler([case], (12, 12, 12), vessel_fraction=0.0, blood_like_fraction=0.0, seed=1,
                         coarse_fraction=1.0, spacing_mm=1.5)
    hu, _, _ = thick.sample(16)
    factors = thick.last_factors_zyx
    assert set(factors[:, 0]) <= set(coarse_z_factors(1.5)) and set(factors[:, 1]) <= {1, 2}
    assert (factors[:, 1] == factors[:, 2]).all() and len(set(map(tuple, factors))) > 1
    # a patch said to be coarser in-plane is smoother in-plane
    rough = [np.abs(np.diff(hu[b, 0], axis=2)).mean() for b in range(16)]
    by_xy = {f: np.mean([r for r, g in zip(rough, factors[:, 2]) if g == f]) for f in set(factors[:, 2])}
    if len(by_xy) == 2:
        assert by_xy[2] < by_xy[1]


def test_a_model_with_scan_resolution_trains_and_the_engine_tells_it_the_scan(tmp_path):
    """Trained with the channels, the card says so (and what the coarsest factors were); the engine gives the
    network the input's own voxel size, writes it in the run record, and the channels reach the network."""
    from NetZeroAICT.synthesis import SynthesisEngine
    from NetZeroAICT.synthesis.inference import InferenceSettings, predict_enhancement
    from NetZeroAICT.synthesis.model_card import load_model, read_card
    from NetZeroAICT.synthesis.training import train

    write_tube_dataset(tmp_path / "data", seeds_train=(0,), seeds_val=())
    with pytest.raises(NetZeroAICTError, match="no thick-slice patches"):
        train("aorta", tmp_path / "data", tmp_path / "none", epochs=1, steps_per_epoch=1, patch=32,
              architecture=TINY, spacing_mm=1.5, show_progress=False, coarse_fraction=0.0, scan_resolution=True)
    card = train("aorta", tmp_path / "data", tmp_path / "m", epochs=2, steps_per_epoch=3, batch_size=2, patch=32,
                 architecture=TINY, spacing_mm=1.5, show_progress=False, mine_every=0, coarse_fraction=0.5,
                 scan_resolution=True)
    assert card.scan_resolution == {"max_factor_zyx": [3, 2, 2]}
    assert card.n_input_channels == 6 and card.training["scan_resolution"] is True
    assert "scan-resolution channels" in card.training["sampling"]
    assert read_card(tmp_path / "m").scan_resolution == card.scan_resolution

    loaded, network = load_model(tmp_path / "m", "cpu")
    hu = tube_pair(3, shape=(48, 48, 48))[0].voxels
    told = {}
    for name, constants in (("sharp", loaded.resolution_channels()), ("thick", (np.log2(3), 1.0, 1.0))):
        told[name] = predict_enhancement(network, hu, loaded.windows_hu, 1.0, loaded.min_body_hu,
                                         InferenceSettings(tta_flips=[()], align=8, input_constants=constants))[0]
    assert np.abs(told["sharp"] - told["thick"]).max() > 1e-4      # the channels reach the network

    ncct = tube_pair(3)[0]
    thick = Volume(ncct.voxels[::3].copy(), (1.5, 1.5, 4.5), ncct.origin_lps, ncct.direction_lps)
    engine = SynthesisEngine("aorta", tmp_path / "m", "cpu")
    for volume, expected in ((ncct, [0.0, 0.0, 0.0]), (thick, [round(float(np.log2(3)), 3), 0.0, 0.0])):
        record = engine.synthesize(volume, accept_warnings=True).record
        channels = record["inference"]["scan_resolution_channels"]
        assert channels["log2_factors_zyx"] == expected
        assert channels["voxel_edges_zyx_mm"] == [volume.spacing_mm[2], volume.spacing_mm[1], volume.spacing_mm[0]]


def test_a_card_whose_network_does_not_take_its_channels_is_refused():
    from NetZeroAICT.synthesis.model_card import validate_card
    from NetZeroAICT.synthesis.training import new_card

    plain = new_card("aorta").to_dict()
    validate_card(plain)
    told = new_card("aorta", scan_resolution=True).to_dict()
    assert told["architecture"]["kwargs"]["in_channels"] == 6
    validate_card(told)
    told["scan_resolution"] = {}
    with pytest.raises(ValidationError, match="architecture/kwargs/in_channels: the network takes 6"):
        validate_card(told)
    plain["scan_resolution"] = {"max_factor_zyx": [3, 2, 2]}
    with pytest.raises(ValidationError, match="takes 3 input channels, but the card gives it 6"):
        validate_card(plain)


def test_train_cli_passes_scan_resolution(monkeypatch, tmp_path):
    from NetZeroAICT.cli import main
    from NetZeroAICT.synthesis import training

    seen = []

    class Stop(Exception):
        pass

    def fake_train(indication, data, out, **kwargs):
        seen.append(kwargs["scan_resolution"])
        raise Stop

    monkeypatch.setattr(training, "train", fake_train)
    for extra, expected in (([], training.recipe("limb")["scan_resolution"]), (["--scan-resolution", "on"], True),
                            (["--scan-resolution", "off"], False)):
        with pytest.raises(Stop):
            main(["train", "--indication", "limb", "--data", str(tmp_path), "--out", str(tmp_path / "m"), *extra])
        assert seen.pop() is expected
