"""The reader's scoring form on PySide6 offscreen: every question type, driven with real clicks and keys."""

from __future__ import annotations

import pytest

from .readerstudy_helpers import ALL_TYPES_QUESTIONS

pytest.importorskip("PySide6")


@pytest.fixture
def form(qapp):
    from NetZeroAICT.ui.scoring_form import ScoringForm

    events = {"submitted": [], "changed": [], "measure": [], "next": 0, "previous": 0}

    def count(name):
        def bump():
            events[name] += 1
        return bump

    widget = ScoringForm(ALL_TYPES_QUESTIONS, on_submit=events["submitted"].append,
                         on_change=events["changed"].append, on_measure=events["measure"].append,
                         on_next=count("next"), on_previous=count("previous"))
    widget.events = events
    widget.resize(460, 980)
    widget.show()
    widget.activateWindow()
    qapp.processEvents()
    yield widget
    widget.close()


def _click(qapp, widget):
    """Click where a person would: on a check/radio button's box (its text may end before the middle)."""
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    where = QPoint(8, widget.height() // 2) if widget.metaObject().className() in ("QRadioButton", "QCheckBox") \
        else widget.rect().center()
    QTest.mouseClick(widget, Qt.LeftButton, Qt.NoModifier, where)
    qapp.processEvents()


def _type(qapp, widget, text):
    from PySide6.QtTest import QTest

    widget.setFocus()
    QTest.keyClicks(widget, text)
    qapp.processEvents()


def _find(form, cls, name):
    from PySide6 import QtWidgets

    found = form.findChild(getattr(QtWidgets, cls), name)
    assert found is not None, f"no {cls} named {name}"
    return found


def test_every_question_type_is_rendered_with_its_parts(form):
    from NetZeroAICT.ui.qtcompat import prop

    assert set(form.editors) == {q["id"] for q in ALL_TYPES_QUESTIONS}
    # Likert anchors are shown under their points
    assert prop(_find(form, "QLabel", "confidence__anchor_1"), "text") == "definitely normal"
    assert prop(_find(form, "QLabel", "quality__anchor_5"), "text") == "excellent"
    # number: unit and range shown; measurement: ruler button; required questions marked
    assert prop(_find(form, "QLineEdit", "stenosis__value"), "placeholderText") == "0–100 %"
    assert prop(_find(form, "QPushButton", "diameter__measure"), "enabled")
    assert prop(_find(form, "QLabel", "diagnosis__title"), "text").endswith("*")
    assert not prop(_find(form, "QLabel", "comment__title"), "text").endswith("*")
    assert form.answers() == {q["id"]: ([] if q["type"] == "multiple_choice" else None) for q in ALL_TYPES_QUESTIONS}


def test_missing_and_out_of_range_answers_show_messages_and_block_submit(qapp, form):
    from NetZeroAICT.ui.qtcompat import prop

    _click(qapp, _find(form, "QPushButton", "submit_button"))
    assert form.events["submitted"] == []
    for required in ("diagnosis", "confidence", "quality", "diameter"):
        message = _find(form, "QLabel", f"{required}__message")
        assert message.isVisible() and prop(message, "text") == "An answer is required."
    assert not _find(form, "QLabel", "comment__message").isVisible()
    assert "4 answers need attention" in prop(form.status_label, "text")

    _type(qapp, _find(form, "QLineEdit", "stenosis__value"), "130")
    _type(qapp, _find(form, "QLineEdit", "diameter__value"), "abc")
    _click(qapp, _find(form, "QPushButton", "submit_button"))
    assert "out of range" in prop(_find(form, "QLabel", "stenosis__message"), "text")
    assert "0 to 100 %" in prop(_find(form, "QLabel", "stenosis__message"), "text")
    assert prop(_find(form, "QLabel", "diameter__message"), "text") == "Enter a number (for example 12.5)."
    assert form.events["submitted"] == []


def _answer_everything(qapp, form):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    _click(qapp, _find(form, "QRadioButton", "diagnosis__True"))
    _click(qapp, _find(form, "QRadioButton", "confidence__4"))
    _click(qapp, _find(form, "QRadioButton", "finding__aneurysm"))
    _click(qapp, _find(form, "QCheckBox", "segments__arch"))
    _click(qapp, _find(form, "QCheckBox", "segments__descending"))
    _click(qapp, _find(form, "QRadioButton", "quality__2"))
    _click(qapp, _find(form, "QRadioButton", "quality__5"))  # changing a single choice unchecks the other
    _type(qapp, _find(form, "QLineEdit", "stenosis__value"), "35,5")  # decimal comma accepted
    _click(qapp, _find(form, "QPushButton", "diameter__measure"))
    assert form.events["measure"] == ["diameter"]
    form.set_measurement("diameter", 41.26)  # what the ruler callback does
    text = _find(form, "QPlainTextEdit", "comment__text")
    text.setFocus()
    QTest.keyClicks(text, "wall thickening")
    QTest.keyClick(text, Qt.Key_Tab)
    qapp.processEvents()


def test_clicks_and_keys_fill_every_answer_and_ctrl_return_submits(qapp, form):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    _answer_everything(qapp, form)
    expected = {"diagnosis": True, "confidence": 4, "finding": "aneurysm", "segments": ["arch", "descending"],
                "quality": 5, "stenosis": 35.5, "diameter": 41.3, "comment": "wall thickening"}
    assert form.answers() == expected
    assert form.events["changed"][-1] == expected  # autosave sees every change
    QTest.keyClick(_find(form, "QLineEdit", "stenosis__value"), Qt.Key_Return, Qt.ControlModifier)
    qapp.processEvents()
    assert form.events["submitted"] == [expected]
    assert not any(label.isVisible() for label in form.messages.values())


def test_navigation_shortcuts_follow_what_the_caller_allows(qapp, form):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    field = _find(form, "QLineEdit", "stenosis__value")
    QTest.keyClick(field, Qt.Key_Right, Qt.AltModifier)
    QTest.keyClick(field, Qt.Key_Left, Qt.AltModifier)
    assert form.events["next"] == form.events["previous"] == 0  # both disabled
    form.set_navigation(can_previous=True, can_next=True)
    QTest.keyClick(field, Qt.Key_Right, Qt.AltModifier)
    QTest.keyClick(field, Qt.Key_Left, Qt.AltModifier)
    _click(qapp, _find(form, "QPushButton", "next_button"))
    assert (form.events["next"], form.events["previous"]) == (2, 1)


def test_locked_form_cannot_change_or_submit(qapp, form):
    from NetZeroAICT.ui.qtcompat import prop

    form.set_answers({"diagnosis": False, "confidence": 2, "quality": 3, "diameter": 30.0})
    form.set_locked(True, "Submitted: answers are locked.")
    _click(qapp, _find(form, "QRadioButton", "diagnosis__True"))
    assert form.answers()["diagnosis"] is False
    assert not form.submit()
    assert prop(form.status_label, "text") == "Submitted: answers are locked."
    assert form.events["changed"] == []  # showing saved answers is not a change


def test_form_is_readable_when_rendered(qapp, form, tmp_path):
    from NetZeroAICT.ui.qtcompat import prop

    _click(qapp, _find(form, "QPushButton", "submit_button"))
    image = form.grab().toImage()
    image.save(str(tmp_path / "scoring_form.png"))
    assert image.width() == 460
    # every question block is at least as tall as its title, none overlaps the next (not cramped)
    blocks = [form.findChild(__import__("PySide6.QtWidgets").QtWidgets.QFrame, f"question_{q['id']}")
              for q in ALL_TYPES_QUESTIONS]
    tops = [b.geometry().top() for b in blocks]
    bottoms = [b.geometry().bottom() for b in blocks]
    assert all(b.height() >= 40 for b in blocks)
    assert all(bottom < top for bottom, top in zip(bottoms, tops[1:]))
    assert prop(_find(form, "QLabel", "diameter__message"), "text")
