"""Analysis of the tidy answer export (SYNTHETIC answers made in the export format), the agreement statistics
against published worked examples, the HTML/JSON/CSV report and the ``study analyze|report`` commands."""

from __future__ import annotations

import argparse
import json
import math
import re

import numpy as np
import pandas as pd
import pytest

from NetZeroAICT.cli import main
from NetZeroAICT.study.analysis import analyze_answers, write_report
from NetZeroAICT.study.analysis.agreement import fleiss, icc_2_1, krippendorff_alpha, weighted_kappa
from NetZeroAICT.study.analysis.measurements import bland_altman

from .synthetic_study_answers import PROTOCOL, make_answers


@pytest.fixture(scope="module")
def answers() -> pd.DataFrame:
    return make_answers(n_readers=4, n_cases=40, seed=0)


@pytest.fixture(scope="module")
def results(answers) -> dict:
    return analyze_answers(answers, PROTOCOL, n_boot=500)


def test_every_section_is_analysed_and_readers_are_pseudonymous(answers, results):
    assert results["counts"] == {"readers": 4, "cases": 40, "answers": len(answers) - 4}  # training left out
    assert results["readers"] == ["Reader 1", "Reader 2", "Reader 3", "Reader 4"]
    for key, question in (("mrmc", "confidence"), ("diagnosis", "aneurysm"), ("turing", "origin"),
                          ("quality", "quality"), ("measurements", "diameter")):
        assert question in results[key] and results[key][question].get("estimable", True), key
    assert "dr-" not in json.dumps(results)
    mrmc = results["mrmc"]["confidence"]
    assert mrmc["modalities"] == ["real", "synthetic"] and mrmc["test"] == "synthetic"
    assert mrmc["analyses"]["RRRC"]["noninferiority"]["comparison"] == "synthetic − real"
    assert mrmc["sizing"] and all(row["n_readers"] >= 2 for row in mrmc["sizing"])
    assert all(row["method"] for row in results["statistics"])


def test_turing_accuracy_and_intervals_match_a_hand_count(answers, results):
    turing = answers[answers["role"] == "turing"]
    correct = (turing["value"].map(json.loads) == turing["modality"]).to_numpy()
    pooled = results["turing"]["origin"]["pooled"]
    assert (pooled["k"], pooled["n"]) == (correct.sum(), len(correct))
    k, n, z = correct.sum(), len(correct), 1.959963984540054
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert pooled["wilson"] == pytest.approx([centre - half, centre + half])
    assert pooled["bootstrap"][0] < p < pooled["bootstrap"][1]
    # the two-way bootstrap respects clustering: wider than the Wilson interval
    assert pooled["bootstrap"][1] - pooled["bootstrap"][0] > pooled["wilson"][1] - pooled["wilson"][0]
    called_real = {m["modality"]: m["called_real"]["value"] for m in results["turing"]["origin"]["modalities"]}
    synthetic = turing[turing["modality"] == "synthetic"]
    assert called_real["synthetic"] == pytest.approx((synthetic["value"] == '"real"').mean())


def test_bland_altman_and_quality_match_the_data(answers, results):
    rows = answers[answers["role"] == "diameter"].assign(
        mm=lambda t: t["value"].map(lambda v: json.loads(v)["value"]))
    rows = rows[rows["training"] == False]  # noqa: E712
    means = rows.pivot_table(index="case_id", columns="modality", values="mm", aggfunc="mean")
    difference = means["synthetic"] - means["real"]
    ba = results["measurements"]["diameter"]["bland_altman"]
    assert ba["bias"] == pytest.approx(difference.mean())
    assert ba["upper_limit"] == pytest.approx(difference.mean() + 1.959963984540054 * difference.std(ddof=1))
    assert ba["bias_ci"][0] < ba["bias"] < ba["bias_ci"][1]
    quality = {m["modality"]: m for m in results["quality"]["quality"]["modalities"]}
    real = answers[(answers["role"] == "quality") & (answers["modality"] == "real")]["value"].astype(float)
    assert quality["real"]["median"] == real.median() and quality["real"]["n"] == len(real)
    assert set(quality["real"]["counts"]) == {"1.0", "2.0", "3.0", "4.0", "5.0"}
    assert results["quality"]["quality"]["wilcoxon"]["p"] < 0.05  # synthetic rated 0.4 lower on average


