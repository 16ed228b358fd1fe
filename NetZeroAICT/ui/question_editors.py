"""One editor per question type of a reader-study protocol (plain Qt through :mod:`qtcompat`).

Each editor owns one widget and converts between it and the stored value (see
:mod:`NetZeroAICT.ui.question_rules` for the value of each type). ``on_change`` is a plain callback (PythonQt
cannot declare signals) called with no argument whenever the reader changes the answer.
"""

from __future__ import annotations

from typing import Any, Callable

from .qtcompat import Qt, QtWidgets, prop
from .question_rules import choice_items, likert_points, parse_number, range_text


class QuestionEditor:
    """Base class: ``widget`` to put in a layout, ``value()``, ``set_value(value)``, ``set_enabled(flag)``.

    ``value()`` raises ValueError when the typed text cannot be read (e.g. letters in a number field).
    """

    def __init__(self, question: dict, on_change: Callable[[], None] | None = None):
        self.question = question
        self._on_change = on_change or (lambda: None)
        self.widget = QtWidgets.QWidget()
        self.widget.setObjectName(f"editor_{question['id']}")

    def value(self) -> Any:
        raise NotImplementedError

    def set_value(self, value: Any) -> None:
        raise NotImplementedError

    def set_enabled(self, enabled: bool) -> None:
        self.widget.setEnabled(enabled)

    def _changed(self, *args) -> None:
        self._on_change()


class _ButtonsEditor(QuestionEditor):
    """Radio buttons (exclusive, may start with none checked) or check boxes over a list of (value, label)."""

    exclusive = True

    def __init__(self, question, on_change=None, items=(), horizontal=False):
        super().__init__(question, on_change)
        self.values = [value for value, _ in items]
        self.buttons = []
        for value, label in items:
            button = QtWidgets.QRadioButton(label) if self.exclusive else QtWidgets.QCheckBox(label)
            button.setObjectName(f"{question['id']}__{value}")
            button.setAutoExclusive(False)  # exclusivity handled here, so "no answer" stays possible
            button.toggled.connect(lambda checked, b=button: self._toggled(b, checked))
            self.buttons.append(button)
        self._arrange(horizontal)

    def _arrange(self, horizontal: bool) -> None:
        layout = QtWidgets.QHBoxLayout(self.widget) if horizontal else QtWidgets.QVBoxLayout(self.widget)
        layout.setContentsMargins(0, 0, 0, 0)
        for button in self.buttons:
            layout.addWidget(button)
        if horizontal:
            layout.addStretch(1)

    def _toggled(self, button, checked) -> None:
        if self.exclusive and checked:
            for other in self.buttons:
                if other is not button and prop(other, "checked"):
                    other.setChecked(False)
        self._changed()

    def checked_values(self) -> list:
        return [value for value, button in zip(self.values, self.buttons) if prop(button, "checked")]

    def set_checked_values(self, values) -> None:
        for value, button in zip(self.values, self.buttons):
            button.blockSignals(True)
            button.setChecked(value in values)
            button.blockSignals(False)


class BoolEditor(_ButtonsEditor):
    def __init__(self, question, on_change=None):
        super().__init__(question, on_change, [(True, "Yes"), (False, "No")], horizontal=True)

    def value(self):
        checked = self.checked_values()
        return checked[0] if checked else None

    def set_value(self, value):
        self.set_checked_values([] if value is None else [bool(value)])


class SingleChoiceEditor(_ButtonsEditor):
    def __init__(self, question, on_change=None):
        items = choice_items(question)
        super().__init__(question, on_change, items, horizontal=len(items) <= 3 and
                         sum(len(label) for _, label in items) < 40)

    def value(self):
        checked = self.checked_values()
        return checked[0] if checked else None

    def set_value(self, value):
        self.set_checked_values([] if value is None else [str(value)])


class MultipleChoiceEditor(_ButtonsEditor):
    exclusive = False

    def __init__(self, question, on_change=None):
        super().__init__(question, on_change, choice_items(question))

    def value(self):
        return self.checked_values()

    def set_value(self, value):
        self.set_checked_values(list(value or []))


