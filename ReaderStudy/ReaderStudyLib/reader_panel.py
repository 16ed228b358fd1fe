"""The reader's panel: progress header, scoring form and session controls, wired to a session and a viewer.

Plain Qt through :mod:`NetZeroAICT.ui.qtcompat` (PythonQt in Slicer, PySide6 in tests). The panel holds no
study logic: :class:`~ReaderStudyLib.reading.ReadingSession` decides what is shown and stores the answers,
:class:`~ReaderStudyLib.viewer.CaseViewer` puts the case into Slicer's views.
"""

from __future__ import annotations

from NetZeroAICT.errors import NetZeroAICTError
from NetZeroAICT.ui.qtcompat import QtGui, QtWidgets, Qt
from NetZeroAICT.ui.reader_progress import ReaderProgressHeader
from NetZeroAICT.ui.scoring_form import ScoringForm

WINDOW_KEYS = "Alt+W"  # Ctrl+W closes the scene in Slicer


class ReaderPanel(QtWidgets.QWidget):
    """Shows the current case of a :class:`ReadingSession` and takes the reader's answers.

    Submitting validates the form, saves and submits the reading in the store, then shows the next case.
    Every change of a valid answer is saved at once (autosave), so a crash loses nothing already typed.
    """

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("ReaderPanel")
        self.session = None
        self.viewer = None
        self.form = None
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.header = ReaderProgressHeader()
        layout.addWidget(self.header)
        tools = QtWidgets.QHBoxLayout()
        self.window_button = QtWidgets.QPushButton("Window preset ▸")
        self.window_button.setObjectName("window_button")
        self.window_button.setToolTip(f"Next window/level preset of the study ({WINDOW_KEYS})")
        self.window_button.clicked.connect(lambda *args: self.next_window_preset())
        self.window_label = QtWidgets.QLabel("")
        self.window_label.setObjectName("window_label")
        tools.addWidget(self.window_button)
        tools.addWidget(self.window_label)
        tools.addStretch(1)
        layout.addLayout(tools)
        self.form_holder = QtWidgets.QVBoxLayout()
        layout.addLayout(self.form_holder)
        self.finish_button = QtWidgets.QPushButton("End session")
        self.finish_button.setObjectName("finish_button")
        self.finish_button.setToolTip("Every case is submitted: end the session (answers may lock).")
        self.finish_button.clicked.connect(lambda *args: self.finish())
        self.finish_button.setVisible(False)
        layout.addWidget(self.finish_button)
        self.message = QtWidgets.QLabel("")
        self.message.setObjectName("panel_message")
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        shortcut = QtGui.QShortcut(QtGui.QKeySequence(WINDOW_KEYS), self)
        shortcut.setContext(Qt.WidgetWithChildrenShortcut)
        shortcut.activated.connect(lambda *args: self.next_window_preset())
        self._shortcuts = [shortcut]

    # -- session ------------------------------------------------------------------------------------------
    def open(self, session, viewer) -> None:
        """Start showing ``session`` (a ReadingSession) in ``viewer`` (a CaseViewer), at its first open case."""
        self.session, self.viewer = session, viewer
        if self.form is not None:
            self.form_holder.removeWidget(self.form)
            self.form.setParent(None)
            self.form.deleteLater()
        self.form = ScoringForm(session.questions, on_submit=self._submit, on_change=self._autosave,
                                on_measure=self._measure, on_next=self._next, on_previous=self._previous)
        self.form_holder.addWidget(self.form)
        self.show_current()

    def show_current(self) -> None:
        """Load the current case into the views and its saved answers into the form."""
        session = self.session
        code = session.current_code
        progress = session.progress()
        self.header.set_progress(session.reader_id, session.session_id, progress["case_index"],
                                 progress["case_count"], progress["submitted"], code or "",
                                 progress["session_kind"])
        done = code is None
        self.form.setVisible(not done)
        self.finish_button.setVisible(done)
        if done:
            self.viewer.clear()
            self.set_message("Every case of this session is submitted. Thank you. End the session to finish.")
            return
        self.viewer.show(code, session.open_current())
        self.window_label.setText(self.viewer.hanging.window_presets[self.viewer.preset_index].name)
        self.form.set_answers(session.saved_answers())
        editable, reason = session.editable()
        self.form.set_locked(not editable, reason)
        if editable:
            self.form.set_status("")
        self.form.set_navigation(session.can_go_previous(), session.can_go_next())
        self.set_message("")

    def set_message(self, text: str, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setStyleSheet("QLabel { color: #c62828; font-weight: bold; }" if error else "")

    # -- callbacks ------------------------------------------------------------------------------------------
    def _submit(self, answers: dict) -> None:
        try:
            self.session.submit(answers)
        except NetZeroAICTError as error:
            self.form.set_status(str(error), error=True)
            return
        self.show_current()

    def _autosave(self, answers: dict) -> None:
        _, problems = self.form.read_answers()
        valid = {key: value for key, value in answers.items() if key not in problems}
        try:
            saved = self.session.save(valid)
        except NetZeroAICTError as error:
            self.form.set_status(str(error), error=True)
            return
        if saved:
            self.form.set_status("Draft saved.")

    def _measure(self, question_id: str) -> None:
        self.viewer.start_ruler(question_id, self.form.set_measurement)
        self.form.set_status("Click the two ends of the diameter in a slice view; the length fills the answer.")

    def _next(self) -> None:
        self.session.go_next()
        self.show_current()

    def _previous(self) -> None:
        self.session.go_previous()
        self.show_current()

    def next_window_preset(self) -> None:
        if self.viewer is not None and self.viewer.node is not None:
            self.window_label.setText(self.viewer.next_window_preset())

    def finish(self) -> None:
        try:
            self.session.finish()
        except NetZeroAICTError as error:
            self.set_message(str(error), error=True)
            return
        self.finish_button.setVisible(False)
        self.set_message(f"Session {self.session.session_id} ended. Close Slicer or open the next session when "
                         "the study lead says so.")
