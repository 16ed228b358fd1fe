"""``python -m NetZeroAICT study mrmc|analyze|report``: the analysis commands of the ``study`` group.

:func:`register_study_commands` adds them to the ``study`` sub-command group (whoever creates the group calls
it); commands already present are left alone, so calling it twice is harmless. Heavy imports (pandas,
scipy, matplotlib) happen inside the command functions.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ...errors import NetZeroAICTError

ANALYSIS_COMMANDS = ("mrmc", "analyze", "report")


def register_study_commands(study_subparsers) -> None:
    """Add ``mrmc``, ``analyze`` and ``report`` to the ``study`` group's sub-parsers."""
    existing = set(study_subparsers.choices)
    if "mrmc" not in existing:
        mrmc = study_subparsers.add_parser(
            "mrmc", help="Obuchowski–Rockette MRMC ROC analysis of a long-format ratings table",
            description="OR-MRMC analysis (empirical AUC, jackknife or DeLong covariance, Hillis 2007 ddf): "
                        "random readers/random cases, fixed readers, fixed cases, and non-inferiority. The table "
                        "has columns reader, modality (or treatment), case, truth (1 = abnormal), rating.")
        mrmc.add_argument("ratings", help="CSV ratings table (one row per reader × modality × case)")
        mrmc.add_argument("--map", action="append", default=[], metavar="STANDARD=YOURS",
                          help="column name mapping, e.g. --map reader=ReaderID --map rating=Score (repeatable)")
        mrmc.add_argument("--binary", action="store_true",
                          help="ratings are 0/1 calls: analyse sensitivity and specificity instead of AUC")
        mrmc.add_argument("--drop-incomplete", action="store_true",
                          help="leave out cases that some reader did not rate in every modality")
        _common_options(mrmc)
        mrmc.add_argument("--reference", help="reference modality (default: real, else the last level)")
        mrmc.add_argument("--test", help="modality tested for non-inferiority (default: the other one)")
        mrmc.add_argument("--sizing", action="store_true",
                          help="also print the cases needed for 80%% non-inferiority power, using these data "
                               "as the pilot")
        mrmc.add_argument("--json", action="store_true", help="print the result as JSON")
        mrmc.set_defaults(func=_mrmc)
    if "analyze" not in existing:
        analyze = study_subparsers.add_parser(
            "analyze", help="all statistics of a study from its tidy answer export",
            description="MRMC ROC with non-inferiority, sensitivity/specificity, visual Turing test, quality, "
                        "agreement, Bland–Altman and study sizing from the tidy answer export (CSV).")
        _answers_options(analyze)
        analyze.add_argument("--out", help="write the results as JSON here")
        analyze.add_argument("--json", action="store_true", help="print the results as JSON")
        analyze.set_defaults(func=_analyze)
    if "report" not in existing:
        report = study_subparsers.add_parser(
            "report", help="HTML report (plots embedded) + statistics JSON/CSV",
            description="Write report.html (self-contained), statistics.json, statistics.csv and figures/ from "
                        "the tidy answer export (CSV) or from the JSON that `study analyze --out` wrote.")
        _answers_options(report)
        report.add_argument("--out", required=True, help="output folder")
        report.set_defaults(func=_report)


def _common_options(parser) -> None:
    parser.add_argument("--margin", type=float, default=0.05, help="non-inferiority margin (default 0.05)")
    parser.add_argument("--alpha", type=float, default=0.05, help="two-sided CI level alpha (default 0.05)")
    parser.add_argument("--covariance", choices=("jackknife", "delong"), default="jackknife",
                        help="AUC covariance estimator (default jackknife, as the Iowa program)")


def _answers_options(parser) -> None:
    parser.add_argument("answers", help="tidy answer export (CSV), or for `report` a results JSON")
    parser.add_argument("--protocol", help="study protocol (YAML/JSON): question texts, scales, case truth")
    parser.add_argument("--quality-threshold", type=float, default=3,
                        help="Likert rating from which an image counts as diagnostic (default 3)")
    _common_options(parser)


