"""The dialog shown when the input check refuses a volume or warns about it.

Refusal (``refuse``): the reasons and a Close button, nothing can be run. Warnings (``warn``): the warnings
and two buttons, *Cancel* (the default, Enter/Escape) and *Synthesize anyway*; the run goes ahead only when
the user picks the latter. Plain Qt through :mod:`.qtcompat`.
"""

from __future__ import annotations

from .qtcompat import QtWidgets, exec_dialog

TITLES = {"warn": "Check the input before synthesis", "refuse": "This input cannot be used"}
INTROS = {
    "warn": "The input check found problems that can make the synthetic angiogram misleading. "
            "Read them, then decide whether to synthesize anyway.",
    "refuse": "The input check refused this volume, so no synthetic angiogram will be made:",
}


class InputCheckDialog(QtWidgets.QDialog):
    """Lists the reasons (full sentences) of a ``warn`` or ``refuse`` input check.

    Args:
        status: ``warn`` or ``refuse``.
        reasons: the check's reasons, each a full sentence.
        input_name: the volume's name, shown in the heading.
    """

    def __init__(self, status: str, reasons: list[str], input_name: str = "", parent=None):
        super().__init__(parent)
        if status not in TITLES:
            raise ValueError(f"status must be 'warn' or 'refuse', got {status!r}")
        self.status = status
        self.setWindowTitle(TITLES[status])
        self.setMinimumWidth(460)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setSpacing(10)
        heading = QtWidgets.QLabel(f"<b>{TITLES[status]}</b>" + (f"<br>{_escape(input_name)}" if input_name else ""))
        layout.addWidget(heading)
        intro = QtWidgets.QLabel(INTROS[status])
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.reason_labels = []
        for reason in reasons:
            label = QtWidgets.QLabel(f"\u2022 {reason}")
            label.setWordWrap(True)
            label.setStyleSheet("QLabel { padding-left: 8px; }")
            layout.addWidget(label)
            self.reason_labels.append(label)
        buttons = QtWidgets.QDialogButtonBox()
        if status == "warn":
            self.cancel_button = buttons.addButton("Cancel", QtWidgets.QDialogButtonBox.RejectRole)
            self.proceed_button = buttons.addButton("Synthesize anyway", QtWidgets.QDialogButtonBox.AcceptRole)
            self.cancel_button.setDefault(True)
            self.cancel_button.setFocus()
        else:
            self.cancel_button = buttons.addButton("Close", QtWidgets.QDialogButtonBox.RejectRole)
            self.proceed_button = None
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def confirmed(self) -> bool:
        """Run the dialog; True only when the user chose *Synthesize anyway*."""
        return exec_dialog(self) == QtWidgets.QDialog.Accepted and self.status == "warn"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
