"""Long-format reader-study ratings (one row per reader × modality × case) → fully crossed arrays.

Columns: ``reader, modality, case, truth, rating``. RJafroc's ``treatment`` is accepted for ``modality``;
other names can be mapped (``columns={"reader": "ReaderID", …}``). ``truth`` is 1/0, true/false or
abnormal/normal. The Obuchowski–Rockette analysis needs every reader to rate every case in every modality;
gaps are refused with the list of what is missing, or (``drop_incomplete=True``) the incomplete cases are
dropped and counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .common import AnalysisError

STANDARD_COLUMNS = ("reader", "modality", "case", "truth", "rating")
ALIASES = {"modality": ("treatment", "modalityid", "modality_id"), "reader": ("reader_id", "readerid"),
           "case": ("case_id", "caseid"), "truth": ("abnormal", "disease", "truth_abnormal"),
           "rating": ("score", "confidence", "value")}
_TRUE = {"1", "1.0", "true", "t", "yes", "y", "abnormal", "positive", "diseased"}
_FALSE = {"0", "0.0", "false", "f", "no", "n", "normal", "negative", "healthy"}


@dataclass
class CrossedRatings:
    """Ratings as arrays: ``ratings`` (T modalities, R readers, N cases) float, ``truth`` (N,) bool."""

    ratings: np.ndarray
    truth: np.ndarray
    modalities: list[str]
    readers: list[str]
    cases: list[str]
    notes: list[str] = field(default_factory=list)


def read_ratings_table(path: str | Path, columns: dict[str, str] | None = None) -> pd.DataFrame:
    """Read a CSV (or TSV) ratings table and rename its columns to the standard names."""
    path = Path(path)
    if not path.exists():
        raise AnalysisError("file not found", where=str(path), hint="give the path of a CSV ratings table")
    sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    try:
        table = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=True)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as error:
        raise AnalysisError(f"cannot read the table ({error})", where=str(path),
                            hint="save it as comma-separated text with a header row") from error
    return standardise_columns(table, columns, where=str(path))


def standardise_columns(table: pd.DataFrame, columns: dict[str, str] | None = None,
                        where: str = "ratings") -> pd.DataFrame:
    """Rename mapped/aliased columns to ``reader, modality, case, truth, rating``; refuse missing ones."""
    columns = dict(columns or {})
    lower = {str(c).strip().lower(): c for c in table.columns}
    rename = {}
    for standard in STANDARD_COLUMNS:
        if standard in columns:
            source = columns[standard]
            if source not in table.columns:
                raise AnalysisError(f"column {source!r} (mapped to {standard}) is not in the table", where=where,
                                    hint=f"the columns are: {', '.join(map(str, table.columns))}")
            rename[source] = standard
            continue
        for name in (standard, *ALIASES.get(standard, ())):
            if name in lower:
                rename[lower[name]] = standard
                break
    table = table.rename(columns=rename)
    missing = [c for c in STANDARD_COLUMNS if c not in table.columns]
    if missing:
        raise AnalysisError(f"missing column(s) {', '.join(missing)}", where=where,
                            hint="name them reader, modality (or treatment), case, truth, rating, or map your "
                                 "names with --map reader=YourName")
    return table


def parse_truth(values: pd.Series, where: str = "truth") -> np.ndarray:
    """Truth column → bool array (abnormal = True); refuse values that are neither."""
    text = values.astype(str).str.strip().str.lower()
    number = pd.to_numeric(text, errors="coerce")
    truth = text.isin(_TRUE) | (number == 1)
    bad = ~(truth | text.isin(_FALSE) | (number == 0))
    if bad.any():
        examples = ", ".join(sorted(set(values[bad].astype(str)))[:5])
        raise AnalysisError(f"truth values must be 1/0, true/false or abnormal/normal; found {examples}",
                            where=where, hint="give each case its ground truth (abnormal = 1)")
    return truth.to_numpy()


def cross_ratings(table: pd.DataFrame, columns: dict[str, str] | None = None, *,
                  drop_incomplete: bool = False, numeric_rating: bool = True) -> CrossedRatings:
    """Long table → :class:`CrossedRatings`, checking completeness, truth consistency and rating values."""
    table = standardise_columns(table, columns)
    table = table[list(STANDARD_COLUMNS)].copy()
    for key in ("reader", "modality", "case"):
        if table[key].isna().any():
            raise AnalysisError(f"{int(table[key].isna().sum())} row(s) have no {key}", where=key,
                                hint="every row needs reader, modality and case")
        table[key] = table[key].astype(str).str.strip()
    notes = []
    if numeric_rating:
        ratings = pd.to_numeric(table["rating"], errors="coerce")
        bad = ratings.isna() & table["rating"].notna() & (table["rating"].astype(str).str.strip() != "")
        if bad.any():
            row = table[bad].iloc[0]
            raise AnalysisError(f"rating {row['rating']!r} is not a number", where=(
                f"reader {row['reader']}, modality {row['modality']}, case {row['case']}"),
                hint="ratings must be numbers (higher = more likely abnormal)")
        table["rating"] = ratings
    missing_rating = table["rating"].isna()
    if missing_rating.any():
        if not drop_incomplete:
            row = table[missing_rating].iloc[0]
            raise AnalysisError(
                f"{int(missing_rating.sum())} rating(s) are missing (first: reader {row['reader']}, modality "
                f"{row['modality']}, case {row['case']})", where="rating",
                hint="complete them, or drop the incomplete cases (--drop-incomplete)")
        table = table[~missing_rating]
    duplicated = table.duplicated(["reader", "modality", "case"])
    if duplicated.any():
        row = table[duplicated].iloc[0]
        raise AnalysisError(f"{int(duplicated.sum())} duplicate rating(s) (first: reader {row['reader']}, "
                            f"modality {row['modality']}, case {row['case']})", where="ratings",
                            hint="keep one final rating per reader, modality and case")
    table["truth"] = parse_truth(table["truth"])
    per_case = table.groupby("case")["truth"].nunique()
    if (per_case > 1).any():
        case = per_case[per_case > 1].index[0]
        raise AnalysisError("the truth differs between rows of the same case", where=f"case {case}",
                            hint="each case has one ground truth")
    modalities = sorted(table["modality"].unique(), key=_natural)
    readers = sorted(table["reader"].unique(), key=_natural)
    cases = sorted(table["case"].unique(), key=_natural)
    wide = table.pivot(index="case", columns=["modality", "reader"], values="rating")
    wide = wide.reindex(index=cases, columns=pd.MultiIndex.from_product([modalities, readers]))
    incomplete = wide.isna().any(axis=1)
    if incomplete.any():
        first = wide.index[incomplete][0]
        gaps = [f"{m}/{r}" for (m, r), v in wide.loc[first].items() if pd.isna(v)]
        if not drop_incomplete:
            raise AnalysisError(
                f"{int(incomplete.sum())} case(s) are not rated by every reader in every modality (first: case "
                f"{first}, missing {', '.join(gaps[:4])})", where="ratings",
                hint="the OR analysis needs a fully crossed design: complete the ratings or drop the incomplete "
                     "cases (--drop-incomplete)")
        notes.append(f"{int(incomplete.sum())} case(s) without a rating from every reader in every modality "
                     f"were left out of the MRMC analysis.")
        wide = wide[~incomplete]
        cases = list(wide.index)
    if not cases:
        raise AnalysisError("no case is rated by every reader in every modality", where="ratings")
    truth = table.drop_duplicates("case").set_index("case")["truth"].reindex(cases).to_numpy(dtype=bool)
    values = wide.to_numpy(dtype=float).T.reshape(len(modalities), len(readers), len(cases))
    return CrossedRatings(values, truth, [str(m) for m in modalities], [str(r) for r in readers],
                          [str(c) for c in cases], notes)


def _natural(value) -> tuple:
    """Sort key: numbers numerically, then text."""
    try:
        return (0, float(value), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(value))
