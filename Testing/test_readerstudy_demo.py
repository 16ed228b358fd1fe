"""The three-reader demo study end to end: foundry phantoms, synthesis engine, blinded package, simulated readers
reading in an MRML scene, merged stores, analysis report; then the lead's progress table from it."""

from __future__ import annotations

import json

import pytest

from .readerstudy_helpers import scene  # noqa: F401 (fixture)

pytest.importorskip("slicer")
pytest.importorskip("monai")


@pytest.mark.slow
def test_three_reader_demo_study_ends_in_the_analysis_report(scene, qapp, tmp_path):  # noqa: F811
    import pandas as pd

    from ReaderStudyLib.demo_study import run_demo_study

    # 4 cases (2 with an aneurysm); a 1-epoch DEMO model keeps this test short (the demo script trains longer)
    summary = run_demo_study(tmp_path, n_cases=4, scene=scene, train_epochs=1, grid=((48, 48, 48), 4.0),
                             log=lambda *a: None)
    assert summary["protocol_problems"] == [] and summary["package_audit"] == []
    assert summary["scene_leaks"] == []  # checked after every one of the readings
    assert summary["readings"] == 3 * (4 + 4 + 4)  # 3 readers × (2 crossover sessions + Turing session)
    assert summary["model"].startswith(("shipped", "given", "DEMO model"))

    synthetic = sorted((tmp_path / "study" / "synthetic").glob("*.nii.gz"))
    assert len(synthetic) == 4  # one engine output per case

    answers = pd.read_csv(summary["answers_csv"])
    assert set(answers["reader_id"]) == {"R1", "R2", "R3"}
    diagnostic = answers[answers["session_kind"] == "diagnostic"]
    # every reader read every case once real and once synthetic
    per_reader_case = diagnostic[diagnostic["question_id"] == "confidence"].groupby(["reader_id", "case_id"])
    assert all(sorted(group["modality"]) == ["real", "synthetic"] for _, group in per_reader_case)
    assert (answers["duration_s"] > 0).all()
    turing = answers[answers["question_id"] == "turing"]
    assert set(turing["value"].map(json.loads)) <= {"real", "synthetic"} and len(turing) == 12

    report = (tmp_path / "study" / "results" / "report" / "report.html").read_text()
    assert "Visual Turing test" in report and "ROC" in report
    assert all(row["submitted"] == row["total"] for row in summary["progress"])
    assert summary["results"]["auc.confidence"]["mean_auc"]["real"] is not None

    from NetZeroAICT.ui.lead_panel import ReaderProgressTable

    table = ReaderProgressTable()
    table.set_rows(summary["progress"])
    table.resize(560, 360)
    table.show()
    qapp.processEvents()
    assert table.rowCount() == 9
    assert {table.item(r, 4).text() for r in range(9)} == {"complete"}
    table.grab().save(str(tmp_path / "lead_progress.png"))