def _mapping(items: list[str]) -> dict[str, str]:
    mapping = {}
    for item in items:
        standard, sep, yours = item.partition("=")
        if not sep or not standard.strip() or not yours.strip():
            raise NetZeroAICTError(f"bad column mapping {item!r}", where="--map",
                                   hint="write STANDARD=YOURS, e.g. --map reader=ReaderID")
        mapping[standard.strip()] = yours.strip()
    return mapping


def _mrmc(args) -> int:
    from .common import to_jsonable
    from .mrmc import binary_mrmc, or_mrmc
    from .ratings import cross_ratings, read_ratings_table

    table = read_ratings_table(args.ratings, _mapping(args.map))
    if args.binary:
        crossed = cross_ratings(table, drop_incomplete=args.drop_incomplete)
        results = binary_mrmc(crossed, margin=args.margin, alpha=args.alpha, reference=args.reference,
                              test=args.test)
        if args.json:
            print(json.dumps(to_jsonable({k: (v.to_dict() if not isinstance(v, str) else {"estimable": False,
                                                                                            "reason": v})
                                          for k, v in results.items()}), indent=1))
        else:
            for name, value in results.items():
                print(value.format_text() if not isinstance(value, str) else f"{name}: not estimable — {value}")
                print()
        return 0
    result = or_mrmc(table, covariance=args.covariance, margin=args.margin, alpha=args.alpha,
                     reference=args.reference, test=args.test, drop_incomplete=args.drop_incomplete)
    sizing = None
    if args.sizing:
        from .sizing import sizing_table

        sizing = sizing_table(result, margin=args.margin, alpha=args.alpha / 2)
    if args.json:
        data = result.to_dict()
        if sizing is not None:
            data["sizing"] = to_jsonable(sizing)
        print(json.dumps(data, indent=1))
        return 0
    print(result.format_text())
    if sizing is not None:
        print(f"\nCases for 80% power to show non-inferiority of {result.test} − {result.reference} at margin "
              f"{args.margin:g} (RRRC, one-sided level {args.alpha / 2:g}, true difference 0, this study as pilot):")
        for row in sizing:
            print(f"  {row['n_readers']:>3} readers: " + (f"{row['n_cases']} cases" if row["n_cases"] is not None
                                                          else row["reason"]))
    return 0


def _load(args) -> dict:
    from .analyze import analyze_answers
    from .answers import read_answers

    path = Path(args.answers)
    if path.suffix.lower() == ".json":
        try:
            results = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise NetZeroAICTError(f"cannot read the results JSON ({error})", where=str(path)) from error
        if not isinstance(results, dict) or "statistics" not in results:
            raise NetZeroAICTError("not a results file of `study analyze`", where=str(path),
                                   hint="give the tidy answer export (CSV) or `study analyze --out` JSON")
        return results
    protocol = None
    if args.protocol:
        import yaml

        try:
            protocol = yaml.safe_load(Path(args.protocol).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as error:
            raise NetZeroAICTError(f"cannot read the protocol ({error})", where=args.protocol) from error
    return analyze_answers(read_answers(path), protocol, margin=args.margin, alpha=args.alpha,
                           covariance=args.covariance, quality_threshold=args.quality_threshold)


def _analyze(args) -> int:
    from .summary import summary_lines

    results = _load(args)
    text = json.dumps(results, indent=1, ensure_ascii=False, allow_nan=False)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text, encoding="utf-8")
    if args.json:
        print(text)
    else:
        print("\n".join(summary_lines(results)))
        if args.out:
            print(f"results: {args.out}")
    return 0


def _report(args) -> int:
    from .report import write_report

    path = write_report(_load(args), args.out)
    print(f"report: {path}", file=sys.stdout)
    return 0
