"""The shipped models: one per indication, cards complete and honest, weights small and intact, and the
aorta model run on the real non-contrast abdomen CT."""

from __future__ import annotations

import json

import numpy as np
import pytest

from NetZeroAICT.indications import INDICATIONS
from NetZeroAICT.synthesis.model_card import CARD_NAME, REPO_DIR, WEIGHTS_NAME, load_model, read_card

MODELS = REPO_DIR / "Resources" / "Models"


@pytest.mark.parametrize("indication", list(INDICATIONS))
def test_shipped_model_card_and_weights(indication):
    folder = MODELS / indication
    assert (folder / CARD_NAME).is_file(), f"no shipped model for {indication}: run make models"
    card, network = load_model(folder)  # SHA-256 checked, safetensors only
    assert card.indication == indication and card.model_id == f"nzct-{indication}"
    assert (folder / WEIGHTS_NAME).stat().st_size <= 10 * 1024 * 1024
    assert "not for clinical use" in card.intended_use
    from safetensors import safe_open

    with safe_open(str(folder / WEIGHTS_NAME), "pt") as weights:   # the version is the weight file's too
        assert weights.metadata() == {"model_id": card.model_id, "version": card.version}
    # the tensors' own digest (what decides whether a reinstall is a new version), without the file's metadata
    import hashlib

    from safetensors.torch import load, save

    tensors = load((folder / WEIGHTS_NAME).read_bytes())
    assert card.weights["tensors_sha256"] == hashlib.sha256(save(tensors)).hexdigest()
    assert len([int(part) for part in card.version.split(".")]) == 3
    training, held_out = card.training, card.metrics_held_out
    assert training["n_train_cases"] >= 1 and training["epochs_run"] >= 1 and training["command"]
    train_seeds = set(training["dataset"]["seeds"]["train"]) | set(training["dataset"]["seeds"]["validation"])
    assert held_out["test_seeds"] and not train_seeds & set(held_out["test_seeds"])
    for key in ("lumen_dice", "lumen_mae_hu", "nonvessel_mae_hu", "psnr_db", "false_contrast_ml"):
        assert np.isfinite(held_out["summary"][key]["mean"])
    assert len(held_out["cases"]) == len(held_out["test_seeds"])
    assert card.normalised, "shipped models learn the enhancement relative to the lumen's (contrast level = setting)"
    low, high = card.contrast_level["training_lumen_enhancement_hu"]
    assert low <= card.enhancement_scale_hu <= high
    matched = held_out["matched_level"]
    assert [r["case"] for r in matched["cases"]] == [r["case"] for r in held_out["cases"]]


