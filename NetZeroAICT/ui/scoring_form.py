"""The reader's scoring form, generated from the protocol's questions (plain Qt through :mod:`qtcompat`).

One block per question: its number and text (``*`` when required), the help line, the editor for its type
(see :mod:`NetZeroAICT.ui.question_editors`) and a red validation message shown when the answer is missing or
out of range. Below: Previous / Next (navigation, enabled by the caller as the answer policy allows) and
Submit. Keyboard: Ctrl+Return submits, Alt+Right goes to the next case, Alt+Left to the previous one (keys a
text field leaves alone, so they work wherever the focus is in the form).

Callbacks are plain Python callables (PythonQt cannot declare signals):
``on_submit(answers: dict) -> None`` (the answers passed every check), ``on_change(answers)`` (autosave a
draft), ``on_measure(question_id)`` (start a ruler for a measurement question), ``on_next()``,
``on_previous()``.
"""

from __future__ import annotations

from typing import Any, Callable

from .qtcompat import Qt, QtGui, QtWidgets, prop
from .question_editors import MeasurementEditor, make_editor
from .question_rules import check_answer

SUBMIT_KEYS = "Ctrl+Return"
NEXT_KEYS = "Alt+Right"
PREVIOUS_KEYS = "Alt+Left"
MESSAGE_STYLE = "QLabel { color: #c62828; font-weight: bold; }"


