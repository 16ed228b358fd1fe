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