def test_bland_altman_limits_by_hand():
    real = np.array([10.0, 12.0, 14.0, 16.0, 18.0])
    ba = bland_altman(real, real + np.array([1.0, 0.0, 1.0, 2.0, 1.0]))
    assert ba["bias"] == 1.0 and ba["sd"] == pytest.approx(math.sqrt(0.5))
    assert ba["lower_limit"] == pytest.approx(1 - 1.959963984540054 * math.sqrt(0.5))
    half = 2.7764451051977987 * math.sqrt(3 * 0.5 / 5)  # t(0.975, 4) · √(3 s²/n)
    assert ba["lower_limit_ci"][1] - ba["lower_limit"] == pytest.approx(half)


def test_icc_2_1_reproduces_shrout_and_fleiss_1979():
    judges = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]])
    assert round(icc_2_1(judges.T.astype(float))["value"], 2) == 0.29


def test_fleiss_kappa_reproduces_the_fleiss_1971_style_worked_example():
    counts = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
              [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    items = [np.repeat(np.arange(1, 6), row) for row in counts]  # 14 raters per item
    assert round(fleiss(np.array(items, dtype=float).T)["value"], 3) == 0.210


def test_krippendorff_alpha_reproduces_krippendorffs_example():
    nan = np.nan
    data = np.array([[1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
                     [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
                     [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
                     [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan]])
    assert round(krippendorff_alpha(data, "nominal")["value"], 3) == 0.743


def test_weighted_kappa_perfect_and_chance():
    a = np.array([1, 2, 3, 4, 5, 3, 2, 4], float)
    assert weighted_kappa(a, a)["value"] == pytest.approx(1.0)
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    b = np.array([2, 2, 3, 5, 4, 1, 2, 4], float)
    expected = sklearn_metrics.cohen_kappa_score(a, b, weights="quadratic")
    assert weighted_kappa(a, b)["value"] == pytest.approx(expected)


def _no_nan(text: str) -> None:
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", text)
    assert not re.search(r"\bnan\b|\binf\b", text, re.IGNORECASE), "a NaN is shown as a result"


def test_report_is_self_contained_with_figures_and_every_statistic(results, tmp_path):
    path = write_report(results, tmp_path / "report")
    page = path.read_text(encoding="utf-8")
    assert page.count('src="data:image/png;base64,') >= 6 and "src=\"http" not in page
    for heading in ("ROC area", "Visual Turing test", "Image quality", "Measurements", "Methods",
                    "Sensitivity and specificity", "non-inferiority"):
        assert heading.lower() in page.lower()
    assert "Reader 1" in page and "dr-" not in page
    _no_nan(page)
    stats = pd.read_csv(tmp_path / "report" / "statistics.csv")
    assert len(stats) == len(results["statistics"]) and stats["method"].notna().all()
    json.loads((tmp_path / "report" / "statistics.json").read_text(), parse_constant=pytest.fail)
    assert len(list((tmp_path / "report" / "figures").glob("*.png"))) >= 6


def test_degenerate_study_says_what_cannot_be_estimated(tmp_path):
    one_reader = make_answers(n_readers=1, n_cases=12, seed=2)
    one_reader.loc[one_reader["role"] == "quality", "value"] = "4"
    results = analyze_answers(one_reader, PROTOCOL, n_boot=200)
    mrmc = results["mrmc"]["confidence"]
    assert mrmc["analyses"]["RRRC"]["estimable"] is False and "2 readers" in mrmc["analyses"]["RRRC"]["reason"]
    assert "sizing" not in mrmc
    agreement = results["quality"]["quality"]["agreement"]["between_readers"][0]
    assert agreement["fleiss_kappa"]["estimable"] is False
    assert results["quality"]["quality"]["wilcoxon"]["estimable"] is False
    normal_only = make_answers(n_readers=3, n_cases=10, seed=3)
    normal_only["truth"] = normal_only["truth"].where(~normal_only["role"].isin(["confidence", "diagnosis"]),
                                                      "false")
    results2 = analyze_answers(normal_only, PROTOCOL, n_boot=200)
    assert results2["mrmc"]["confidence"]["estimable"] is False
    assert "abnormal" in results2["mrmc"]["confidence"]["reason"]
    assert any("not estimable" in note for note in results2["notes"])
    for i, res in enumerate((results, results2)):
        text = json.dumps(res, allow_nan=False)
        _no_nan(text)
        page = write_report(res, tmp_path / f"r{i}").read_text(encoding="utf-8")
        _no_nan(page)
        assert "not estimable" in page.lower() or "n/a" in page


def test_missing_and_constant_ratings_are_explained():
    data = make_answers(n_readers=3, n_cases=15, seed=6)
    confidence = data.index[(data["role"] == "confidence") & (data["reader_id"] == "dr-brown")]
    gaps = analyze_answers(data.drop(index=confidence[:2]), PROTOCOL, n_boot=100)
    assert gaps["mrmc"]["confidence"]["n_cases"] == 14  # case-000 lacks this reader: left out
    assert any("left out of the MRMC analysis" in n for n in gaps["mrmc"]["confidence"]["notes"])
    constant = data.copy()
    constant.loc[constant["role"] == "confidence", "value"] = "3"
    results = analyze_answers(constant, PROTOCOL, n_boot=100)
    assert "every rating is the same" in results["mrmc"]["confidence"]["reason"]
    _no_nan(json.dumps(results, allow_nan=False))


def test_protocol_supplies_truth_when_the_export_has_none():
    data = make_answers(n_readers=3, n_cases=20, seed=4)
    truth = {r["case_id"]: json.loads(r["truth"]) for _, r in data[data["role"] == "confidence"].iterrows()}
    protocol = {**PROTOCOL, "cases": [{"id": c, "truth": {"abnormal": v}} for c, v in truth.items()]}
    with_truth = analyze_answers(data, PROTOCOL, n_boot=100)["mrmc"]["confidence"]["mean_fom"]
    data["truth"] = ""
    assert analyze_answers(data, None, n_boot=100)["mrmc"]["confidence"]["estimable"] is False
    assert analyze_answers(data, protocol, n_boot=100)["mrmc"]["confidence"]["mean_fom"] == with_truth


def test_cli_analyze_and_report(tmp_path, capsys):
    import yaml

    csv_path, protocol_path = tmp_path / "answers.csv", tmp_path / "protocol.yaml"
    make_answers(n_readers=3, n_cases=20, seed=5).to_csv(csv_path, index=False)
    protocol_path.write_text(yaml.safe_dump(PROTOCOL))
    out_json = tmp_path / "results.json"
    assert main(["study", "analyze", str(csv_path), "--protocol", str(protocol_path), "--out", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert "synthetic − real" in out and "accuracy" in out and "bias" in out
    assert main(["study", "report", str(out_json), "--out", str(tmp_path / "rep")]) == 0
    assert (tmp_path / "rep" / "report.html").exists()
    assert main(["study", "report", str(csv_path), "--out", str(tmp_path / "rep2"), "--margin", "0.1"]) == 0
    assert json.loads((tmp_path / "rep2" / "statistics.json").read_text())["margin"] == 0.1
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    capsys.readouterr()
    assert main(["study", "analyze", str(bad)]) == 2
    assert "missing column" in capsys.readouterr().err


def test_study_group_is_shared_with_the_study_commands():
    from NetZeroAICT import cli_analysis

    parser = argparse.ArgumentParser()
    subparsers = parser.add_subparsers(dest="command")
    study = subparsers.add_parser("study")
    study_subparsers = study.add_subparsers(dest="study_command")
    study_subparsers.add_parser("init")  # as the study commands register theirs first
    cli_analysis.register(subparsers)
    cli_analysis.register(subparsers)  # idempotent
    assert {"init", "mrmc", "analyze", "report"} <= set(study_subparsers.choices)
    assert parser.parse_args(["study", "mrmc", "x.csv"]).ratings == "x.csv"
