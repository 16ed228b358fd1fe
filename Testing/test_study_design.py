"""The counterbalanced crossover design: complete, balanced, seeded, and a Turing session that mixes
patients."""

from __future__ import annotations

from collections import Counter

import pytest

from NetZeroAICT.study import Design, Protocol, balance_report, make_design
from Testing.study_fixtures import study_protocol


def _protocol(n_cases=10, n_readers=4) -> Protocol:
    cases = [{"id": f"c{i:02d}", "real_cta": "r.nii.gz", "synthetic_cta": "s.nii.gz",
              "truth": {"abnormal": i % 2 == 0}, "training": i < 2} for i in range(n_cases)]
    return Protocol.from_dict(study_protocol(cases, n_readers=n_readers))


@pytest.mark.parametrize("n_cases, n_readers", [(10, 4), (13, 6), (8, 2)])
def test_every_reader_reads_every_case_real_once_and_synthetic_once_balanced(n_cases, n_readers):
    protocol = _protocol(n_cases, n_readers)
    design = make_design(protocol)
    report = balance_report(design)
    assert report["crossover_complete"]
    half = n_readers // 2
    assert set(report["readers_real_first"].values()) == {half}  # half the readers start real, per case
    cases = n_cases - 2
    assert all(abs(n - cases / 2) <= 0.5 for n in report["cases_real_first"].values())
    for reader in protocol.readers:
        for session in protocol.sessions:
            plan = design.for_reader(reader["id"], session["id"])
            assert sorted(r.case_id for r in plan) == sorted(c["id"] for c in protocol.cases)  # once each
            assert [r.training for r in plan[:2]] == [True, True]  # training cases come first
            assert [r.position for r in plan] == list(range(n_cases))


def test_turing_session_mixes_real_and_synthetic_of_different_patients():
    design = make_design(_protocol(12, 4))
    report = balance_report(design)
    assert set(report["turing_real"].values()) == {2}  # each case real for half the readers
    for reader in ("r0", "r1", "r2", "r3"):
        plan = [r for r in design.for_reader(reader, "t") if not r.training]
        modalities = Counter(r.modality for r in plan)
        assert modalities == {"real": 5, "synthetic": 5}
        assert len({r.case_id for r in plan}) == len(plan)  # never both images of one patient


def test_order_is_seeded_randomised_and_recorded(tmp_path):
    protocol = _protocol(12, 4)
    first, again, other = make_design(protocol, 11), make_design(protocol, 11), make_design(protocol, 12)
    assert first.readings == again.readings
    assert first.readings != other.readings
    orders = {tuple(r.case_id for r in first.for_reader(reader, session))
              for reader in ("r0", "r1", "r2", "r3") for session in ("d1", "d2", "t")}
    assert len(orders) == 12  # a different order for every reader and session
    path = first.save(tmp_path / "design.json")
    assert Design.load(path).readings == first.readings
    table = first.table()
    assert "seed 11" in table and "crossover complete" in table and table.count("\n") == 12 + 1


def test_cli_design_prints_the_table(tmp_path, capsys):
    import json

    from NetZeroAICT.cli import main

    path = tmp_path / "p.json"
    path.write_text(json.dumps(_protocol(6, 2).data))
    assert main(["study", "design", str(path), "--seed", "3", "--out", str(tmp_path / "d.json")]) == 0
    out = capsys.readouterr().out
    assert "balance: crossover complete" in out and "c00:" in out
    assert Design.load(tmp_path / "d.json").seed == 3
