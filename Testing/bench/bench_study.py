"""Reader-study results store: answer commit time.

SQLite in WAL mode with synchronous FULL; also PostgreSQL where NETZEROAICT_TEST_POSTGRES_URL names a server.
"""

import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from NetZeroAICT.study.store import ResultsStore


def _reader_protocol(study_id: str) -> dict:
    return {
        "study_id": study_id, "indication": "aorta", "readers": [{"id": "r0"}],
        "questions": [{"id": "confidence", "type": "likert", "role": "confidence", "required": True,
                       "text": "Pathology?", "anchors": {"1": "absent", "5": "present"}},
                      {"id": "diagnosis", "type": "bool", "role": "diagnosis", "required": True, "text": "Present?"}],
        "sessions": [{"id": "d1", "kind": "diagnostic", "washout_days": 0},
                     {"id": "d2", "kind": "diagnostic", "washout_days": 28}],
        "answer_policy": "lock_on_submit",
    }


def commit_times_ms(store: ResultsStore, n_cases: int) -> list[float]:
    """Milliseconds per committed answer (``save_answer`` returns once the answer is durable), over a
    reader's session of ``n_cases`` cases with two questions each, read and submitted one by one."""
    study_id = f"BENCH-{uuid.uuid4().hex[:8]}"
    codes = [f"C{i:04d}" for i in range(n_cases)]
    store.register_study(_reader_protocol(study_id))
    store.assign(study_id, "r0", "d1", codes)
    store.start_session(study_id, "r0", "d1")
    times = []
    for code in codes:
        store.start_reading(study_id, "r0", "d1", code)
        for question, value in (("confidence", 4), ("diagnosis", True)):
            start = time.perf_counter()
            store.save_answer(study_id, "r0", "d1", code, question, value)
            times.append(1000 * (time.perf_counter() - start))
        store.submit_reading(study_id, "r0", "d1", code)
    return times


def _row(what: str, times: list[float], goal: str | None = None) -> dict:
    row = {"what": f"{what}, median of {len(times)}",
           "value": f"{statistics.median(times):.1f} ms (p90 {sorted(times)[int(0.9 * len(times))]:.1f} ms)"}
    if goal:
        row["goal"] = goal
    return row


def run() -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp, ResultsStore(Path(tmp) / "bench.db") as store:
        rows = [_row("answer commit, SQLite (WAL, synchronous FULL)", commit_times_ms(store, 250), "≤ 20 ms")]
    url = os.environ.get("NETZEROAICT_TEST_POSTGRES_URL")
    if url:
        with ResultsStore(url) as store:
            rows.append(_row("answer commit, PostgreSQL (local server)", commit_times_ms(store, 100)))
    return rows