@pytest.mark.parametrize("indication", list(INDICATIONS))
def test_make_models_budget_is_the_shipped_models(indication):
    """``make models`` rebuilds the shipped models: each card's command names the budget it uses by default."""
    from NetZeroAICT.synthesis.model_zoo import SHIPPED_BUDGET, shipped_device, shipped_seed, training_budget
    from NetZeroAICT.synthesis.network import architecture_preset
    from NetZeroAICT.synthesis.training import card_notes, recipe, tta_settings

    minutes, n_train = training_budget(indication)
    seed = shipped_seed(indication)
    card = read_card(MODELS / indication)
    budget = f"--minutes {minutes:g}" if minutes is not None else f"--epochs {SHIPPED_BUDGET[indication]['epochs']}"
    restart = SHIPPED_BUDGET[indication].get("restart_at_minutes")
    budget += f" --restart-at {restart:g}" if restart else ""
    fine = SHIPPED_BUDGET[indication].get("fine_tune")
    # a fine-tuned model's card describes the fine-tuning; the first run is the model it started from
    first = card.training["initialised_from"]["its_training"] if fine else card.training
    assert ("initialised_from" in card.training) == bool(fine)
    assert first.get("restart_at_minutes") == restart
    assert f"{budget} --train-cases {n_train} " in card.training["command"] + " "
    assert first["n_train_cases"] == n_train
    assert first["seed"] == card.training["seed"] == seed
    assert first["max_minutes"] == minutes
    if minutes is None:   # budgeted in epochs: all of them trained
        assert card.training["epochs_run"] == card.training["epochs_planned"] == SHIPPED_BUDGET[indication]["epochs"]
    assert (f" --seed {seed} " in card.training["command"] + " ") == (seed != 0)
    if fine:
        from NetZeroAICT.synthesis.model_zoo import FINE_TUNE_LR_SHARE

        assert (f" --fine-tune-minutes {fine['minutes']:g} --fine-tune-cases {fine['train_cases']}"
                in card.training["command"])
        assert card.training["max_minutes"] == fine["minutes"]
        assert card.training["n_train_cases"] == fine["train_cases"]
        assert card.training["learning_rate"] == pytest.approx(recipe(indication)["learning_rate"]
                                                               * FINE_TUNE_LR_SHARE)
    device = shipped_device(indication)
    assert card.training["device"].split(":")[0] == device
    assert (" --device cuda" in card.training["command"]) == (device == "cuda")
    if device == "cuda":   # what a rebuild on a CPU trains instead of the minutes
        assert SHIPPED_BUDGET[indication]["epochs"] == card.training["epochs_run"]
    # the recipe's network is the card's: make models builds the architecture it ships
    assert architecture_preset(recipe(indication)["architecture"], card.n_input_channels) == card.architecture
    assert card.training["batch_size"] == recipe(indication)["batch_size"]
    # the test-time augmentation make models writes for the recipe
    passes = tta_settings(recipe(indication)["flip_axes"], recipe(indication)["tta_passes"])
    assert {k: card.inference.get(k, [[0, 0, 0]]) for k in ("tta_flips", "tta_shifts")} == {"tta_shifts": [[0, 0, 0]],
                                                                                            **passes}
    assert card.inference.get("tta_lower_sd", 0.0) == recipe(indication)["tta_lower_sd"]
    assert card.notes == card_notes(card)   # where and how it was trained, as the card's training says
    # the epoch whose weights make models keeps (cards from before the choice kept the best)
    assert card.training.get("keep", "best") == recipe(indication)["keep"]
    if recipe(indication)["keep"] == "last":
        assert card.training["kept_epoch"] == card.training["epochs_run"]


def test_models_help_says_the_shipped_budgets(monkeypatch):
    """`models --help` reads its defaults from SHIPPED_BUDGET and FINE_TUNE_LR_SHARE: a budget changed with its
    model changes the help, and none is left written by hand."""
    import argparse

    from NetZeroAICT import cli_models
    from NetZeroAICT.synthesis import model_zoo

    def help_text(command):
        commands = argparse.ArgumentParser().add_subparsers()
        cli_models.register(commands)
        return " ".join(commands.choices[command].format_help().split())

    text = help_text("models")
    for indication, budget in model_zoo.SHIPPED_BUDGET.items():
        amount = f"{budget['minutes']:g} min" if "minutes" in budget else f"{budget['epochs']} epochs"
        assert f"{indication} {amount}" in text
    assert "1 for aorta, else 0" in text and "10 for neck_brain, else 20" in text
    assert "neck_brain 150 min with a warm restart at 95" in text
    changed = {**model_zoo.SHIPPED_BUDGET, "limb": {"minutes": 30.0, "restart_at_minutes": 20.0, "train_cases": 10,
                                                    "seed": 3, "fine_tune": {"minutes": 5.0, "train_cases": 20}}}
    monkeypatch.setattr(cli_models, "SHIPPED_BUDGET", changed)
    monkeypatch.setattr(cli_models, "FINE_TUNE_LR_SHARE", 0.25)
    text = help_text("models")
    assert "limb 30 min with a warm restart at 20" in text and "limb 200 epochs" not in text
    assert "20 min for limb" in text and "5 min for limb" in text
    assert "3 for limb" in text and "10 for neck_brain and limb, else 20" in text
    assert "at 0.25 of the recipe's learning rate" in text and "0.3 of" not in text
    text = help_text("train")
    assert "e.g. 0.25 of the default" in text
    # train's patch and batch size: the indication's recipe, as make models trains it
    from NetZeroAICT.synthesis.training import recipe

    assert f"{recipe('aorta')['patch']} for aorta" in text and "2 for aorta and neck_brain, else 8" in text


