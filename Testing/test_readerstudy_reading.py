"""A reader working through a blinded package: resume, answer policy, washout, and the panel driven by keys."""

from __future__ import annotations

import pytest

from .readerstudy_helpers import SteppingClock, build_small_package, scene  # noqa: F401 (fixture)

ANSWERS = {"diagnosis": True, "confidence": 4, "quality": 4, "diameter": 21.5}


def _session(tmp_path, reader="R1", clock=None, store_name="R1.sqlite", **kwargs):
    from NetZeroAICT.study import ResultsStore
    from ReaderStudyLib.reading import ReaderPackage, ReadingSession

    if not (tmp_path / "package").exists():
        build_small_package(tmp_path, **kwargs)
    store = ResultsStore(tmp_path / store_name, clock=clock or SteppingClock())
    return ReadingSession(ReaderPackage.open(tmp_path / "package"), store, reader), store


def test_answers_survive_a_restart_and_reading_resumes_at_the_first_open_case(tmp_path):
    clock = SteppingClock()
    session, store = _session(tmp_path, clock=clock)
    first, second, third = session.codes[:3]
    session.open_current()
    assert session.submit(ANSWERS) == second
    session.open_current()
    assert session.submit({**ANSWERS, "comment": "calcified wall"}) == third
    session.open_current()
    session.save({"diagnosis": False, "quality": 2})  # a draft, then Slicer is closed
    store.close()

    again, store = _session(tmp_path, clock=clock)
    assert again.current_code == third and again.progress()["case_index"] == 3
    assert again.progress()["submitted"] == 2
    assert again.saved_answers() == {"diagnosis": False, "quality": 2}
    assert again.saved_answers(second)["comment"] == "calcified wall"
    rows = [r for r in store.answers("phantom-study") if r["item_code"] == first]
    assert {r["question_id"] for r in rows} == set(ANSWERS)
    assert all(r["duration_s"] > 0 for r in rows)  # reading time recorded


def test_lock_on_submit_keeps_submitted_answers_read_only(tmp_path):
    from NetZeroAICT.study import StoreError

    session, store = _session(tmp_path)
    first = session.current_code
    session.open_current()
    session.submit(ANSWERS)
    session.go_previous()
    assert session.current_code == first
    editable, reason = session.editable()
    assert not editable and "locked" in reason
    assert session.save({**ANSWERS, "quality": 1}) == 0
    with pytest.raises(StoreError, match="locked"):
        store.save_answer("phantom-study", "R1", session.session_id, first, "quality", 1)
    assert session.can_go_next() and session.go_next() != first


def test_editable_policy_keeps_revisions(tmp_path):
    session, store = _session(tmp_path, answer_policy="editable")
    first = session.current_code
    session.open_current()
    session.submit(ANSWERS)
    session.go_previous()
    assert session.editable() == (True, "")
    assert session.save({**ANSWERS, "quality": 2}) == 1
    revisions = [r for r in store.revisions("phantom-study") if r["item_code"] == first and r["question_id"] == "quality"]
    assert [r["revision"] for r in revisions] == [1, 2]


def test_required_answers_and_washout_are_enforced_by_the_store(tmp_path):
    from NetZeroAICT.study import StoreError
    from ReaderStudyLib.reading import ReadingSession

    clock = SteppingClock()
    session, store = _session(tmp_path, clock=clock)
    session.open_current()
    with pytest.raises(StoreError, match="required question"):
        session.submit({"diagnosis": True})
    while session.current_code:
        session.open_current()
        session.submit(ANSWERS)
    session.finish()
    with pytest.raises(StoreError, match="washout of 14 days"):
        ReadingSession(session.package, store, "R1")
    clock.jump(14.01)
    second = ReadingSession(session.package, store, "R1")
    assert second.session_id == "s2" and second.progress()["case_index"] == 1


def test_reader_panel_driven_by_clicks_and_keys_fills_the_store(qapp, scene, tmp_path):
    from PySide6 import QtWidgets
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    from NetZeroAICT.mrml.hanging import HangingProtocol
    from NetZeroAICT.ui.qtcompat import prop
    from ReaderStudyLib.reader_panel import ReaderPanel
    from ReaderStudyLib.viewer import CaseViewer

    session, store = _session(tmp_path)
    viewer = CaseViewer(HangingProtocol.from_dict(session.package.hanging_protocol), scene)
    panel = ReaderPanel()
    panel.resize(480, 1150)
    panel.show()
    panel.activateWindow()
    panel.open(session, viewer)
    qapp.processEvents()
    assert prop(panel.header.case_label, "text") == "Case 1 of 4"
    assert viewer.node.GetName() == session.codes[0]

    def click(name, cls=QtWidgets.QRadioButton):
        widget = panel.findChild(cls, name)
        QTest.mouseClick(widget, Qt.LeftButton, Qt.NoModifier, QPoint(8, widget.height() // 2))
        qapp.processEvents()

    click("diagnosis__True")
    click("confidence__5")
    click("quality__4")
    assert session.saved_answers() == {"diagnosis": True, "confidence": 5, "quality": 4}  # autosaved
    QTest.mouseClick(panel.findChild(QtWidgets.QPushButton, "diameter__measure"), Qt.LeftButton)
    ruler = viewer.rulers["diameter"]
    import vtk

    ruler.node.AddControlPoint(vtk.vtkVector3d(0, 0, 0))
    ruler.node.AddControlPoint(vtk.vtkVector3d(12, 16, 0))  # a 20 mm line placed by the reader
    qapp.processEvents()
    assert prop(panel.findChild(QtWidgets.QLineEdit, "diameter__value"), "text") == "20"
    QTest.keyClick(panel.findChild(QtWidgets.QLineEdit, "diameter__value"), Qt.Key_Return, Qt.ControlModifier)
    qapp.processEvents()
    assert prop(panel.header.case_label, "text") == "Case 2 of 4"
    assert "1 of 4 submitted" == panel.header.progress_bar.format()
    first = session.codes[0]
    assert {r["question_id"]: r["value"] for r in store.answers("phantom-study") if r["item_code"] == first} == \
        {"diagnosis": True, "confidence": 5, "quality": 4, "diameter": 20.0}
    assert viewer.node.GetName() == session.codes[1]
    QTest.keyClick(panel.findChild(QtWidgets.QLineEdit, "diameter__value"), Qt.Key_W, Qt.AltModifier)
    assert prop(panel.window_label, "text") == "soft tissue"
    # back to the submitted case: answers shown, locked
    QTest.keyClick(panel.findChild(QtWidgets.QLineEdit, "diameter__value"), Qt.Key_Left, Qt.AltModifier)
    qapp.processEvents()
    assert prop(panel.header.case_label, "text") == "Case 1 of 4"
    assert not prop(panel.form.submit_button, "enabled")
    assert panel.form.answers()["diameter"] == 20.0
    panel.grab().save(str(tmp_path / "reader_panel.png"))
    panel.close()
    viewer.clear()
