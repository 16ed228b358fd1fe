"""What the study lead does in the ReaderStudy module, as plain functions over the study core.

No Qt and no Slicer: create a protocol from a CSV or a folder of cases, validate it, make the design and the
blinded package (and audit it), follow progress per reader across local or merged databases, export the tidy
answers and run the analysis into an HTML report. Each step is the study core's own function
(:mod:`NetZeroAICT.study`, :mod:`NetZeroAICT.study.analysis`); this module only chains them and keeps the
file layout of a study folder in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from NetZeroAICT.study import (audit_package, build_package, export_answers, init_study, load_protocol,
                               make_design, merge_stores, validate_protocol)
from NetZeroAICT.study.package import PackageKey
from NetZeroAICT.study.protocol import parse_protocol_text


@dataclass
class StudyFolder:
    """Where the lead's files of one study live (all beside the protocol unless given).

    ``key`` and ``lead.sqlite`` stay with the lead; ``package/`` is what readers get.
    """

    protocol_path: Path
    package_dir: Path | None = None
    key_path: Path | None = None
    lead_store_path: Path | None = None
    results_dir: Path | None = None

    def __post_init__(self):
        self.protocol_path = Path(self.protocol_path)
        base = self.protocol_path.parent
        self.package_dir = Path(self.package_dir or base / "package")
        self.key_path = Path(self.key_path or base / "lead" / "key.json")
        self.lead_store_path = Path(self.lead_store_path or base / "lead" / "lead.sqlite")
        self.results_dir = Path(self.results_dir or base / "results")
        self.design_path = self.key_path.parent / "design.json"


def create_protocol(cases_source, protocol_path, *, study_id: str, indication: str, readers: list[str],
                    synthesize: Callable | None = None, **options):
    """Write a validated protocol for the cases in a CSV or folder (missing synthetic CTAs are synthesised)."""
    return init_study(cases_source, protocol_path, study_id=study_id, indication=indication, readers=readers,
                      synthesize=synthesize, **options)


def protocol_problems(protocol_path) -> list[str]:
    """Every problem of a protocol file (syntax, schema, rules, missing images); [] when it is valid."""
    path = Path(protocol_path)
    if not path.is_file():
        return [f"{path}: no such protocol file"]
    from NetZeroAICT.study import ProtocolError

    try:
        data = parse_protocol_text(path.read_text(encoding="utf-8"), str(path))
    except ProtocolError as error:
        return error.problems
    return validate_protocol(data, source=str(path), base_dir=path.parent)


def build_study_package(folder: StudyFolder, seed: int | None = None, progress=None) -> PackageKey:
    """Design the study (seeded), write the blinded package for readers and the key for the lead."""
    protocol = load_protocol(folder.protocol_path)
    design = make_design(protocol, seed)
    folder.key_path.parent.mkdir(parents=True, exist_ok=True)
    design.save(folder.design_path)
    return build_package(protocol, design, folder.package_dir, folder.key_path, progress=progress)


def audit(folder: StudyFolder) -> list[str]:
    """Every blinding leak the study core's audit finds in the package (with key and protocol); [] if none."""
    return [str(leak) for leak in audit_package(folder.package_dir, key=folder.key_path,
                                                protocol=load_protocol(folder.protocol_path))]


def gather(folder: StudyFolder, reader_stores: list) -> dict:
    """Merge reader databases (SQLite paths or URLs) into the lead's store; returns rows added per source."""
    folder.lead_store_path.parent.mkdir(parents=True, exist_ok=True)
    return merge_stores(folder.lead_store_path, [str(s) for s in reader_stores])


def progress_rows(store, study_id: str) -> list[dict]:
    """Rows for the lead's progress table: reader_id, session_id, submitted, total, last_answer_at."""
    last = {}
    for answer in store.answers(study_id):
        key = (answer["reader_id"], answer["session_id"])
        last[key] = max(last.get(key, ""), answer["answered_at"] or "")
    return [{"reader_id": row["reader_id"], "session_id": row["session_id"], "submitted": row["submitted"],
             "total": row["planned"], "last_answer_at": last.get((row["reader_id"], row["session_id"])) or None}
            for row in store.progress(study_id)]


def export(folder: StudyFolder, store) -> Path:
    """The tidy answer table (unblinded with the key) as ``results/answers.csv``."""
    folder.results_dir.mkdir(parents=True, exist_ok=True)
    return export_answers(store, load_protocol(folder.protocol_path), PackageKey.load(folder.key_path),
                          folder.results_dir / "answers.csv")


def analyze(folder: StudyFolder, store, margin: float = 0.05, n_boot: int = 2000) -> tuple[Path, dict]:
    """Export, run every analysis of the study and write the HTML report; returns (report path, results)."""
    from NetZeroAICT.study.analysis import analyze_answers, write_report
    from NetZeroAICT.study.analysis.answers import read_answers

    protocol = load_protocol(folder.protocol_path)
    tidy = read_answers(export(folder, store))  # the analysis reads exactly the file the lead keeps
    results = analyze_answers(tidy, protocol.data, margin=margin, n_boot=n_boot)
    return write_report(results, folder.results_dir / "report"), results