class ScoringForm(QtWidgets.QWidget):
    """The questions of one reading, their answers, their checks and the Submit / Next / Previous actions.

    Args:
        questions: the protocol's question dicts, in the order they are asked.
        on_submit, on_change, on_measure, on_next, on_previous: callbacks (see the module docstring).
    """

    def __init__(self, questions: list[dict], on_submit: Callable[[dict], None] | None = None,
                 on_change: Callable[[dict], None] | None = None,
                 on_measure: Callable[[str], None] | None = None,
                 on_next: Callable[[], None] | None = None, on_previous: Callable[[], None] | None = None,
                 parent=None):
        super().__init__(parent)
        self.setObjectName("ScoringForm")
        self.questions = list(questions)
        self.on_submit, self.on_change = on_submit, on_change
        self.on_next, self.on_previous = on_next, on_previous
        self.editors, self.messages = {}, {}
        self._loading = False
        layout = QtWidgets.QVBoxLayout(self)
        layout.setSpacing(10)
        for number, question in enumerate(self.questions, start=1):
            layout.addWidget(self._question_block(number, question, on_measure))
        layout.addLayout(self._buttons())
        self.status_label = QtWidgets.QLabel("")
        self.status_label.setObjectName("form_status")
        self.status_label.setWordWrap(True)
        layout.addWidget(self.status_label)
        layout.addStretch(1)
        self._shortcuts = [self._shortcut(SUBMIT_KEYS, self.submit), self._shortcut("Ctrl+Enter", self.submit),
                           self._shortcut(NEXT_KEYS, self._next), self._shortcut(PREVIOUS_KEYS, self._previous)]
        self.set_navigation(can_previous=False, can_next=False)

    # -- building ---------------------------------------------------------------------------------------
    def _question_block(self, number: int, question: dict, on_measure) -> QtWidgets.QWidget:
        block = QtWidgets.QFrame()
        block.setObjectName(f"question_{question['id']}")
        block.setFrameShape(QtWidgets.QFrame.StyledPanel)
        inner = QtWidgets.QVBoxLayout(block)
        inner.setContentsMargins(8, 6, 8, 6)
        inner.setSpacing(4)
        title = QtWidgets.QLabel(f"{number}. {question.get('text', question['id'])}"
                                 + (" *" if question.get("required") else ""))
        title.setObjectName(f"{question['id']}__title")
        title.setWordWrap(True)
        title.setStyleSheet("QLabel { font-weight: bold; }")
        inner.addWidget(title)
        if question.get("help"):
            help_label = QtWidgets.QLabel(question["help"])
            help_label.setWordWrap(True)
            help_label.setStyleSheet("QLabel { color: #555; }")
            inner.addWidget(help_label)
        editor = make_editor(question, on_change=self._changed, on_measure=on_measure)
        inner.addWidget(editor.widget)
        message = QtWidgets.QLabel("")
        message.setObjectName(f"{question['id']}__message")
        message.setStyleSheet(MESSAGE_STYLE)
        message.setWordWrap(True)
        message.setVisible(False)
        inner.addWidget(message)
        self.editors[question["id"]], self.messages[question["id"]] = editor, message
        return block

    def _buttons(self):
        row = QtWidgets.QHBoxLayout()
        self.previous_button = QtWidgets.QPushButton("◂ Previous")
        self.previous_button.setObjectName("previous_button")
        self.previous_button.setToolTip(f"Go back to the previous case ({PREVIOUS_KEYS})")
        self.previous_button.clicked.connect(lambda *args: self._previous())
        self.next_button = QtWidgets.QPushButton("Next ▸")
        self.next_button.setObjectName("next_button")
        self.next_button.setToolTip(f"Go to the next case ({NEXT_KEYS})")
        self.next_button.clicked.connect(lambda *args: self._next())
        self.submit_button = QtWidgets.QPushButton("Submit")
        self.submit_button.setObjectName("submit_button")
        self.submit_button.setToolTip(f"Save these answers and go to the next case ({SUBMIT_KEYS})")
        self.submit_button.setStyleSheet("QPushButton { font-weight: bold; padding: 4px 14px; }")
        self.submit_button.clicked.connect(lambda *args: self.submit())
        row.addWidget(self.previous_button)
        row.addWidget(self.next_button)
        row.addStretch(1)
        row.addWidget(self.submit_button)
        return row

    def _shortcut(self, keys: str, slot):
        shortcut = QtGui.QShortcut(QtGui.QKeySequence(keys), self)
        shortcut.setContext(Qt.WidgetWithChildrenShortcut)
        shortcut.activated.connect(lambda *args: slot())
        return shortcut

    # -- answers ----------------------------------------------------------------------------------------
    def read_answers(self) -> tuple[dict[str, Any], dict[str, str]]:
        """(answers by question id, messages by question id for answers that cannot be read or accepted)."""
        answers, messages = {}, {}
        for question in self.questions:
            try:
                value = self.editors[question["id"]].value()
            except ValueError:
                answers[question["id"]] = None
                messages[question["id"]] = "Enter a number (for example 12.5)."
                continue
            answers[question["id"]] = value
            message = check_answer(question, value)
            if message:
                messages[question["id"]] = message
        return answers, messages

    def answers(self) -> dict[str, Any]:
        """Current answers by question id (None: unanswered or unreadable)."""
        return self.read_answers()[0]

    def set_answers(self, answers: dict[str, Any]) -> None:
        """Show saved answers (resume, revisit); questions not in ``answers`` are cleared."""
        self._loading = True
        try:
            for question in self.questions:
                self.editors[question["id"]].set_value(answers.get(question["id"]))
        finally:
            self._loading = False
        self.show_messages({})

    def clear(self) -> None:
        self.set_answers({})
        self.set_status("")

    def set_measurement(self, question_id: str, length_mm: float) -> None:
        """Fill a measurement question with a ruler's length in millimetres."""
        editor = self.editors[question_id]
        if not isinstance(editor, MeasurementEditor):
            raise ValueError(f"question {question_id!r} is not a measurement")
        editor.set_measured_length(length_mm)

    def show_messages(self, messages: dict[str, str]) -> None:
        """Show each message under its question; hide the others."""
        for question_id, label in self.messages.items():
            label.setText(messages.get(question_id, ""))
            label.setVisible(question_id in messages)

    def validate(self) -> bool:
        """Check every answer, show the messages, say how many need attention; True when all are fine."""
        _, messages = self.read_answers()
        self.show_messages(messages)
        if messages:
            count = len(messages)
            self.set_status(f"{count} answer{'s' if count > 1 else ''} need{'s' if count == 1 else ''} "
                            "attention before submitting.", error=True)
            first = self.editors[next(q["id"] for q in self.questions if q["id"] in messages)]
            first.widget.setFocus()
        return not messages

    def submit(self) -> bool:
        """Validate; when every answer is acceptable, call ``on_submit(answers)``. True when submitted."""
        if not prop(self.submit_button, "enabled"):
            return False
        if not self.validate():
            return False
        answers = self.answers()
        if self.on_submit:
            self.on_submit(answers)
        return True

    # -- state ------------------------------------------------------------------------------------------
    def set_locked(self, locked: bool, reason: str = "") -> None:
        """Make the answers read-only (the answer policy forbids changing them) and say why."""
        for editor in self.editors.values():
            editor.set_enabled(not locked)
        self.submit_button.setEnabled(not locked)
        if locked:
            self.set_status(reason or "These answers are locked.")

    def set_navigation(self, can_previous: bool, can_next: bool) -> None:
        self.previous_button.setEnabled(can_previous)
        self.next_button.setEnabled(can_next)

    def set_status(self, text: str, error: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet(MESSAGE_STYLE if error else "QLabel { color: #2e7d32; }")

    def _changed(self) -> None:
        if not self._loading and self.on_change:
            self.on_change(self.answers())

    def _next(self) -> None:
        if prop(self.next_button, "enabled") and self.on_next:
            self.on_next()

    def _previous(self) -> None:
        if prop(self.previous_button, "enabled") and self.on_previous:
            self.on_previous()
