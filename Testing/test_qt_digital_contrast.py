"""The DigitalContrast module's plain-Qt pieces, for real on PySide6 offscreen: footprint panel, input
check dialog, uncertainty legend. Each is rendered to PNG (kept in the test's tmp folder)."""

from __future__ import annotations

import os

import pytest

from NetZeroAICT.ui.footprint import FootprintPanel, RunFootprint
from NetZeroAICT.ui.input_check_dialog import InputCheckDialog
from NetZeroAICT.ui.qtcompat import QtCore, QtWidgets, prop
from NetZeroAICT.ui.uncertainty_legend import UncertaintyLegend

#: A run record's footprint part as the engine writes it (numbers of a CPU run).
RECORD = {
    "energy": {"wh": 0.8123, "method": "estimated (RAPL not readable): Green Algorithms method"},
    "co2e_g": 0.3858,
    "avoided": {"contrast_enhanced_exam_kg_co2e": 9.2, "iodine_g": 30.0, "contrast_ml": 85.0, "net_kg_co2e": 9.1996},
    "footprint_sources": {"ct_exam_kg_co2e": "McAlister et al. 2022", "contrast_ml_per_exam": "typical CTA"},
}
WARNINGS = ["The input looks contrast-enhanced already: the aorta measures 182 HU (unenhanced blood is 40–47 HU).",
            "The field of view does not reach the chest, where the pulmonary arteries are.",
            "Slices are 5.0 mm thick; the model was trained on 1.0 mm slices, so small vessels may be missed."]


def _save(widget, tmp_path, name):
    path = tmp_path / f"{name}.png"
    assert widget.grab().save(str(path))
    if os.environ.get("NETZEROAICT_KEEP_PNG"):
        widget.grab().save(os.path.join(os.environ["NETZEROAICT_KEEP_PNG"], f"{name}.png"))
    return path


def _fits(label):
    """The label's text is not cut: its size hint fits in the room the layout gave it."""
    return label.width() >= label.minimumSizeHint().width() and label.height() >= label.minimumSizeHint().height()


def test_footprint_panel_shows_the_run_and_session_totals(qapp, tmp_path):
    panel = FootprintPanel()
    panel.show()
    assert prop(panel.values["co2e_g"][0], "text") == "—"
    panel.add_run(RECORD)
    panel.add_run({**RECORD, "co2e_g": 0.6142, "energy": {"wh": 1.2}})
    qapp.processEvents()
    this_run, session = (prop(label, "text") for label in panel.values["co2e_g"])
    assert (this_run, session) == ("0.61 g", "1.00 g")
    assert [prop(label, "text") for label in panel.values["contrast_ml"]] == ["85 mL", "170 mL"]
    assert prop(panel.values["net_kg_co2e"][1], "text") == "18.40 kg"
    assert "2 synthesis runs" in prop(panel.runs_label, "text")
    assert "McAlister" in panel.values["exam_kg_co2e"][0].toolTip()
    assert all(_fits(label) for cells in panel.values.values() for label in cells)
    _save(panel, tmp_path, "footprint_panel")


def test_footprint_of_a_record_without_numbers_shows_dashes():
    run = RunFootprint.from_record({})
    assert run.energy_wh is None and run.net_kg_co2e is None


def _answer(dialog, button_name):
    """Press a dialog button once the dialog is showing (the dialog is modal)."""
    def press():
        getattr(dialog, button_name).click()
    QtCore.QTimer.singleShot(50, press)


def test_warnings_need_an_explicit_confirmation(qapp, tmp_path):
    dialog = InputCheckDialog("warn", WARNINGS, "abdomen NCCT")
    assert dialog.cancel_button.isDefault(), "Enter must not start a run the user has not confirmed"
    _answer(dialog, "cancel_button")
    assert dialog.confirmed() is False
    dialog = InputCheckDialog("warn", WARNINGS, "abdomen NCCT")
    dialog.show()
    qapp.processEvents()
    assert [prop(label, "text")[2:] for label in dialog.reason_labels] == WARNINGS
    assert all(_fits(label) for label in dialog.reason_labels)
    _save(dialog, tmp_path, "input_check_warnings")
    dialog.hide()
    _answer(dialog, "proceed_button")
    assert dialog.confirmed() is True


def test_a_refusal_cannot_be_overridden(qapp, tmp_path):
    dialog = InputCheckDialog("refuse", ["The volume is not a CT: its values are not Hounsfield units."], "T1 MRI")
    assert dialog.proceed_button is None
    dialog.show()
    qapp.processEvents()
    _save(dialog, tmp_path, "input_check_refusal")
    dialog.hide()
    _answer(dialog, "cancel_button")
    assert dialog.confirmed() is False
    with pytest.raises(ValueError):
        InputCheckDialog("ok", [])


def test_uncertainty_legend_draws_the_colour_map(qapp, tmp_path):
    legend = UncertaintyLegend()
    stops = [(0.0, (1.0, 0.0, 0.0)), (0.5, (1.0, 0.45, 0.0)), (1.0, (1.0, 0.9, 0.0))]
    legend.set_scale(stops, 20, 60)
    legend.show()
    qapp.processEvents()
    bar = legend.bar.grab().toImage()
    left, right = bar.pixelColor(3, 7), bar.pixelColor(bar.width() - 4, 7)
    assert left.red() > 240 and left.green() < 20
    assert right.red() > 240 and right.green() > 200
    assert prop(legend.low_label, "text") == "20" and prop(legend.high_label, "text") == "60 HU"
    assert "Below 20 HU" in prop(legend.note, "text")
    _save(legend, tmp_path, "uncertainty_legend")


