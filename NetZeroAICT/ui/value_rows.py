"""Rows of a label | values table (plain Qt): the footprint and model panels lay their numbers out this way."""

from __future__ import annotations

from .qtcompat import Qt, QtWidgets

MISSING = "—"


def add_value_row(grid, row: int, label: str, tooltip: str, n_values: int) -> tuple:
    """Put ``label`` (with ``tooltip``) in column 0 of ``row`` of the QGridLayout ``grid`` and ``n_values``
    right-aligned, selectable value labels (showing :data:`MISSING`) in columns 1…n; returns the value labels."""
    caption = QtWidgets.QLabel(label)
    caption.setToolTip(tooltip)
    grid.addWidget(caption, row, 0)
    cells = []
    for column in range(1, n_values + 1):
        cell = QtWidgets.QLabel(MISSING)
        cell.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        cell.setTextInteractionFlags(Qt.TextSelectableByMouse)
        grid.addWidget(cell, row, column)
        cells.append(cell)
    return tuple(cells)
