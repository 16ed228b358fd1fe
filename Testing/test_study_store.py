"""The results store on SQLite and PostgreSQL (same tests, same code path): invariants, policies, washout,
resume, merge, and answers that survive SIGKILL and concurrent writers."""

from __future__ import annotations

import json
import random
import signal
import time
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from NetZeroAICT.errors import ValidationError
from NetZeroAICT.study.merge import merge_stores
from NetZeroAICT.study.store import ResultsStore, StoreError
from Testing import study_reader_process as child
from Testing.study_fixtures import make_store_url, reader_protocol, store_url  # noqa: F401 (fixture)


class Clock:
    """A settable clock for washout and reading-time tests."""

    def __init__(self):
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)

    def __call__(self):
        return self.now

    def advance(self, **delta):
        self.now += timedelta(**delta)


def _store(url, codes=("A", "B", "C"), policy="lock_on_submit", clock=None):
    store = ResultsStore(url, clock=clock) if clock else ResultsStore(url)
    store.register_study(reader_protocol(policy=policy))
    for session in ("d1", "d2", "t"):
        store.assign("S1", "r0", session, [f"{session}{c}" for c in codes])
    return store


def _answer_all(store, session, code):
    if session == "t":
        store.save_answer("S1", "r0", session, code, "turing", "real")
    else:
        store.save_answer("S1", "r0", session, code, "confidence", 4)
        store.save_answer("S1", "r0", session, code, "diagnosis", True)
    store.submit_reading("S1", "r0", session, code)


def test_sqlite_store_is_durable_by_configuration(tmp_path):
    store = ResultsStore(tmp_path / "s.db")
    with store.engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert c.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_one_answer_per_reader_case_session_question_and_append_only_revisions(store_url):
    store = _store(store_url, policy="editable")
    store.start_session("S1", "r0", "d1")
    assert store.save_answer("S1", "r0", "d1", "d1A", "confidence", 2) == 1
    assert store.save_answer("S1", "r0", "d1", "d1A", "confidence", 5) == 2
    rows = store.answers("S1")
    assert [(r["item_code"], r["question_id"], r["value"], r["revision"]) for r in rows] == [("d1A", "confidence", 5, 2)]
    assert sorted(json.loads(r["value"]) for r in store.revisions("S1")) == [2, 5]
    from NetZeroAICT.study import store_schema as T

    row = dict(study_id="S1", reader_id="r0", session_id="d1", item_code="d1A", question_id="confidence",
               value="1", revision=9, answered_at="x")
    with pytest.raises(sa.exc.IntegrityError):  # the schema itself refuses a second answer
        with store.engine.begin() as c:
            c.execute(T.answers.insert().values(**row))
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        with store.engine.begin() as c:
            c.execute(T.answer_revisions.update().values(value="1"))
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        with store.engine.begin() as c:
            c.execute(T.answer_revisions.delete())
    with pytest.raises(sa.exc.IntegrityError):  # an answer needs a planned reading (foreign key)
        with store.engine.begin() as c:
            c.execute(T.answers.insert().values(**{**row, "item_code": "nowhere"}))
    assert len(store.revisions("S1")) == 2


def test_lock_on_submit_and_required_questions(store_url):
    store = _store(store_url)
    store.start_session("S1", "r0", "d1")
    store.save_answer("S1", "r0", "d1", "d1A", "confidence", 3)
    with pytest.raises(StoreError, match="diagnosis"):
        store.submit_reading("S1", "r0", "d1", "d1A")
    store.save_answer("S1", "r0", "d1", "d1A", "confidence", 4)  # revising before submit is allowed
    store.save_answer("S1", "r0", "d1", "d1A", "diagnosis", False)
    store.submit_reading("S1", "r0", "d1", "d1A")
    with pytest.raises(StoreError, match="locked"):
        store.save_answer("S1", "r0", "d1", "d1A", "confidence", 1)
    with pytest.raises(ValidationError, match="not asked in diagnostic"):
        store.save_answer("S1", "r0", "d1", "d1B", "turing", "real")
    with pytest.raises(StoreError, match="not on the reader's worklist"):
        store.save_answer("S1", "r0", "d1", "ZZZ", "confidence", 1)
    assert {(r["question_id"], r["value"]) for r in store.answers()} == {("confidence", 4), ("diagnosis", False)}


