"""OR-MRMC analysis: validated against the published Iowa OR-DBM MRMC 2.51 output on Van Dyke et al. (1993),
fast jackknife equal to the definition, DeLong, sensitivity/specificity, degenerate input, calibration, sizing,
and the ``study mrmc`` command."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from NetZeroAICT.cli import main
from NetZeroAICT.study.analysis import AnalysisError, or_mrmc, or_mrmc_arrays
from NetZeroAICT.study.analysis.auc import delong_covariance, empirical_auc, jackknife_auc
from NetZeroAICT.study.analysis.mrmc import binary_mrmc
from NetZeroAICT.study.analysis.ratings import cross_ratings
from NetZeroAICT.study.analysis.simulation import null_rejection_rate
from NetZeroAICT.study.analysis.sizing import cases_for_power, noninferiority_power, sizing_table

from .conftest import shared_path


@pytest.fixture(scope="module")
def vandyke() -> pd.DataFrame:
    return pd.read_csv(shared_path("mrmc/vandyke1993.csv"))


@pytest.fixture(scope="module")
def vandyke_result(vandyke):
    return or_mrmc(vandyke)


def test_vandyke_matches_published_iowa_output(vandyke_result):
    r = vandyke_result
    assert r.readers == ["0", "1", "2", "3", "4"] and r.modalities == ["0", "1"] and r.n_cases == 114
    assert r.case_counts == {"abnormal": 45, "normal": 69}
    assert round(r.mean_fom["0"], 8) == 0.89703704
    assert round(r.mean_fom["1"], 8) == 0.94083736
    c = r.components
    assert (round(c.ms_t, 8), round(c.ms_tr, 8)) == (0.00479617, 0.00055103)
    assert (round(c.var_error, 8), round(c.cov1, 8), round(c.cov2, 8), round(c.cov3, 8)) == (
        0.00080229, 0.00034661, 0.00034407, 0.00023903)

    rrrc = r.analyses["RRRC"]
    assert rrrc["test"]["statistic"] == "F" and rrrc["test"]["df_num"] == 1
    assert round(rrrc["test"]["value"], 2) == 4.46
    assert round(rrrc["test"]["df_den"], 2) == 15.26
    assert round(rrrc["test"]["p"], 4) == 0.0517
    d = rrrc["differences"][0]
    assert d["label"] == "0 − 1"
    assert round(d["estimate"], 5) == -0.04380
    assert round(d["se"], 5) == 0.02075
    assert (round(d["lower"], 5), round(d["upper"], 5)) == (-0.08796, 0.00036)

    frrc = r.analyses["FRRC"]["test"]
    assert frrc["statistic"] == "chi-square" and frrc["df"] == 1
    assert (round(frrc["value"], 2), round(frrc["p"], 4)) == (5.48, 0.0193)

    rrfc = r.analyses["RRFC"]["test"]
    assert (rrfc["df_num"], rrfc["df_den"]) == (1, 4)
    assert (round(rrfc["value"], 2), round(rrfc["p"], 4)) == (8.70, 0.0420)


def test_vandyke_noninferiority_and_json(vandyke):
    result = or_mrmc(vandyke, reference="0", test="1", margin=0.05)
    ni = result.analyses["RRRC"]["noninferiority"]
    # 1 − 0 = +0.0438 with CI (−0.00036, 0.08796): lower limit above −0.05, so non-inferior
    assert ni["comparison"] == "1 − 0" and round(ni["lower"], 5) == -0.00036 and ni["non_inferior"]
    assert ni["p_one_sided"] < 0.025
    text = json.dumps(result.to_dict(), allow_nan=False)
    assert "0.8970370" in text
    assert "Hillis" in result.format_text()


def test_placement_value_jackknife_equals_recomputing_the_auc():
    rng = np.random.default_rng(3)
    truth = rng.random(37) < 0.4
    ratings = rng.integers(1, 6, size=(2, 3, 37)).astype(float) + truth  # ties on purpose
    fast = jackknife_auc(ratings, truth)
    for k in range(37):
        keep = np.arange(37) != k
        np.testing.assert_allclose(fast[..., k], empirical_auc(ratings[..., keep], truth[keep]), atol=1e-12)
    x, y = ratings[0, 0, truth], ratings[0, 0, ~truth]
    pairwise = ((x[:, None] > y[None, :]) + 0.5 * (x[:, None] == y[None, :])).mean()
    assert empirical_auc(ratings, truth)[0, 0] == pytest.approx(pairwise)


def test_delong_covariance_equals_its_definition():
    rng = np.random.default_rng(4)
    truth = np.arange(30) % 3 == 0
    ratings = rng.normal(size=(2, 30)) + truth
    ratings[1] = np.round(ratings[1])  # ties
    x, y = ratings[:, truth], ratings[:, ~truth]
    psi = (x[:, :, None] > y[:, None, :]) + 0.5 * (x[:, :, None] == y[:, None, :])  # (2, n1, n0)
    v10, v01 = psi.mean(axis=2), psi.mean(axis=1)
    expected = np.cov(v10) / truth.sum() + np.cov(v01) / (~truth).sum()
    np.testing.assert_allclose(delong_covariance(ratings, truth), expected, atol=1e-15)


def test_delong_option_gives_a_close_analysis(vandyke, vandyke_result):
    delong = or_mrmc(vandyke, covariance="delong")
    assert delong.covariance_method == "delong"
    assert delong.mean_fom == vandyke_result.mean_fom
    assert delong.components.var_error == pytest.approx(vandyke_result.components.var_error, rel=0.05)
    assert delong.analyses["RRRC"]["test"]["p"] == pytest.approx(0.0517, abs=0.005)


def test_sensitivity_and_specificity_use_the_same_machinery():
    rng = np.random.default_rng(5)
    truth = np.arange(60) % 2 == 0
    calls = ((rng.normal(size=(2, 4, 60)) + 1.5 * truth) > 0.7).astype(float)
    rows = [{"reader": f"R{r}", "modality": m, "case": c, "truth": int(truth[c]), "rating": calls[t, r, c]}
            for t, m in enumerate(("real", "synthetic")) for r in range(4) for c in range(60)]
    result = binary_mrmc(cross_ratings(pd.DataFrame(rows)))
    sensitivity, specificity = result["sensitivity"], result["specificity"]
    np.testing.assert_allclose(sensitivity.fom, calls[..., truth].mean(axis=-1))
    np.testing.assert_allclose(specificity.fom, 1 - calls[..., ~truth].mean(axis=-1))
    p = sensitivity.fom[0, 0]
    # the jackknife variance of a proportion over n1 cases is p(1 − p)/(n1 − 1)
    assert sensitivity.components.var_per_modality[0] == pytest.approx(
        np.mean(sensitivity.fom[0] * (1 - sensitivity.fom[0]) / 29))
    assert 0 < p < 1
    assert sensitivity.test == "synthetic" and sensitivity.reference == "real"
    assert sensitivity.analyses["RRRC"]["noninferiority"]["comparison"] == "synthetic − real"


def _frame(ratings, truth, modalities=("real", "synthetic")):
    return pd.DataFrame([{"reader": f"R{r}", "modality": m, "case": f"c{k}", "truth": int(truth[k]),
                          "rating": ratings[t, r, k]}
                         for t, m in enumerate(modalities) for r in range(ratings.shape[1])
                         for k in range(ratings.shape[2])])


def test_one_reader_gives_fixed_reader_analysis_and_says_why_not_the_others():
    rng = np.random.default_rng(6)
    truth = np.arange(40) % 2 == 0
    result = or_mrmc(_frame(rng.normal(size=(2, 1, 40)) + truth, truth))
    assert result.analyses["RRRC"] == {"estimable": False, "reason": result.analyses["RRRC"]["reason"]}
    assert "2 readers" in result.analyses["RRRC"]["reason"]
    assert result.analyses["FRRC"]["test"]["p"] is not None
    assert any("one reader" in note.lower() for note in result.notes)
    text = json.dumps(result.to_dict(), allow_nan=False)
    assert "NaN" not in text and "nan" not in result.format_text().lower()


def test_degenerate_ratings_are_refused_clearly():
    truth = np.arange(20) % 2 == 0
    ratings = np.random.default_rng(7).normal(size=(2, 3, 20)) + truth
    with pytest.raises(AnalysisError, match="abnormal and .* normal"):
        or_mrmc(_frame(ratings, np.ones(20, bool)))
    with pytest.raises(AnalysisError, match="every rating is the same"):
        or_mrmc(_frame(np.full((2, 3, 20), 3.0), truth))
    table = _frame(ratings, truth)
    with pytest.raises(AnalysisError, match="not rated by every reader"):
        or_mrmc(table.drop(index=5))
    dropped = or_mrmc(table.drop(index=5), drop_incomplete=True)
    assert dropped.n_cases == 19 and any("left out" in n for n in dropped.notes)
    missing = table.copy()
    missing.loc[3, "rating"] = None
    with pytest.raises(AnalysisError, match="missing"):
        or_mrmc(missing)
    bad = table.astype({"rating": object})
    bad.loc[4, "rating"] = "high"
    with pytest.raises(AnalysisError, match="not a number"):
        or_mrmc(bad)
    with pytest.raises(AnalysisError, match="duplicate"):
        or_mrmc(pd.concat([table, table.iloc[:1]]))


def test_constant_ratings_of_one_reader_are_noted_and_results_stay_finite():
    rng = np.random.default_rng(8)
    truth = np.arange(30) % 2 == 0
    ratings = rng.normal(size=(2, 3, 30)) + truth
    ratings[1, 2] = 1.0
    result = or_mrmc(_frame(ratings, truth))
    assert any("Constant ratings" in n for n in result.notes)
    assert result.fom[1, 2] == 0.5
    json.dumps(result.to_dict(), allow_nan=False)


def test_identical_modalities_report_no_variability_instead_of_nan():
    truth = np.arange(30) % 2 == 0
    ratings = np.random.default_rng(9).normal(size=(1, 3, 30)) + truth
    result = or_mrmc_arrays(np.concatenate([ratings, ratings]), truth, ["real", "synthetic"])
    for name in ("RRRC", "FRRC", "RRFC"):
        assert "no variability" in result.analyses[name]["test"]["reason"]
    json.dumps(result.to_dict(), allow_nan=False)


def test_column_names_can_be_mapped(vandyke):
    renamed = vandyke.rename(columns={"reader": "Reader", "treatment": "Mod", "case": "Patient",
                                      "truth": "Disease", "rating": "Score"})
    with pytest.raises(AnalysisError, match="missing column"):
        or_mrmc(renamed)
    result = or_mrmc(renamed, columns={"reader": "Reader", "modality": "Mod", "case": "Patient",
                                       "truth": "Disease", "rating": "Score"})
    assert round(result.analyses["RRRC"]["test"]["p"], 4) == 0.0517


def test_small_roe_metz_simulation_rejects_near_the_nominal_rate():
    # 200 SYNTHETIC null studies (the full 2,000-study calibration is in Testing/bench/bench_analysis.py)
    rates = null_rejection_rate(n_studies=200, n_readers=4, n_normal=30, n_abnormal=30, seed=11)
    assert 0.005 <= rates["RRRC"] <= 0.12
    assert 0.75 < rates["mean_auc"] < 0.95


def test_sizing_reaches_eighty_percent_power(vandyke_result):
    row = cases_for_power(vandyke_result, n_readers=10, margin=0.05)
    n = row["n_cases"]
    assert noninferiority_power(vandyke_result, 10, n) >= 0.8 > noninferiority_power(vandyke_result, 10, n - 1)
    table = {r["n_readers"]: r for r in sizing_table(vandyke_result)}
    assert table[20]["n_cases"] < table[10]["n_cases"] < table[5]["n_cases"]
    assert table[3]["n_cases"] is None and "add readers" in table[3]["reason"]


def test_cli_mrmc_prints_iowa_numbers_and_json(vandyke, tmp_path, capsys):
    path = shared_path("mrmc/vandyke1993.csv")
    assert main(["study", "mrmc", str(path)]) == 0
    out = capsys.readouterr().out
    assert "F(1, 15.26) = 4.4563, p = 0.0517" in out and "chi-square(1) = 5.4760, p = 0.0193" in out
    assert main(["study", "mrmc", str(path), "--sizing", "--reference", "0", "--test", "1"]) == 0
    out = capsys.readouterr().out
    assert "NON-INFERIOR" in out and "10 readers: 119 cases" in out
    assert main(["study", "mrmc", str(path), "--json", "--covariance", "delong"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["covariance_method"] == "delong" and data["analyses"]["RRFC"]["test"]["df_den"] == 4
    renamed = tmp_path / "renamed.csv"
    vandyke.rename(columns={"reader": "Doc"}).to_csv(renamed, index=False)
    assert main(["study", "mrmc", str(renamed)]) == 2
    assert "missing column(s) reader" in capsys.readouterr().err
    assert main(["study", "mrmc", str(renamed), "--map", "reader=Doc"]) == 0
    capsys.readouterr()
    binary = tmp_path / "binary.csv"
    vandyke.assign(rating=(vandyke["rating"] >= 4).astype(int)).to_csv(binary, index=False)
    assert main(["study", "mrmc", str(binary), "--binary"]) == 0
    out = capsys.readouterr().out
    assert "analysis of sensitivity" in out and "analysis of specificity" in out
    assert main(["study", "mrmc", str(tmp_path / "absent.csv")]) == 2
