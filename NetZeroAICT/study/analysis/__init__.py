"""Reader-study analysis: MRMC ROC (Obuchowski–Rockette, Hillis ddf) with non-inferiority, sensitivity and
specificity, visual Turing test, Likert quality, agreement, Bland–Altman, study sizing and the HTML report.

    from NetZeroAICT.study.analysis import or_mrmc, analyze_answers, write_report
    result = or_mrmc(ratings_df)                 # long format: reader, modality, case, truth, rating
    results = analyze_answers(tidy_df, protocol) # the study's tidy answer export
    write_report(results, "report/")             # report.html + statistics.json/.csv + figures/
"""

from .analyze import analyze_answers
from .common import AnalysisError
from .mrmc import binary_mrmc, or_mrmc, or_mrmc_arrays
from .obuchowski_rockette import ORResult, obuchowski_rockette
from .report import write_report
from .sizing import cases_for_power, noninferiority_power

__all__ = ["AnalysisError", "ORResult", "analyze_answers", "binary_mrmc", "cases_for_power", "noninferiority_power",
           "obuchowski_rockette", "or_mrmc", "or_mrmc_arrays", "write_report"]
