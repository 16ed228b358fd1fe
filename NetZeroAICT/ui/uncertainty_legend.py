"""The legend of the uncertainty overlay: a colour bar from the overlay's lowest shown value to its highest.

The colour stops come from the overlay's colour map (``NetZeroAICT.mrml.synthetic.colour_stops``), so the
legend matches what the slice view draws. Plain Qt through :mod:`.qtcompat`.
"""

from __future__ import annotations

from .qtcompat import Qt, QtGui, QtWidgets

BAR_WIDTH, BAR_HEIGHT = 220, 14


class UncertaintyLegend(QtWidgets.QWidget):
    """Title, a horizontal colour bar, and the HU values at its ends and middle."""

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QtWidgets.QGridLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setVerticalSpacing(2)
        self.title = QtWidgets.QLabel("<b>Uncertainty</b> of the synthetic image (HU)")
        self.title.setToolTip("Spread (standard deviation) of the model's predictions under test-time "
                              "augmentation: where it is high, do not trust the synthetic enhancement.")
        layout.addWidget(self.title, 0, 0, 1, 3)
        self.bar = QtWidgets.QLabel()
        self.bar.setFixedSize(BAR_WIDTH, BAR_HEIGHT)
        layout.addWidget(self.bar, 1, 0, 1, 3)
        self.low_label, self.mid_label, self.high_label = QtWidgets.QLabel(), QtWidgets.QLabel(), QtWidgets.QLabel()
        self.mid_label.setAlignment(Qt.AlignHCenter)
        self.high_label.setAlignment(Qt.AlignRight)
        for column, label in enumerate((self.low_label, self.mid_label, self.high_label)):
            layout.addWidget(label, 2, column)
        self.note = QtWidgets.QLabel()
        self.note.setStyleSheet("color: gray;")
        layout.addWidget(self.note, 3, 0, 1, 3)
        layout.setColumnStretch(3, 1)
        self.setMinimumWidth(BAR_WIDTH + 24)

    def set_scale(self, stops: list, low_hu: float, high_hu: float) -> None:
        """Show ``stops`` ((position 0–1, (r, g, b) 0–1) pairs) from ``low_hu`` to ``high_hu``."""
        pixmap = QtGui.QPixmap(BAR_WIDTH, BAR_HEIGHT)
        pixmap.fill(QtGui.QColor(0, 0, 0))
        painter = QtGui.QPainter(pixmap)
        gradient = QtGui.QLinearGradient(0, 0, BAR_WIDTH, 0)
        for position, (r, g, b) in stops:
            gradient.setColorAt(float(position), QtGui.QColor(int(r * 255), int(g * 255), int(b * 255)))
        painter.fillRect(0, 0, BAR_WIDTH, BAR_HEIGHT, QtGui.QBrush(gradient))
        painter.setPen(QtGui.QColor(90, 90, 90))
        painter.drawRect(0, 0, BAR_WIDTH - 1, BAR_HEIGHT - 1)
        painter.end()
        self.bar.setPixmap(pixmap)
        self.low_label.setText(_hu(low_hu))
        self.mid_label.setText(_hu((low_hu + high_hu) / 2))
        self.high_label.setText(f"{_hu(high_hu)} HU")
        self.note.setText(f"Below {_hu(low_hu)} HU the overlay is not drawn.")


def _hu(value: float) -> str:
    """HU to one decimal at most (12.5, 31.2, 50)."""
    return f"{round(value, 1):g}"
