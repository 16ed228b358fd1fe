"""Reader studies that validate synthetic CT angiograms: protocol, design, blinded packages, results store.

- :mod:`.protocol` — load and validate a study protocol (YAML/JSON), clear errors with the field path.
- :mod:`.design` — counterbalanced crossover with washout and a Turing session, from a recorded seed.
- :mod:`.package` / :mod:`.audit` — blinded reader packages under random codes, and the leak audit.
- :mod:`.store` — the results store (SQLite or PostgreSQL through SQLAlchemy Core); :mod:`.merge`, :mod:`.export`.
- :mod:`.cases` — build a protocol from a CSV or a folder of cases (``study init``).

Heavy modules (SQLAlchemy, SimpleITK) load on first use of the names that need them.
"""

from __future__ import annotations

from .answers import answer_problem, check_answer
from .design import Design, Reading, balance_report, make_design
from .protocol import Protocol, ProtocolError, load_protocol, save_protocol, validate_protocol

_LAZY = {
    "ResultsStore": ".store", "StoreError": ".store",
    "merge_stores": ".merge",
    "export_answers": ".export", "tidy_answers": ".export", "TIDY_COLUMNS": ".export",
    "build_package": ".package", "PackageKey": ".package", "enrol_reader": ".package",
    "audit_package": ".audit", "Leak": ".audit",
    "init_study": ".cases",
}

__all__ = ["answer_problem", "check_answer", "Design", "Reading", "balance_report", "make_design", "Protocol",
           "ProtocolError", "load_protocol", "save_protocol", "validate_protocol", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