def test_editable_in_session_locks_when_the_session_ends(store_url):
    store = _store(store_url, policy="editable_in_session")
    store.start_session("S1", "r0", "d1")
    for code in ("d1A", "d1B", "d1C"):
        _answer_all(store, "d1", code)
    store.save_answer("S1", "r0", "d1", "d1A", "confidence", 1)  # submitted, session open: still editable
    store.end_session("S1", "r0", "d1")
    with pytest.raises(StoreError, match="session has ended"):
        store.save_answer("S1", "r0", "d1", "d1A", "confidence", 2)


def test_washout_resume_and_reading_time(store_url):
    clock = Clock()
    store = _store(store_url, clock=clock)
    with pytest.raises(StoreError, match="has not been started"):
        store.save_answer("S1", "r0", "d1", "d1A", "confidence", 3)
    store.start_session("S1", "r0", "d1")
    assert store.next_reading("S1", "r0", "d1") == "d1A"
    store.start_reading("S1", "r0", "d1", "d1A")
    clock.advance(seconds=40)
    _answer_all(store, "d1", "d1A")
    assert store.next_reading("S1", "r0", "d1") == "d1B"
    with pytest.raises(StoreError, match="not submitted"):
        store.end_session("S1", "r0", "d1")
    for code in ("d1B", "d1C"):
        _answer_all(store, "d1", code)
    assert store.next_reading("S1", "r0", "d1") is None
    with pytest.raises(StoreError, match="has not ended"):
        store.start_session("S1", "r0", "d2")
    store.end_session("S1", "r0", "d1")
    clock.advance(days=27, hours=23)
    with pytest.raises(StoreError, match="washout of 28 days"):
        store.start_session("S1", "r0", "d2")
    clock.advance(hours=1)
    store.start_session("S1", "r0", "d2")
    durations = {r["item_code"]: r["duration_s"] for r in store.answers()}
    assert durations["d1A"] == pytest.approx(40.0)
    progress = {p["session_id"]: p for p in store.progress("S1")}
    assert (progress["d1"]["submitted"], progress["d1"]["planned"]) == (3, 3)
    assert progress["d1"]["ended_at"] and progress["d2"]["started_at"] and not progress["d2"]["ended_at"]


def test_register_and_assign_are_idempotent_and_refuse_changes(store_url):
    store = _store(store_url)
    _store(store_url)  # again: nothing changes
    changed = reader_protocol()
    changed["questions"][0]["text"] = "something else"
    with pytest.raises(StoreError, match="different protocol"):
        store.register_study(changed)
    with pytest.raises(StoreError, match="different worklist"):
        store.assign("S1", "r0", "d1", ["d1C", "d1B", "d1A"])


def test_merge_is_idempotent_and_keeps_the_latest_revision(store_url, tmp_path):
    site_a = _store(store_url, policy="editable")
    site_b = _store(f"sqlite:///{tmp_path / 'site_b.db'}", policy="editable")
    site_b.register_study(reader_protocol(policy="editable"))
    site_b.assign("S1", "r1", "d1", ["d1A", "d1B"])
    site_a.start_session("S1", "r0", "d1")
    _answer_all(site_a, "d1", "d1A")
    site_b.start_session("S1", "r1", "d1")
    site_b.save_answer("S1", "r1", "d1", "d1A", "confidence", 1)
    site_b.save_answer("S1", "r1", "d1", "d1A", "confidence", 2)
    site_b.save_answer("S1", "r1", "d1", "d1A", "diagnosis", True)
    site_b.submit_reading("S1", "r1", "d1", "d1A")
    central_url = f"sqlite:///{tmp_path / 'central.db'}"
    merge_stores(central_url, [store_url, site_b.url])
    again = merge_stores(central_url, [store_url, site_b.url])
    assert all(n == 0 for counts in again.values() for n in counts.values())
    central = ResultsStore(central_url)
    answers = {(r["reader_id"], r["question_id"]): (r["value"], r["revision"]) for r in central.answers()}
    assert answers == {("r0", "confidence"): (4, 1), ("r0", "diagnosis"): (True, 1),
                       ("r1", "confidence"): (2, 2), ("r1", "diagnosis"): (True, 1)}
    assert len(central.revisions()) == 5
    # a later revision at a site replaces the merged value; the merge stays idempotent
    site_b.save_answer("S1", "r1", "d1", "d1A", "confidence", 5)
    merge_stores(central_url, [site_b.url, site_b.url])
    assert {r["value"] for r in central.answers() if (r["reader_id"], r["question_id"]) == ("r1", "confidence")} == {5}
    # a store of a different study definition is refused as a whole
    other = ResultsStore(tmp_path / "other.db")
    other.register_study({**reader_protocol(), "answer_policy": "editable_in_session"})
    before = len(central.revisions())
    with pytest.raises(StoreError, match="differs"):
        merge_stores(central_url, [other.url])
    assert len(central.revisions()) == before