def _shipped_cards():
    import json

    from NetZeroAICT.indications import INDICATIONS
    from NetZeroAICT.synthesis.model_card import CARD_NAME, find_model_dir

    return {name: json.loads((find_model_dir(name) / CARD_NAME).read_text()) for name in INDICATIONS}


def test_model_panel_shows_each_shipped_cards_held_out_evidence(qapp, tmp_path):
    """For every shipped model: its id and version, what it was trained on, its held-out numbers at both contrast
    levels as the card has them, each marked and coloured by the card's own targets_met, and its intended use;
    the panel fits Slicer's module panel (about 400 px) without cutting a label."""
    from NetZeroAICT.ui.model_panel import MET, ROWS, UNMET, ModelPanel

    panel = ModelPanel()
    panel.resize(400, 10)
    panel.show()
    for name, card in _shipped_cards().items():
        evidence = panel.show_card(card)
        panel.resize(400, panel.sizeHint().height())
        qapp.processEvents()
        held = card["metrics_held_out"]
        assert prop(panel.title, "text") == f"nzct-{name} v{card['version']}"
        assert "synthetic phantoms" in prop(panel.training, "text") and "No patient" in prop(panel.training, "text")
        if name == "neck_brain":    # fine-tuned: both trainings' phantoms and minutes
            assert "10 synthetic phantoms, then fine-tuned on 20 synthetic phantoms" in prop(panel.training, "text")
            assert "min in all" in prop(panel.training, "text")
        assert f"{len(held['test_seeds'])} held-out phantoms" in prop(panel.tested, "text")
        dice_default, dice_true, target = panel.cells["lumen_dice"]
        assert prop(dice_default, "text").startswith(f"{held['summary']['lumen_dice']['mean']:.3f}")
        assert prop(dice_true, "text").startswith(f"{held['matched_level']['summary']['lumen_dice']['mean']:.3f}")
        assert prop(target, "text") == "≥ 0.90"
        for _label, key, *_ in ROWS[:4]:
            for cell, part in zip(panel.cells[key][:2], (held["summary"], held["matched_level"]["summary"])):
                met = part["targets_met"][key]
                assert prop(cell, "text").endswith("✓" if met else "✗")
                assert (MET if met else UNMET) in cell.styleSheet()
        assert prop(panel.cells["false_contrast_ml"][0], "text") == f"{held['summary']['false_contrast_ml']['mean']:.1f} mL"
        assert "research use only" in prop(panel.use, "text").lower()
        thrombus = held["summary"]["false_contrast_ml_by_tissue"]["mean"].get("thrombus")
        assert panel.thrombus.isVisibleTo(panel) == bool(thrombus)      # the card's own breakdown decides
        if thrombus:
            assert f"{thrombus:.2f} mL per phantom" in prop(panel.thrombus, "text")
            assert "filling defect" in prop(panel.thrombus, "text")
        assert evidence.rows[1].label == "Lumen MAE"
        assert panel.minimumSizeHint().width() <= 400
        assert all(_fits(label) for cells in panel.cells.values() for label in cells)
        _save(panel, tmp_path, f"model_panel_{name}")


def test_model_panel_says_where_the_false_contrast_lies_and_copes_with_older_cards(qapp):
    from NetZeroAICT.ui.model_panel import MISSING, ModelEvidence, ModelPanel

    card = _shipped_cards()["aorta"]
    held = card["metrics_held_out"]
    summary = {**held["summary"], "false_contrast_ml": {"mean": 29.0},
               "false_contrast_ml_by_tissue": {"mean": {"blood_pool": 20.1, "myocardium": 6.8, "liver": 1.2}}}
    evidence = ModelEvidence.from_card({**card, "metrics_held_out": {**held, "summary": summary}})
    assert evidence.false_contrast_where == "False contrast mostly in: heart blood pool 20.1 mL, myocardium 6.8 mL"
    old = {k: v for k, v in card.items() if k != "metrics_held_out"}
    old["metrics_held_out"] = {"summary": {k: v for k, v in held["summary"].items()
                                           if k != "false_contrast_ml_by_tissue"}, "test_seeds": [1, 2]}
    panel = ModelPanel()
    shown = panel.show_card(old)      # no true-level run, no breakdown, no thick voxels
    assert shown.false_contrast_where == "" and not panel.where.isVisibleTo(panel)
    assert prop(panel.cells["lumen_dice"][1], "text") == MISSING
    assert ModelEvidence.from_card({}).tested_on == "Not tested on held-out phantoms"
    assert "No patient" not in ModelEvidence.from_card({}).training      # a card that does not say claims nothing
    training = card["training"]       # a model that also learnt from real CTAs (or a user's own pairs) says so
    real = {**card, "training": {**training, "dataset": {**training["dataset"], "real_cta": ["cta1.nii.gz"]}}}
    assert "No patient" not in ModelEvidence.from_card(real).training
    assert ModelEvidence.from_card(real).training.startswith("Trained on 20 training cases")
    own = {**card, "training": {**training, "dataset": {"generator": "registered pairs"}}}
    assert "not (only) the foundry's phantoms" in ModelEvidence.from_card(own).training
    panel.show_missing("No model installed for Aorta.")
    assert prop(panel.title, "text") == "No model installed for Aorta."
    assert all(prop(cell, "text") == MISSING for cells in panel.cells.values() for cell in cells)
