"""Shared pieces of the reader-study tests: small studies on disk, and stores on SQLite and PostgreSQL.

The PostgreSQL variants read the server URL from ``NETZEROAICT_TEST_POSTGRES_URL`` (``.ci/run`` starts one
with ``tools/postgres_for_tests.sh``) and skip with a message where it is unset; each test gets its own
fresh database, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import numpy as np
import pytest

POSTGRES_ENV = "NETZEROAICT_TEST_POSTGRES_URL"


def make_store_url(kind: str, tmp_path: Path):
    """Context manager yielding a fresh store URL of ``kind`` (sqlite|postgresql)."""
    import contextlib

    import sqlalchemy as sa

    @contextlib.contextmanager
    def manager():
        if kind == "sqlite":
            yield f"sqlite:///{tmp_path / 'store.db'}"
            return
        base = os.environ.get(POSTGRES_ENV)
        if not base:
            pytest.skip(f"PostgreSQL variant: set {POSTGRES_ENV} (tools/postgres_for_tests.sh starts a server; "
                        ".ci/run does this) to run the store tests against PostgreSQL too")
        name = "nz_" + uuid.uuid4().hex[:12]
        admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield sa.make_url(base).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as c:
                c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

    return manager()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """A fresh, empty results-store URL on SQLite and (where a server is given) on PostgreSQL."""
    with make_store_url(request.param, tmp_path) as url:
        yield url


def reader_protocol(n_readers: int = 2, policy: str = "lock_on_submit", washout_days: float = 28) -> dict:
    """A small reader-side protocol: two diagnostic sessions and a Turing session."""
    return {
        "study_id": "S1", "indication": "aorta", "readers": [{"id": f"r{i}"} for i in range(n_readers)],
        "questions": [
            {"id": "confidence", "type": "likert", "role": "confidence", "required": True, "text": "Pathology?",
             "anchors": {"1": "absent", "5": "present"}},
            {"id": "diagnosis", "type": "bool", "role": "diagnosis", "required": True, "text": "Pathology present?"},
            {"id": "diameter", "type": "measurement", "role": "diameter", "required": False, "text": "Diameter",
             "unit": "mm", "min": 0, "max": 150},
            {"id": "finding", "type": "multiple_choice", "required": False, "text": "Findings",
             "choices": ["aneurysm", "stenosis", "thrombus"]},
            {"id": "comment", "type": "text", "required": False, "text": "Comment"},
            {"id": "turing", "type": "single_choice", "role": "turing", "required": True, "text": "Real or synthetic?",
             "choices": ["real", "synthetic"]},
        ],
        "sessions": [{"id": "d1", "kind": "diagnostic", "washout_days": 0},
                     {"id": "d2", "kind": "diagnostic", "washout_days": washout_days},
                     {"id": "t", "kind": "turing", "washout_days": 0}],
        "hanging_protocol": {"layout": "side_by_side"}, "answer_policy": policy,
    }


def write_case_images(folder: Path, n_cases: int = 6, shape=(12, 16, 16), seed: int = 0) -> list[dict]:
    """Small paired CTAs written the way real and synthetic files differ in practice: the real one int32 HU
    with air padding at -2048, the synthetic one float32 on a coarser grid with a SYNTHETIC description.
    Returns protocol case entries (paths relative to ``folder``); every second case is abnormal."""
    from NetZeroAICT.volume import Volume
    from NetZeroAICT.volume_io import write_volume

    rng = np.random.default_rng(seed)
    cases = []
    for index in range(n_cases):
        case_id = f"case{index:03d}"
        body = rng.normal(40, 15, size=shape)
        body[:, :, :2] = -2048  # outside the scan field of view
        real = Volume(body.astype(np.int32), (0.8, 0.8, 1.5), (-10.0 * index, 5.0, 100.0))
        write_volume(real, folder / f"{case_id}_cta.nii.gz")
        synthetic = Volume(rng.normal(300, 5, size=(shape[0], shape[1] // 2, shape[2] // 2)).astype(np.float32),
                           (1.6, 1.6, 1.5), real.origin_lps)
        write_volume(synthetic, folder / f"{case_id}_synthetic.nii.gz",
                     description="SYNTHETIC digital contrast (aorta) test v1")
        cases.append({"id": case_id, "patient_id": f"PAT{index:04d}", "real_cta": f"{case_id}_cta.nii.gz",
                      "synthetic_cta": f"{case_id}_synthetic.nii.gz",
                      "truth": {"abnormal": index % 2 == 0, "diameter": 30.0 + index}, "training": index == 0})
    return cases


def study_protocol(cases: list[dict], n_readers: int = 4, policy: str = "lock_on_submit") -> dict:
    """A full protocol (lead side) for ``cases`` with the questions of :func:`reader_protocol`."""
    side = reader_protocol(n_readers, policy)
    return {"study_id": side["study_id"], "indication": "aorta", "seed": 7, "cases": cases,
            "readers": side["readers"], "questions": side["questions"], "sessions": side["sessions"],
            "hanging_protocol": side["hanging_protocol"], "answer_policy": policy}