def test_crash_safety_sigkill_fifty_times(store_url):
    """A reader answering in a loop is killed with SIGKILL at random moments 50 times and restarted: every
    answer it reported committed is stored exactly once, and each restart resumes at the first unsubmitted
    case."""
    codes = [f"K{i:03d}" for i in range(120)]
    store = _store(store_url, codes=[c[1:] for c in codes])
    codes = [f"d1{c[1:]}" for c in codes]
    rng = random.Random(1234)
    reported_answers, reported_submits, resumes = [], [], 0
    for kill in range(51):
        expected_resume = store.next_reading("S1", "r0", "d1")  # what the database says, before the restart
        process, fd = child.start(child.answer_loop, store_url, "S1", "r0", "d1")
        lines = []
        if kill < 50:
            if rng.random() < 0.8:  # mostly while answering; sometimes while still starting up
                lines = child.wait_for_line(fd, "resume", 30)
            time.sleep(rng.uniform(0.0, 0.05))
            process.kill()  # SIGKILL
        process.join(60)
        lines += child.read_reports(fd)
        assert process.exitcode in (0, -signal.SIGKILL), f"child failed: {lines[-3:]}"
        assert not [line for line in lines if line.startswith("error")], lines[-3:]
        for line in lines:
            word, *rest = line.split()
            if word == "resume":
                resumes += 1
                assert rest[0] == str(expected_resume), f"restart {kill} resumed at {rest[0]}, not {expected_resume}"
            elif word == "answer":
                reported_answers.append(tuple(rest))
            elif word == "submit":
                reported_submits.append(rest[0])
        if kill == 50:
            assert lines[-1] == "done"
    assert resumes >= 30, "too few restarts got far enough to resume; the test did not exercise recovery"
    rows = store.answers("S1")
    stored = [(r["item_code"], r["question_id"]) for r in rows]
    assert len(stored) == len(set(stored)) == 2 * len(codes)
    assert set(reported_answers) <= set(stored)
    assert all(r["submitted_at"] for r in rows)
    assert len(set(reported_submits)) == len(reported_submits)  # no case was read to the end twice
    assert store.next_reading("S1", "r0", "d1") is None


def test_concurrency_eight_processes_five_hundred_answers_each(store_url):
    """8 processes save 500 answers each into one store at the same time: 4,000 answers, none lost or doubled."""
    n_processes, n_answers = 8, 500
    store = ResultsStore(store_url)
    store.register_study(reader_protocol(n_readers=n_processes))
    for r in range(n_processes):
        store.assign("S1", f"r{r}", "d1", [f"c{i:03d}" for i in range(n_answers)])
    started = time.perf_counter()
    children = [child.start(child.burst, store_url, "S1", f"r{r}", "d1", [f"c{i:03d}" for i in range(n_answers)])
                for r in range(n_processes)]
    reports = []
    for process, fd in children:
        process.join(300)
        reports += child.read_reports(fd)
        assert process.exitcode == 0, reports[-3:]
    elapsed = time.perf_counter() - started
    assert sorted(reports) == sorted(f"done r{r}" for r in range(n_processes))
    keys = [(r["reader_id"], r["item_code"], r["question_id"]) for r in store.answers("S1")]
    assert len(keys) == len(set(keys)) == n_processes * n_answers
    assert len(store.revisions("S1")) == n_processes * n_answers
    print(f"{n_processes * n_answers} answers by {n_processes} processes in {elapsed:.1f} s")


def test_store_error_for_unreachable_database(tmp_path):
    with pytest.raises(StoreError, match="cannot open"):
        ResultsStore(f"sqlite:///{tmp_path / 'missing' / 'folder' / 's.db'}")


def test_postgres_variant_skips_clearly_without_a_server(monkeypatch, tmp_path):
    monkeypatch.delenv("NETZEROAICT_TEST_POSTGRES_URL", raising=False)
    with pytest.raises(pytest.skip.Exception, match="NETZEROAICT_TEST_POSTGRES_URL"):
        with make_store_url("postgresql", tmp_path):
            pass


def test_reading_commands_do_not_create_stores(tmp_path, capsys):
    from NetZeroAICT.cli import main

    assert main(["study", "progress", "--store", str(tmp_path / "typo.db")]) == 2
    assert "no such results store" in capsys.readouterr().err and not (tmp_path / "typo.db").exists()
    (tmp_path / "empty.db").touch()
    with pytest.raises(StoreError, match="not a results store"):
        ResultsStore(tmp_path / "empty.db", create=False)
