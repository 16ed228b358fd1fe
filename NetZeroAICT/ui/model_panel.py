"""The model panel: which model an indication runs, what it was trained on, and how it did on held-out phantoms.

A radiologist choosing an indication sees, before running it, the numbers its model card states: lumen Dice,
lumen MAE, non-vessel MAE, PSNR and false contrast on the held-out phantoms (at the model's default contrast
level and at each phantom's true one), each against its target, where the false contrast lies, and that none of
it was measured on patients. :class:`ModelEvidence` reads them from a card (plain Python, any card version);
:class:`ModelPanel` shows them (plain Qt through :mod:`.qtcompat`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..synthesis.evaluation import TARGETS
from ..synthesis.model_card import main_false_contrast, tissue_words
from .qtcompat import Qt, QtWidgets
from .value_rows import MISSING, add_value_row

MET, UNMET = "#1b7f3b", "#b00020"

#: (label, metric key, format, unit, tooltip) per row; a metric with a target in
#: :data:`NetZeroAICT.synthesis.evaluation.TARGETS` shows it, and the card's ``targets_met`` says whether it is met.
ROWS = (
    ("Lumen Dice", "lumen_dice", "{:.3f}", "",
     "Overlap of the synthetic and true lumen (voxels above 150 HU), anywhere in the body."),
    ("Lumen MAE", "lumen_mae_hu", "{:.0f}", " HU",
     "Mean absolute error inside the true lumen. At the default level it includes the phantom's random contrast "
     "level, which no non-contrast CT shows."),
    ("Non-vessel MAE", "nonvessel_mae_hu", "{:.1f}", " HU",
     "Mean absolute error over the body outside the vessels (enhancing organs included)."),
    ("PSNR", "psnr_db", "{:.1f}", " dB", "Peak signal-to-noise ratio over the body."),
    ("False contrast", "false_contrast_ml", "{:.1f}", " mL",
     "Volume outside the lumen made more than 100 HU brighter than the truth, per phantom."),
)


def target_text(key: str, unit: str) -> str:
    """The target of metric ``key`` as it reads ("≥ 0.90", "≤ 30 HU"), from the evaluation's own targets; "" for
    a metric without one."""
    if key not in TARGETS:
        return ""
    op, goal = TARGETS[key]
    value = f"{goal:g}{unit}" if unit else f"{goal:.2f}"      # a Dice reads 0.90
    return f"{'≥' if op == '>=' else '≤'} {value}"


@dataclass(frozen=True)
class MetricRow:
    label: str
    default: str
    true_level: str
    target: str
    default_met: bool | None
    true_met: bool | None
    tooltip: str = ""


@dataclass(frozen=True)
class ModelEvidence:
    """What a model card says about a model, as the panel words it."""

    title: str
    training: str
    tested_on: str
    rows: tuple[MetricRow, ...] = ()
    false_contrast_where: str = ""
    thrombus: str = ""
    thick: str = ""
    intended_use: str = ""

    @classmethod
    def from_card(cls, card: dict) -> "ModelEvidence":
        """Read a card (``model.json`` as a dict). Parts a card lacks (older cards, a model evaluated on no
        phantoms) show as missing rather than failing."""
        title = f"{card.get('model_id', '?')} v{card.get('version', '?')}"
        training = card.get("training") or {}
        first = (training.get("initialised_from") or {}).get("its_training") or {}
        runs = [run for run in (first, training) if run]
        phantoms_only = bool(runs) and all(_phantoms_only(run) for run in runs)
        what = "synthetic phantoms" if phantoms_only else "training cases"
        counts = [f"{run['n_train_cases']} {what}" if run.get("n_train_cases") else what for run in runs]
        on = (f"{counts[0]}, then fine-tuned on {counts[1]}" if len(counts) == 2
              else counts[0] if counts else what)
        device = str(training.get("device", "cpu"))
        where = "a GPU" if device.startswith("cuda") else "a CPU"
        seconds = [run["training_time_s"] for run in runs if run.get("training_time_s")]
        took = (f", {sum(seconds) / 60:.0f} min{' in all' if len(seconds) > 1 else ''} on {where}"
                if seconds else "")
        trained = (f"Trained on {on}{took}. "
                   + ("No patient scan was used in training or testing." if phantoms_only else
                      "Its training data are not (only) the foundry's phantoms: see the card's training section."))
        held = card.get("metrics_held_out") or {}
        summary = held.get("summary") or {}
        matched = (held.get("matched_level") or {}).get("summary") or {}
        seeds = held.get("test_seeds") or []
        tested = (f"Tested on {len(seeds)} held-out phantoms (seeds {seeds[0]}–{seeds[-1]}, never seen in training)"
                  if seeds else "Not tested on held-out phantoms")
        rows = []
        for label, key, fmt, unit, tip in ROWS:
            target = target_text(key, unit)

            def cell(part):
                value = (part.get(key) or {}).get("mean")
                return MISSING if value is None else fmt.format(value) + unit

            def met(part):
                return (part.get("targets_met") or {}).get(key) if target else None

            rows.append(MetricRow(label, cell(summary), cell(matched) if matched else MISSING, target or MISSING,
                                  met(summary), met(matched) if matched else None, tip))
        where = _where(summary)
        thick = held.get("thick_voxels") or {}
        thick_text = ""
        if thick.get("summary"):
            size = (thick.get("spacing_mm") or [0])[0]
            thick_text = (f"With ≈ {size:g} mm voxels (a routine thick-slice scan): lumen Dice "
                          f"{thick['summary']['lumen_dice']['mean']:.2f}.")
        return cls(title=title, training=trained, tested_on=tested, rows=tuple(rows), false_contrast_where=where,
                   thrombus=_thrombus(summary), thick=thick_text, intended_use=str(card.get("intended_use", "")))


def _phantoms_only(training: dict) -> bool:
    """Whether a card's training section says it learnt from the foundry's phantoms alone (no virtual non-contrast
    pairs of real CTAs, no users' registered pairs)."""
    dataset = training.get("dataset") or {}
    return "NetZeroAICT.foundry" in str(dataset.get("generator", "")) and not dataset.get("real_cta")


def _where(summary: dict) -> str:
    """'False contrast mostly in: blood pool 20.1 mL, myocardium 6.8 mL' (``main_false_contrast``); '' where the
    card has no breakdown or no false contrast."""
    big = main_false_contrast(summary)
    if not big:
        return ""
    return "False contrast mostly in: " + ", ".join(f"{tissue_words(name)} {ml:.1f} mL" for name, ml in big)


def _thrombus(summary: dict) -> str:
    """A warning where the model drew any of the test phantoms' thrombus (emboli, occlusions, mural thrombus) more
    than 100 HU too bright, however little of its false contrast that is: a filling defect is what an angiogram is
    read for."""
    ml = ((summary.get("false_contrast_ml_by_tissue") or {}).get("mean") or {}).get("thrombus")
    if not ml:
        return ""
    return (f"Thrombus drawn as enhanced lumen on the test phantoms: {ml:.2f} mL per phantom. A filling defect "
            "(embolus, occlusion) may not show in the synthetic image.")


def _mark(met: bool | None) -> str:
    return "" if met is None else (" ✓" if met else " ✗")


class ModelPanel(QtWidgets.QWidget):
    """The evidence of one model: a title, what it was trained on, a table metric | default level | true level |
    target (values coloured by whether they meet the target), where the false contrast lies, and the intended
    use. :meth:`show_card` fills it; :meth:`show_missing` says no model is installed."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.evidence: ModelEvidence | None = None
        outer = QtWidgets.QVBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)
        outer.setSpacing(6)
        self.title = QtWidgets.QLabel(MISSING)
        self.title.setStyleSheet("font-weight: bold;")
        self.title.setWordWrap(True)
        outer.addWidget(self.title)
        self.training = self._note(outer)
        self.tested = self._note(outer)
        grid = QtWidgets.QGridLayout()
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(6)
        for column, (text, tip) in enumerate((("", ""), ("Default level", "At the model's default contrast level: "
                                                                         "what a run gives."),
                                               ("True level", "At each phantom's own contrast level: the model's "
                                                              "error without the unknown contrast dose."),
                                               ("Target", "")), start=0):
            header = QtWidgets.QLabel(f"<b>{text}</b>")
            header.setToolTip(tip)
            header.setAlignment((Qt.AlignRight if column else Qt.AlignLeft) | Qt.AlignVCenter)
            grid.addWidget(header, 0, column)
        self.cells: dict[str, tuple] = {}
        for row, (label, key, _fmt, _unit, tip) in enumerate(ROWS, start=1):
            self.cells[key] = add_value_row(grid, row, label, tip, 3)
        grid.setColumnStretch(0, 1)
        outer.addLayout(grid)
        self.where = self._note(outer)
        self.thrombus = self._note(outer)
        self.thrombus.setStyleSheet(f"color: {UNMET}; font-weight: bold;")
        self.thick = self._note(outer)
        self.use = self._note(outer)
        self.use.setStyleSheet(f"color: {UNMET};")

    @staticmethod
    def _note(layout):
        label = QtWidgets.QLabel("")
        label.setWordWrap(True)
        label.setStyleSheet("color: gray;")
        layout.addWidget(label)
        return label

    def show_card(self, card: dict) -> ModelEvidence:
        """Show the evidence of the model whose card (``model.json`` as a dict) is given."""
        evidence = ModelEvidence.from_card(card)
        self.evidence = evidence
        self.title.setText(evidence.title)
        self.training.setText(evidence.training)
        self.tested.setText(evidence.tested_on + ":")
        for row, (_label, key, *_rest) in zip(evidence.rows, ROWS):
            default, true_level, target = self.cells[key]
            for cell, text, met in ((default, row.default, row.default_met), (true_level, row.true_level, row.true_met)):
                cell.setText(text + _mark(met))
                cell.setStyleSheet("" if met is None else f"color: {MET if met else UNMET};")
                cell.setToolTip(row.tooltip + ("" if met is None else
                                               f"\n{'Meets' if met else 'Does not meet'} the target {row.target}."))
            target.setText(row.target)
        for label, text in ((self.where, evidence.false_contrast_where), (self.thrombus, evidence.thrombus),
                            (self.thick, evidence.thick),
                            (self.use, evidence.intended_use)):
            label.setText(text)
            label.setVisible(bool(text))
        return evidence

    def show_missing(self, message: str) -> None:
        """No model to describe (e.g. none installed for the indication): say so and clear the table."""
        self.evidence = None
        self.title.setText(message)
        for label in (self.training, self.tested, self.where, self.thrombus, self.thick, self.use):
            label.setText("")
            label.setVisible(False)
        for cells in self.cells.values():
            for cell in cells:
                cell.setText(MISSING)
                cell.setStyleSheet("")