def test_readme_table_matches_the_cards():
    """The README's model table is generated from the cards (tools/model_table.py) and up to date."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("model_table", REPO_DIR / "tools" / "model_table.py")
    model_table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(model_table)
    readme = (REPO_DIR / "README.md").read_text()
    assert model_table.updated_readme(readme) == readme, "run python tools/model_table.py"
    for indication in INDICATIONS:
        card = read_card(MODELS / indication)
        row = readme.split(f"| {indication} |")[1].split("\n")[0]
        assert f"{card.metrics_held_out['summary']['lumen_dice']['mean']:.3f}" in row   # 0.898 is not 0.90


def test_readme_table_says_where_the_false_contrast_lies():
    """The false-contrast cell names the tissues holding a tenth or more of it (three at most, largest first);
    a card evaluated before the breakdown existed, or without false contrast, gets nothing added."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("model_table", REPO_DIR / "tools" / "model_table.py")
    model_table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(model_table)
    parts = {"blood_pool": 20.0, "myocardium": 7.0, "liver": 1.5, "muscle": 0.9, "fat": 0.1}
    summary = {"false_contrast_ml": {"mean": 29.5}, "false_contrast_ml_by_tissue": {"mean": parts}}
    assert model_table._where(summary) == " (heart blood pool 20.0, myocardium 7.0)"
    summary["false_contrast_ml"]["mean"] = 12.0
    assert model_table._where(summary) == " (heart blood pool 20.0, myocardium 7.0, liver 1.5)"
    assert model_table._where({"false_contrast_ml": {"mean": 3.0}}) == ""
    assert model_table._where({"false_contrast_ml": {"mean": 0.0}, "false_contrast_ml_by_tissue": {"mean": {}}}) == ""


def test_aorta_model_on_real_ncct_keeps_tissue_outside_the_body_and_bone(ncct_abdomen_path, tmp_path):
    from NetZeroAICT import read_volume
    from NetZeroAICT.synthesis import synthesize_file

    record = synthesize_file(ncct_abdomen_path, "aorta", tmp_path / "cta.nii.gz", tmp_path / "u.nii.gz",
                             tmp_path / "run.json", device="cpu", accept_warnings=True)
    ncct, cta = read_volume(ncct_abdomen_path), read_volume(tmp_path / "cta.nii.gz")
    assert cta.same_grid(ncct)
    assert "SYNTHETIC" in cta.metadata["description"]
    air, bone = ncct.voxels < -400, ncct.voxels > 300
    assert np.array_equal(cta.voxels[air], ncct.voxels[air]) and np.array_equal(cta.voxels[bone], ncct.voxels[bone])
    assert record["input_check"]["warnings_accepted"]  # 3 mm, no chest: input safety warns
    assert json.loads((tmp_path / "run.json").read_text())["model"]["id"] == "nzct-aorta"


def test_real_ncct_check_reports_patient_order_regions(ncct_abdomen_path, tmp_path, capsys):
    """tools/real_ncct_check.py: the boxes of its docstring (the aorta and the vena cava of the shared NCCT) are
    read in patient order, and a malformed box is refused."""
    import importlib.util

    from NetZeroAICT.synthesis.model_card import REPO_DIR

    spec = importlib.util.spec_from_file_location("real_ncct_check", REPO_DIR / "tools" / "real_ncct_check.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.main([str(ncct_abdomen_path), "--out", str(tmp_path), "--region", "aorta=75:86,45:50,66:71",
                      "--region", "vena_cava=75:86,45:50,56:61"]) == 0
    facts = json.loads((tmp_path / "facts.json").read_text())
    for name in ("aorta", "vena_cava"):      # in patient order both boxes hold unenhanced blood on the NCCT
        region = facts["regions_mean_hu"][name]
        assert 25 < region["before"] < 55 and np.isfinite(region["after"]) and region["uncertainty"] >= 0, facts
    raised = facts["soft_tissue_20_70_hu_raised_over_100_hu_voxels"]
    assert 0 <= raised["patient_right_half"] <= raised["all"] and raised["mean_uncertainty_there_hu"] >= 0
    with pytest.raises(SystemExit):
        tool.main([str(ncct_abdomen_path), "--out", str(tmp_path), "--region", "aorta=1:2,3:4"])
    assert "NAME=S0:S1,P0:P1,L0:L1" in capsys.readouterr().err