class LikertEditor(_ButtonsEditor):
    """A row of numbered points; each anchor's label is shown under its point."""

    def __init__(self, question, on_change=None):
        self.points = likert_points(question)
        super().__init__(question, on_change, [(value, str(value)) for value, _ in self.points])

    def _arrange(self, horizontal):
        grid = QtWidgets.QGridLayout(self.widget)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(2)
        for column, ((value, anchor), button) in enumerate(zip(self.points, self.buttons)):
            grid.addWidget(button, 0, column, Qt.AlignHCenter)
            label = QtWidgets.QLabel(anchor)
            label.setObjectName(f"{self.question['id']}__anchor_{value}")
            label.setWordWrap(True)
            label.setAlignment(Qt.AlignHCenter | Qt.AlignTop)
            label.setStyleSheet("QLabel { color: #555; font-size: 11px; }")
            grid.addWidget(label, 1, column)
            grid.setColumnStretch(column, 1)

    def value(self):
        checked = self.checked_values()
        return checked[0] if checked else None

    def set_value(self, value):
        self.set_checked_values([] if value is None else [int(value)])


class NumberEditor(QuestionEditor):
    """A line edit (so "no answer" and out-of-range values stay visible rather than clamped) and the unit."""

    def __init__(self, question, on_change=None):
        super().__init__(question, on_change)
        layout = QtWidgets.QHBoxLayout(self.widget)
        layout.setContentsMargins(0, 0, 0, 0)
        self.line_edit = QtWidgets.QLineEdit()
        self.line_edit.setObjectName(f"{question['id']}__value")
        self.line_edit.setMaximumWidth(120)
        self.line_edit.setPlaceholderText(range_text(question) or "number")
        self.line_edit.textChanged.connect(self._changed)
        layout.addWidget(self.line_edit)
        unit = question.get("unit") or ("mm" if question.get("type") == "measurement" else "")
        self.unit_label = QtWidgets.QLabel(unit)
        layout.addWidget(self.unit_label)
        self._extra(layout)
        layout.addStretch(1)

    def _extra(self, layout) -> None:
        pass

    def value(self):
        return parse_number(prop(self.line_edit, "text"))

    def set_value(self, value):
        self.line_edit.blockSignals(True)
        self.line_edit.setText("" if value is None else f"{float(value):g}")
        self.line_edit.blockSignals(False)


class MeasurementEditor(NumberEditor):
    """A length in millimetres, typed or filled by the ruler: "Measure" calls ``on_measure(question_id)``."""

    def __init__(self, question, on_change=None, on_measure: Callable[[str], None] | None = None):
        self._on_measure = on_measure
        super().__init__(question, on_change)

    def _extra(self, layout):
        self.measure_button = QtWidgets.QPushButton("Measure with ruler")
        self.measure_button.setObjectName(f"{self.question['id']}__measure")
        self.measure_button.setToolTip("Place a ruler (two points) on the image; its length fills this answer.")
        self.measure_button.setEnabled(self._on_measure is not None)
        self.measure_button.clicked.connect(lambda *args: self._on_measure(self.question["id"]))
        layout.addWidget(self.measure_button)

    def set_measured_length(self, length_mm: float) -> None:
        """Fill the answer with a ruler's length (rounded to 0.1 mm) and report the change."""
        self.line_edit.setText(f"{round(float(length_mm), 1):g}")


class TextEditor(QuestionEditor):
    def __init__(self, question, on_change=None):
        super().__init__(question, on_change)
        layout = QtWidgets.QVBoxLayout(self.widget)
        layout.setContentsMargins(0, 0, 0, 0)
        self.text_edit = QtWidgets.QPlainTextEdit()
        self.text_edit.setObjectName(f"{question['id']}__text")
        self.text_edit.setMaximumHeight(70)
        self.text_edit.setTabChangesFocus(True)
        self.text_edit.textChanged.connect(self._changed)
        layout.addWidget(self.text_edit)

    def value(self):
        text = prop(self.text_edit, "plainText") or ""
        return text if text.strip() else None

    def set_value(self, value):
        self.text_edit.blockSignals(True)
        self.text_edit.setPlainText(value or "")
        self.text_edit.blockSignals(False)


EDITORS = {"bool": BoolEditor, "single_choice": SingleChoiceEditor, "multiple_choice": MultipleChoiceEditor,
           "likert": LikertEditor, "number": NumberEditor, "text": TextEditor, "measurement": MeasurementEditor}


def make_editor(question: dict, on_change=None, on_measure=None) -> QuestionEditor:
    """The editor for ``question['type']`` (a measurement editor gets the ruler callback)."""
    kind = question.get("type")
    if kind not in EDITORS:
        raise ValueError(f"question {question.get('id')!r}: unknown type {kind!r}; one of {sorted(EDITORS)}")
    if kind == "measurement":
        return MeasurementEditor(question, on_change, on_measure)
    return EDITORS[kind](question, on_change)
