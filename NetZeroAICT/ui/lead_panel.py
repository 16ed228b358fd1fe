"""The lead's view of a study: progress per reader and session, and the problems found in it.

Plain Qt through :mod:`qtcompat`; filled from plain dicts so any source (a local store, merged site databases)
can feed it.
"""

from __future__ import annotations

from .qtcompat import Qt, QtGui, QtWidgets

PROGRESS_COLUMNS = ("Reader", "Session", "Submitted", "Cases", "Status", "Last answer")


def progress_status(submitted: int, total: int) -> str:
    """"not started", "in progress" or "complete" for ``submitted`` of ``total`` cases."""
    if submitted <= 0:
        return "not started"
    return "complete" if submitted >= total else "in progress"


class ReaderProgressTable(QtWidgets.QTableWidget):
    """One row per reader × session: cases submitted of the session's cases, status, time of the last answer."""

    COLOURS = {"complete": "#c8e6c9", "in progress": "#fff9c4", "not started": "#eeeeee"}

    def __init__(self, parent=None):
        super().__init__(0, len(PROGRESS_COLUMNS), parent)
        self.setObjectName("ReaderProgressTable")
        self.setHorizontalHeaderLabels(list(PROGRESS_COLUMNS))
        self.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
        self.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectRows)
        self.verticalHeader().setVisible(False)
        self.horizontalHeader().setStretchLastSection(True)

    def set_rows(self, rows: list[dict]) -> None:
        """Show ``rows``: dicts with reader_id, session_id, submitted, total, last_answer_at (ISO text or None)."""
        self.setRowCount(len(rows))
        for r, row in enumerate(rows):
            status = progress_status(int(row["submitted"]), int(row["total"]))
            cells = (row["reader_id"], row["session_id"], str(row["submitted"]), str(row["total"]), status,
                     (row.get("last_answer_at") or "—")[:19].replace("T", " "))
            for c, text in enumerate(cells):
                item = QtWidgets.QTableWidgetItem(str(text))
                if c in (2, 3):
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                item.setBackground(QtGui.QBrush(QtGui.QColor(self.COLOURS[status])))
                self.setItem(r, c, item)
        self.resizeColumnsToContents()


class ProblemList(QtWidgets.QListWidget):
    """Problems found while validating a study or auditing a package, one per line; a green line when none."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("ProblemList")
        self.setWordWrap(True)

    def set_problems(self, problems: list[str], ok_text: str = "No problems found.") -> None:
        self.clear()
        for text in problems or [ok_text]:
            item = QtWidgets.QListWidgetItem(("⚠ " if problems else "✓ ") + text)
            item.setForeground(QtGui.QBrush(QtGui.QColor("#c62828" if problems else "#2e7d32")))
            self.addItem(item)
