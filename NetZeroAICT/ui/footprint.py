"""The footprint panel: this run's computing energy and CO2e, the contrast footprint avoided, session totals.

The numbers come from the engine's run record (``energy.wh``, ``co2e_g``, ``avoided`` with
``contrast_ml``, ``iodine_g``, ``contrast_enhanced_exam_kg_co2e``, ``net_kg_co2e``; ``footprint_sources``
says where each default comes from). :class:`RunFootprint` and :class:`SessionFootprint` are plain Python;
:class:`FootprintPanel` shows them (plain Qt through :mod:`.qtcompat`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .qtcompat import Qt, QtWidgets
from .value_rows import MISSING, add_value_row


@dataclass(frozen=True)
class RunFootprint:
    """The footprint of one synthesis run, read from its run record (None where the record has no value)."""

    energy_wh: float | None
    co2e_g: float | None
    contrast_ml: float | None
    iodine_g: float | None
    exam_kg_co2e: float | None
    net_kg_co2e: float | None
    energy_method: str = ""
    sources: dict = field(default_factory=dict)

    @classmethod
    def from_record(cls, record: dict) -> "RunFootprint":
        avoided = record.get("avoided") or {}
        energy = record.get("energy") or {}

        def number(value):
            return None if value is None else float(value)

        return cls(energy_wh=number(energy.get("wh")), co2e_g=number(record.get("co2e_g")),
                   contrast_ml=number(avoided.get("contrast_ml")), iodine_g=number(avoided.get("iodine_g")),
                   exam_kg_co2e=number(avoided.get("contrast_enhanced_exam_kg_co2e")),
                   net_kg_co2e=number(avoided.get("net_kg_co2e")), energy_method=str(energy.get("method", "")),
                   sources=dict(record.get("footprint_sources") or {}))


class SessionFootprint:
    """Running totals over the runs of one Slicer session."""

    FIELDS = ("energy_wh", "co2e_g", "contrast_ml", "iodine_g", "exam_kg_co2e", "net_kg_co2e")

    def __init__(self):
        self.runs: list[RunFootprint] = []

    def add(self, run: RunFootprint) -> None:
        self.runs.append(run)

    def total(self, name: str) -> float | None:
        """Sum of ``name`` over the runs that report it (None when none does)."""
        values = [getattr(run, name) for run in self.runs if getattr(run, name) is not None]
        return sum(values) if values else None


def _fmt(value: float | None, unit: str, digits: int) -> str:
    return MISSING if value is None else f"{value:,.{digits}f} {unit}"


#: (label, attribute, unit, digits, tooltip) per row of the panel.
ROWS = (
    ("Computing energy", "energy_wh", "Wh", 2, "Electricity used by the synthesis (measured or estimated; see the "
                                              "run record for the method)."),
    ("Computing CO\u2082e", "co2e_g", "g", 2, "CO\u2082-equivalent of that electricity at the configured grid "
                                              "intensity."),
    ("Contrast avoided", "contrast_ml", "mL", 0, "Iodinated contrast a CT angiogram would have used."),
    ("Iodine avoided", "iodine_g", "g", 0, "Iodine in that contrast medium."),
    ("Exam CO\u2082e avoided", "exam_kg_co2e", "kg", 1, "Life-cycle footprint of the contrast-enhanced "
                                                        "examination that was not needed."),
    ("Net CO\u2082e saved", "net_kg_co2e", "kg", 2, "Exam footprint avoided minus the computing footprint."),
)


class FootprintPanel(QtWidgets.QWidget):
    """A two-column table, this run | this session (totals), one row per :data:`ROWS` entry."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.session = SessionFootprint()
        self.last: RunFootprint | None = None
        grid = QtWidgets.QGridLayout(self)
        grid.setContentsMargins(6, 6, 6, 6)
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(8)
        for column, text in ((1, "This run"), (2, "Session")):
            header = QtWidgets.QLabel(f"<b>{text}</b>")
            header.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
            grid.addWidget(header, 0, column)
        self.values: dict[str, tuple] = {}
        for row, (label, name, unit, digits, tip) in enumerate(ROWS, start=1):
            self.values[name] = add_value_row(grid, row, label, tip, 2)
        self.runs_label = QtWidgets.QLabel("No synthesis run yet in this session.")
        self.runs_label.setWordWrap(True)
        self.runs_label.setStyleSheet("color: gray;")
        grid.addWidget(self.runs_label, len(ROWS) + 1, 0, 1, 3)
        grid.setColumnStretch(0, 1)

    def add_run(self, record: dict) -> RunFootprint:
        """Show the footprint of a finished run (its run record) and add it to the session totals."""
        run = RunFootprint.from_record(record)
        self.session.add(run)
        self.last = run
        for label, name, unit, digits, tip in ROWS:
            this_run, session = self.values[name]
            this_run.setText(_fmt(getattr(run, name), unit, digits))
            session.setText(_fmt(self.session.total(name), unit, digits))
            source = run.sources.get(_SOURCE_KEYS.get(name, ""), "")
            this_run.setToolTip(tip + (f"\nSource: {source}" if source else ""))
        count = len(self.session.runs)
        method = f" Energy {run.energy_method}." if run.energy_method else ""
        self.runs_label.setText(f"{count} synthesis run{'s' if count != 1 else ''} in this session.{method}")
        self.runs_label.setToolTip(run.energy_method)
        return run


#: Which source note (``footprint_sources`` of the run record) explains which row.
_SOURCE_KEYS = {"co2e_g": "grid_g_co2e_per_kwh", "contrast_ml": "contrast_ml_per_exam",
                "iodine_g": "iodine_g_per_exam", "exam_kg_co2e": "ct_exam_kg_co2e"}
