"""The lead's workflow end to end through the CLI: init → validate → design → package → audit → readers
answer at two sites → progress → merge → export (the tidy table the analysis reads)."""

from __future__ import annotations

import csv
import json
import sys
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from NetZeroAICT.cli import main
from NetZeroAICT.errors import ValidationError
from NetZeroAICT.study import load_protocol
from NetZeroAICT.study.cases import init_study
from NetZeroAICT.study.export import TIDY_COLUMNS
from NetZeroAICT.study.package import PackageKey, enrol_reader
from NetZeroAICT.study.store import ResultsStore
from NetZeroAICT.volume import Volume
from NetZeroAICT.volume_io import write_volume
from Testing.study_fixtures import write_case_images


def _cases_csv(folder, n_cases=6, drop_synthetic=()):
    cases = write_case_images(folder, n_cases)
    with open(folder / "cases.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "real_cta", "synthetic_cta", "ncct", "abnormal", "training", "truth.diameter"])
        for case in cases:
            synthetic = "" if case["id"] in drop_synthetic else case["synthetic_cta"]
            writer.writerow([case["id"], case["real_cta"], synthetic, case["real_cta"], case["truth"]["abnormal"],
                             case["training"], case["truth"]["diameter"]])
    return folder / "cases.csv"


def test_init_synthesises_missing_synthetic_ctas_with_the_given_engine(tmp_path):
    source = _cases_csv(tmp_path, 4, drop_synthetic=("case002",))
    calls = []

    def fake_engine(ncct_path, indication, out_path):
        calls.append((str(ncct_path), indication, str(out_path)))
        write_volume(Volume([[[300.0]] * 2] * 2, (1, 1, 1)), out_path, description="SYNTHETIC digital contrast test")

    protocol_path = tmp_path / "study" / "protocol.yaml"
    protocol = init_study(source, protocol_path, study_id="S9", indication="aorta", readers=["a", "b"],
                          synthesize=fake_engine, log=lambda m: None)
    assert calls == [(str(tmp_path / "case002_cta.nii.gz"), "aorta", str(tmp_path / "study" / "synthetic" / "case002.nii.gz"))]
    assert protocol.case("case002")["synthetic_cta"] == "synthetic/case002.nii.gz"
    assert protocol.case("case001")["truth"] == {"abnormal": False, "diameter": 31.0}
    assert load_protocol(protocol_path).study_id == "S9"  # written, valid, files found
    init_study(source, protocol_path, study_id="S9", indication="aorta", readers=["a", "b"],
               synthesize=fake_engine, log=lambda m: None)
    assert len(calls) == 1  # an existing synthetic CTA is not made again


def test_init_without_an_engine_or_synthesis_says_which_case(tmp_path, monkeypatch, capsys):
    source = _cases_csv(tmp_path, 3, drop_synthetic=("case001",))
    monkeypatch.setitem(sys.modules, "NetZeroAICT.synthesis", None)  # engine not installed
    with pytest.raises(ValidationError, match="synthesis engine is not available"):
        init_study(source, tmp_path / "p.yaml", study_id="S", indication="aorta", readers=["a"], log=lambda m: None)
    assert main(["study", "init", str(source), "--out", str(tmp_path / "p.yaml"), "--study-id", "S",
                 "--indication", "aorta", "--readers", "a,b", "--no-synthesis"]) == 2
    assert "case case001" in capsys.readouterr().err


def test_init_from_a_folder_of_case_folders(tmp_path):
    for index in range(3):
        case = tmp_path / "data" / f"aorta_{index:03d}"
        case.mkdir(parents=True)
        for name in ("cta", "synthetic_cta", "ncct"):
            write_volume(Volume([[[0.0, 1.0]] * 2] * 2, (1, 1, 1)), case / f"{name}.nii.gz")
        (case / "case.json").write_text(json.dumps({"abnormal": index == 1, "max_diameter_mm": 50.0 + index}))
    protocol = init_study(tmp_path / "data", tmp_path / "p.json", study_id="F", indication="aorta",
                          readers=["a", "b"], turing=False, log=lambda m: None)
    assert [c["id"] for c in protocol.cases] == ["aorta_000", "aorta_001", "aorta_002"]
    assert protocol.case("aorta_001")["truth"] == {"abnormal": True, "diameter": 51.0}
    assert [s["kind"] for s in protocol.sessions] == ["diagnostic", "diagnostic"]


class _Clock:
    def __init__(self):
        self.now = datetime(2026, 5, 4, 8, tzinfo=timezone.utc)

    def __call__(self):
        self.now += timedelta(seconds=30)
        return self.now


def _read_session(store, protocol, reader, session):
    store.start_session(protocol["study_id"], reader, session)
    kind = next(s["kind"] for s in protocol["sessions"] if s["id"] == session)
    while (code := store.next_reading(protocol["study_id"], reader, session)) is not None:
        store.start_reading(protocol["study_id"], reader, session, code)
        if kind == "turing":
            store.save_answer(protocol["study_id"], reader, session, code, "turing", "synthetic")
            store.save_answer(protocol["study_id"], reader, session, code, "turing_confidence", 2)
        else:
            for question, value in (("confidence", 4), ("diagnosis", True), ("quality", 3), ("diameter", 41.5)):
                store.save_answer(protocol["study_id"], reader, session, code, question, value)
        store.submit_reading(protocol["study_id"], reader, session, code)
    store.end_session(protocol["study_id"], reader, session)


def test_the_whole_workflow_through_the_cli(tmp_path, capsys):
    source = _cases_csv(tmp_path)
    study = tmp_path / "study"
    protocol_path, design_path = study / "protocol.yaml", study / "design.json"
    package, key_path = tmp_path / "to_readers", study / "key.json"
    assert main(["study", "init", str(source), "--out", str(protocol_path), "--study-id", "AORTA1",
                 "--indication", "aorta", "--readers", "r1,r2", "--washout-days", "14"]) == 0
    assert main(["study", "validate", str(protocol_path)]) == 0
    assert main(["study", "design", str(protocol_path), "--out", str(design_path)]) == 0
    assert main(["study", "package", str(protocol_path), "--design", str(design_path), "--out", str(package),
                 "--key", str(key_path)]) == 0
    assert "audit: no leak found" in capsys.readouterr().out
    assert main(["study", "audit", str(package), "--key", str(key_path), "--protocol", str(protocol_path)]) == 0

    # two sites, one reader each, each with its own SQLite store; r1 reads everything, r2 only session 1
    stores = {}
    for reader in ("r1", "r2"):
        clock = _Clock()
        store = ResultsStore(tmp_path / f"site_{reader}.db", clock=clock)
        reader_side = enrol_reader(store, package, reader)
        _read_session(store, reader_side, reader, "diagnostic_1")
        if reader == "r1":
            clock.now += timedelta(days=14)
            _read_session(store, reader_side, reader, "diagnostic_2")
            _read_session(store, reader_side, reader, "turing")
        stores[reader] = store.url
    central = tmp_path / "central.db"
    assert main(["study", "merge", "--into", str(central), *stores.values()]) == 0
    assert main(["study", "merge", "--into", str(central), *stores.values()]) == 0
    assert capsys.readouterr().out.count("nothing new") == 2
    assert main(["study", "progress", "--store", str(central)]) == 0
    progress = capsys.readouterr().out
    assert "r2         diagnostic_1      6 / 6" in progress and "r2         diagnostic_2      0 / 6" in progress
    out = tmp_path / "answers.csv"
    assert main(["study", "export", "--store", str(central), "--protocol", str(protocol_path),
                 "--key", str(key_path), "--out", str(out)]) == 0
    table = pd.read_csv(out, keep_default_na=False)
    assert list(table.columns) == TIDY_COLUMNS
    # r1: 2 diagnostic sessions × 6 cases × 4 questions + 6 Turing × 2; r2: 6 × 4
    assert len(table) == 48 + 12 + 24
    key = PackageKey.load(key_path)
    crossover = table[(table.reader_id == "r1") & (table.question_id == "confidence")]
    assert sorted(crossover.groupby("case_id").modality.apply(sorted).map(tuple).unique()) == [("real", "synthetic")]
    turing = table[table.question_id == "turing"]
    assert (turing.truth == turing.modality.map(json.dumps)).all() and set(turing.value) == {'"synthetic"'}
    diagnosis = table[table.role == "diagnosis"].iloc[0]
    assert diagnosis.truth == json.dumps(int(diagnosis.case_id[-1]) % 2 == 0)
    assert set(table[table.question_id == "diameter"].truth) == {json.dumps(30.0 + i) for i in range(6)}
    assert set(table[table.case_id == "case000"].training) == {True} and set(table[table.case_id != "case000"].training) == {False}
    assert (table.duration_s > 0).all() and table.submitted_at.str.endswith("+00:00").all()
    assert set(table.value[table.question_id == "confidence"]) == {"4"}
    assert len(key.items) == 36
    capsys.readouterr()
    parquet = tmp_path / "answers.parquet"
    code = main(["study", "export", "--store", str(central), "--protocol", str(protocol_path),
                 "--key", str(key_path), "--out", str(parquet)])
    if code == 0:
        assert pd.read_parquet(parquet).shape == table.shape
    else:
        assert code == 2 and "pyarrow" in capsys.readouterr().err
    # a leak planted in the package makes `study audit` fail
    (package / "worklists" / "r1.json").write_text((package / "worklists" / "r1.json").read_text() + " ")
    (package / "images" / f"{next(iter(key.items))}.nii").rename(package / "images" / "case003.nii")
    capsys.readouterr()
    assert main(["study", "audit", str(package), "--key", str(key_path), "--protocol", str(protocol_path)]) == 1
    assert "[name] images/case003.nii" in capsys.readouterr().out
