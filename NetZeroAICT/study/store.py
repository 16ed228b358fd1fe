"""The results store: every answer of every reader, durable, in SQLite or PostgreSQL through one code path.

``ResultsStore(url_or_path)`` opens (and creates) a store: a file path or ``sqlite:///…`` URL gives SQLite in
WAL mode with ``synchronous=FULL`` and foreign keys on (each committed answer survives a crash or power
loss); a ``postgresql+psycopg://…`` URL gives PostgreSQL for multi-site studies. Each call is one
transaction; a call that raises leaves the store unchanged.

A reader's day: :meth:`start_session` (refused before the washout after their previous session),
:meth:`next_reading` (the first planned item not yet submitted — where to resume after a crash),
:meth:`start_reading`, :meth:`save_answer` (validated, revisions kept, answer policy enforced),
:meth:`submit_reading` (all required questions answered), :meth:`end_session`.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

import sqlalchemy as sa

from ..errors import NetZeroAICTError, ValidationError
from . import store_schema as T
from .answers import check_answer
from .design import earliest_start

TURING_ROLES = ("turing", "turing_confidence")


class StoreError(NetZeroAICTError):
    """The store refused an operation (policy, washout, unknown reader/item, conflicting data)."""


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def store_url(url_or_path: str | Path) -> str:
    """A SQLAlchemy URL for a URL or a SQLite file path."""
    text = str(url_or_path)
    return text if "://" in text else f"sqlite:///{Path(text).resolve()}"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (see _sqlite_begin)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout = 60000")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = FULL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _sqlite_begin(connection) -> None:
    # writers take the write lock at the start: concurrent writers queue on busy_timeout instead of
    # failing when a read transaction tries to upgrade; readers (``_read``) take a plain snapshot
    reading = connection.get_execution_options().get("nz_read_only", False)
    connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")


def make_engine(url_or_path: str | Path) -> sa.Engine:
    """An engine with the durability settings of the store."""
    url = store_url(url_or_path)
    if url.startswith("sqlite"):
        engine = sa.create_engine(url)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin)
    else:
        engine = sa.create_engine(url, pool_pre_ping=True)
    return engine


class _WriteLock:
    """An exclusive inter-process lock (flock on ``<db>.writelock``) taken around SQLite write transactions.

    SQLite lets one writer in at a time and makes the others poll with growing sleeps (up to 100 ms);
    queueing in the kernel instead hands the database over at once. The kernel drops the lock of a killed
    process. PostgreSQL needs none (it is a no-op there)."""

    def __init__(self, url: str):
        database = sa.make_url(url).database if url.startswith("sqlite") else None
        self.path = f"{database}.writelock" if database and database != ":memory:" else None
        self.fd = None

    def __enter__(self):
        if self.path is None:
            return self
        import fcntl

        if self.fd is None:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        if self.fd is not None:
            import fcntl

            fcntl.flock(self.fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _retrying(function):
    """Run a transaction again (up to 20 times) when the database reports a transient conflict."""
    def wrapper(self, *args, **kwargs):
        for attempt in range(20):
            try:
                return function(self, *args, **kwargs)
            except sa.exc.OperationalError as error:
                text = str(error.orig).lower()
                if attempt == 19 or not any(s in text for s in ("locked", "busy", "deadlock", "serializ")):
                    raise
                time.sleep(0.01 * (attempt + 1))
    wrapper.__doc__, wrapper.__name__ = function.__doc__, function.__name__
    return wrapper


class ResultsStore:
    """Answers of one or more studies. ``clock`` (returns an aware datetime) is injectable for tests."""

    def __init__(self, url_or_path: str | Path, *, clock: Callable[[], datetime] = utc_now, create: bool = True):
        """Open the store at ``url_or_path``; ``create=False`` refuses to make a new one (for reading)."""
        self.url = store_url(url_or_path)
        if not create and self.url.startswith("sqlite") and not Path(sa.make_url(self.url).database or "").is_file():
            raise StoreError("no such results store", where=self.url, hint="check the path")
        self.engine = make_engine(self.url)
        self.clock = clock
        self._definitions: dict[str, dict] = {}
        self._started: set[tuple[str, str, str]] = set()
        self._write_lock = _WriteLock(self.url)
        try:
            if not create:
                with self._read() as connection:
                    if not T.schema_ready(connection):
                        raise StoreError("not a results store (its tables are missing)", where=self._safe_url(),
                                         hint="give a store that readers' answers were saved to")
            T.create_schema(self.engine)
        except sa.exc.SQLAlchemyError as error:
            reason = getattr(error, "orig", None) or error
            raise StoreError(f"cannot open the results store ({type(error).__name__}: {reason})", where=self._safe_url(),
                             hint="check the path or URL and that the database is reachable") from None

    @contextlib.contextmanager
    def _write(self):
        """A write transaction (on SQLite behind the inter-process write lock)."""
        with self._write_lock, self.engine.begin() as connection:
            yield connection

    def _read(self) -> sa.Connection:
        """A connection for reading only (no write lock on SQLite)."""
        return self.engine.connect().execution_options(nz_read_only=True)

    def _safe_url(self) -> str:
        return sa.make_url(self.url).render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()
        self._write_lock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ----- study definition ---------------------------------------------------------------------------
    @_retrying
    def register_study(self, reader_protocol: dict) -> None:
        """Record the reader-side protocol (sessions, questions); idempotent, refuses a different one."""
        study_id = reader_protocol["study_id"]
        text = json.dumps(reader_protocol, sort_keys=True)
        with self._write() as c:
            row = c.execute(sa.select(T.study.c.reader_protocol).where(T.study.c.study_id == study_id)).first()
            if row is not None:
                if row[0] != text:
                    raise StoreError("this store already holds a different protocol for the study", where=study_id,
                                     hint="use a new store, or the protocol the store was made with")
                return
            c.execute(T.study.insert().values(study_id=study_id, reader_protocol=text,
                                              schema_version=T.SCHEMA_VERSION))
            c.execute(T.sessions.insert(), [
                {"study_id": study_id, "session_id": s["id"], "kind": s["kind"],
                 "washout_days": float(s.get("washout_days", 0)), "ordinal": i}
                for i, s in enumerate(reader_protocol["sessions"])])
            c.execute(T.questions.insert(), [
                {"study_id": study_id, "question_id": q["id"], "definition": json.dumps(q, sort_keys=True)}
                for q in reader_protocol["questions"]])

    def reader_protocol(self, study_id: str) -> dict:
        with self._read() as c:
            row = c.execute(sa.select(T.study.c.reader_protocol).where(T.study.c.study_id == study_id)).first()
        if row is None:
            raise StoreError("no such study in this store", where=study_id, hint="register the study first")
        return json.loads(row[0])

    def study_ids(self) -> list[str]:
        with self._read() as c:
            return list(c.execute(sa.select(T.study.c.study_id).order_by(T.study.c.study_id)).scalars())

    @_retrying
    def assign(self, study_id: str, reader_id: str, session_id: str, item_codes: list[str]) -> None:
        """Plan the reader's readings in a session, in order (idempotent; refuses a different plan)."""
        with self._write() as c:
            existing = list(c.execute(sa.select(T.worklist.c.item_code).where(
                T.worklist.c.study_id == study_id, T.worklist.c.reader_id == reader_id,
                T.worklist.c.session_id == session_id).order_by(T.worklist.c.position)).scalars())
            if existing:
                if existing != list(item_codes):
                    raise StoreError("this reader already has a different worklist for the session",
                                     where=f"{study_id}/{reader_id}/{session_id}",
                                     hint="a worklist cannot change once assigned")
                return
            if not item_codes:
                return
            try:
                c.execute(T.worklist.insert(), [
                    {"study_id": study_id, "reader_id": reader_id, "session_id": session_id, "item_code": code,
                     "position": position} for position, code in enumerate(item_codes)])
            except sa.exc.IntegrityError:
                raise StoreError("unknown session or a code listed twice", where=f"{study_id}/{session_id}",
                                 hint="register the study and give each item once") from None

    # ----- sessions -----------------------------------------------------------------------------------
    def _definition(self, study_id: str) -> dict:
        """The study's answer policy, questions and sessions (cached: a registered study never changes)."""
        if study_id not in self._definitions:
            protocol = self.reader_protocol(study_id)
            self._definitions[study_id] = {
                "policy": protocol.get("answer_policy", "lock_on_submit"),
                "questions": {q["id"]: q for q in protocol["questions"]},
                "sessions": {s["id"]: SimpleNamespace(session_id=s["id"], kind=s["kind"], ordinal=i,
                                                      washout_days=float(s.get("washout_days", 0)))
                             for i, s in enumerate(protocol["sessions"])},
            }
        return self._definitions[study_id]

    def _session(self, c, study_id: str, session_id: str):
        session = self._definition(study_id)["sessions"].get(session_id)
        if session is None:
            raise StoreError("no such session", where=f"{study_id}/{session_id}", hint="check the session id")
        return session

    @_retrying
    def start_session(self, study_id: str, reader_id: str, session_id: str) -> datetime:
        """Start (or resume) a reader's session; returns its start time.

        Refused while the previous session (protocol order) has not ended, or before its washout is over."""
        now = self.clock()
        with self._write() as c:
            session = self._session(c, study_id, session_id)
            run = c.execute(sa.select(T.session_runs).where(
                T.session_runs.c.study_id == study_id, T.session_runs.c.reader_id == reader_id,
                T.session_runs.c.session_id == session_id)).first()
            if run is not None:
                return datetime.fromisoformat(run.started_at)
            if session.ordinal > 0:
                previous = c.execute(sa.select(T.sessions.c.session_id).where(
                    T.sessions.c.study_id == study_id, T.sessions.c.ordinal == session.ordinal - 1)).scalar_one()
                ended = c.execute(sa.select(T.session_runs.c.ended_at).where(
                    T.session_runs.c.study_id == study_id, T.session_runs.c.reader_id == reader_id,
                    T.session_runs.c.session_id == previous)).scalar()
                if ended is None:
                    raise StoreError(f"session {previous!r} has not ended", where=f"{reader_id}/{session_id}",
                                     hint="finish the previous session first")
                ready = earliest_start(datetime.fromisoformat(ended), session.washout_days)
                if now < ready:
                    raise StoreError(f"the washout of {session.washout_days:g} days is not over",
                                     where=f"{reader_id}/{session_id}",
                                     hint=f"this session can start from {iso(ready)}")
            c.execute(T.session_runs.insert().values(study_id=study_id, reader_id=reader_id,
                                                     session_id=session_id, started_at=iso(now)))
        return now

    @_retrying
    def end_session(self, study_id: str, reader_id: str, session_id: str) -> None:
        """End a session; refused while a planned reading is not submitted."""
        with self._write() as c:
            left = self._unsubmitted(c, study_id, reader_id, session_id)
            if left:
                raise StoreError(f"{len(left)} reading(s) not submitted", where=f"{reader_id}/{session_id}",
                                 hint="submit every reading before ending the session")
            done = c.execute(T.session_runs.update().where(
                T.session_runs.c.study_id == study_id, T.session_runs.c.reader_id == reader_id,
                T.session_runs.c.session_id == session_id, T.session_runs.c.ended_at.is_(None)
            ).values(ended_at=iso(self.clock())))
            if done.rowcount == 0 and not self._session_ended(c, study_id, reader_id, session_id):
                raise StoreError("the session was never started", where=f"{reader_id}/{session_id}")

    def _session_ended(self, c, study_id, reader_id, session_id) -> bool:
        return c.execute(sa.select(T.session_runs.c.ended_at).where(
            T.session_runs.c.study_id == study_id, T.session_runs.c.reader_id == reader_id,
            T.session_runs.c.session_id == session_id)).scalar() is not None

    def _unsubmitted(self, c, study_id, reader_id, session_id) -> list[str]:
        w, r = T.worklist, T.readings
        join = w.outerjoin(r, sa.and_(*[w.c[k] == r.c[k] for k in ("study_id", "reader_id", "session_id", "item_code")]))
        return list(c.execute(sa.select(w.c.item_code).select_from(join).where(
            w.c.study_id == study_id, w.c.reader_id == reader_id, w.c.session_id == session_id,
            r.c.submitted_at.is_(None)).order_by(w.c.position)).scalars())

    def next_reading(self, study_id: str, reader_id: str, session_id: str) -> str | None:
        """The first planned item the reader has not submitted (None when the session's work is done)."""
        with self._read() as c:
            left = self._unsubmitted(c, study_id, reader_id, session_id)
        return left[0] if left else None

    # ----- readings and answers -----------------------------------------------------------------------
    def _require_open_session(self, c, study_id, reader_id, session_id) -> None:
        if (study_id, reader_id, session_id) in self._started:
            return  # a started session stays started
        started = c.execute(sa.select(T.session_runs.c.started_at).where(
            T.session_runs.c.study_id == study_id, T.session_runs.c.reader_id == reader_id,
            T.session_runs.c.session_id == session_id)).first()
        if started is None:
            raise StoreError("the session has not been started", where=f"{reader_id}/{session_id}",
                             hint="start the session first")
        self._started.add((study_id, reader_id, session_id))

    @staticmethod
    def _is_reading(key: dict) -> list:
        return [T.readings.c[k] == v for k, v in key.items()]

    @staticmethod
    def _spent_s(reading, now: datetime) -> float:
        """Reading time since ``active_since`` (s), 0 when the reading is not being timed."""
        if reading.active_since is None:
            return 0.0
        return max(0.0, (now - datetime.fromisoformat(reading.active_since)).total_seconds())

    def _reading(self, c, key: dict, lock: bool = False):
        query = sa.select(T.readings).where(*self._is_reading(key))
        return c.execute(query.with_for_update() if lock else query).first()

    def _open_reading(self, c, key: dict, now: datetime):
        self._require_open_session(c, key["study_id"], key["reader_id"], key["session_id"])
        row = self._reading(c, key, lock=True)
        if row is None:
            values = dict(**key, started_at=iso(now), active_since=iso(now), duration_s=0.0, submitted_at=None)
            try:  # the foreign key to the worklist refuses unplanned items (the transaction is then dropped)
                c.execute(T.readings.insert().values(**values))
            except sa.exc.IntegrityError:
                raise StoreError("this item is not on the reader's worklist",
                                 where=f"{key['reader_id']}/{key['session_id']}/{key['item_code']}") from None
            row = SimpleNamespace(**values)
        return row

    @_retrying
    def start_reading(self, study_id: str, reader_id: str, session_id: str, item_code: str) -> None:
        """Open a reading (or reopen it after a restart: its reading time counts again from now)."""
        key = dict(study_id=study_id, reader_id=reader_id, session_id=session_id, item_code=item_code)
        now = self.clock()
        with self._write() as c:
            row = self._open_reading(c, key, now)
            if row.submitted_at is None:
                c.execute(T.readings.update().where(*self._is_reading(key)).values(active_since=iso(now)))

    def _question(self, study_id: str, question_id: str) -> dict:
        question = self._definition(study_id)["questions"].get(question_id) if isinstance(question_id, str) else None
        if question is None:
            raise ValidationError("no such question in the study", where=f"{study_id}/{question_id}")
        return question

    @_retrying
    def save_answer(self, study_id: str, reader_id: str, session_id: str, item_code: str,
                    question_id: str, value) -> int:
        """Save (or revise) one answer; returns its revision number (1 for the first value).

        The value is checked against the question; the answer policy decides whether a submitted reading
        (``lock_on_submit``) or an ended session (``editable_in_session``) may still change."""
        key = dict(study_id=study_id, reader_id=reader_id, session_id=session_id, item_code=item_code)
        now = self.clock()
        question = self._question(study_id, question_id)
        value = check_answer(question, value)  # checked before the transaction takes any lock
        session = self._session(None, study_id, session_id)
        if (question.get("role") in TURING_ROLES) != (session.kind == "turing"):
            raise ValidationError(f"question {question_id!r} is not asked in {session.kind} sessions",
                                  where=f"{reader_id}/{session_id}/{item_code}")
        policy = self._definition(study_id)["policy"]
        with self._write() as c:
            reading = self._open_reading(c, key, now)
            if reading.submitted_at is not None and policy == "lock_on_submit":
                raise StoreError("the reading is submitted and its answers are locked",
                                 where=f"{reader_id}/{session_id}/{item_code}", hint="answer policy lock_on_submit")
            if policy == "editable_in_session" and self._session_ended(c, study_id, reader_id, session_id):
                raise StoreError("the session has ended and its answers are locked",
                                 where=f"{reader_id}/{session_id}/{item_code}", hint="answer policy editable_in_session")
            where = [T.answers.c[k] == v for k, v in key.items()] + [T.answers.c.question_id == question_id]
            current = c.execute(sa.select(T.answers.c.revision).where(*where)).scalar()
            revision = (current or 0) + 1
            text = json.dumps(value)
            row = dict(**key, question_id=question_id, value=text, revision=revision, answered_at=iso(now))
            if current is None:
                c.execute(T.answers.insert().values(**row))
            else:
                c.execute(T.answers.update().where(*where).values(value=text, revision=revision, answered_at=iso(now)))
            c.execute(T.answer_revisions.insert().values(**key, question_id=question_id, revision=revision,
                                                         value=text, recorded_at=iso(now)))
            spent = self._spent_s(reading, now)
            if spent > 0:  # bank the reading time: a crash loses at most the time since the last answer
                c.execute(T.readings.update().where(*self._is_reading(key))
                          .values(duration_s=reading.duration_s + spent, active_since=iso(now)))
        return revision

    @_retrying
    def submit_reading(self, study_id: str, reader_id: str, session_id: str, item_code: str) -> None:
        """Finish a reading; refused while a required question of the session is unanswered."""
        key = dict(study_id=study_id, reader_id=reader_id, session_id=session_id, item_code=item_code)
        now = self.clock()
        with self._write() as c:
            reading = self._open_reading(c, key, now)
            if reading.submitted_at is not None:
                return
            kind = self._session(c, study_id, session_id).kind
            definitions = self._definition(study_id)["questions"].values()
            required = {q["id"] for q in definitions
                        if q.get("required", False) and (q.get("role") in TURING_ROLES) == (kind == "turing")}
            answered = set(c.execute(sa.select(T.answers.c.question_id).where(
                *[T.answers.c[k] == v for k, v in key.items()])).scalars())
            missing = sorted(required - answered)
            if missing:
                raise StoreError(f"required question(s) unanswered: {', '.join(missing)}",
                                 where=f"{reader_id}/{session_id}/{item_code}", hint="answer them, then submit")
            c.execute(T.readings.update().where(*self._is_reading(key)).values(
                submitted_at=iso(now), active_since=None, duration_s=reading.duration_s + self._spent_s(reading, now)))

    # ----- reading back -------------------------------------------------------------------------------
    def answers(self, study_id: str | None = None) -> list[dict]:
        """Every current answer with its reading's times: dicts with the answer key, ``value`` (decoded),
        ``revision``, ``answered_at``, ``reading_started_at``, ``submitted_at``, ``duration_s``."""
        a, r = T.answers, T.readings
        keys = ("study_id", "reader_id", "session_id", "item_code")
        query = sa.select(a, r.c.started_at.label("reading_started_at"), r.c.submitted_at, r.c.duration_s) \
            .select_from(a.join(r, sa.and_(*[a.c[k] == r.c[k] for k in keys])))
        if study_id is not None:
            query = query.where(a.c.study_id == study_id)
        with self._read() as c:
            rows = [dict(row._mapping) for row in c.execute(query.order_by(*[a.c[k] for k in keys], a.c.question_id))]
        for row in rows:
            row["value"] = json.loads(row["value"])
        return rows

    def revisions(self, study_id: str | None = None) -> list[dict]:
        query = sa.select(T.answer_revisions)
        if study_id is not None:
            query = query.where(T.answer_revisions.c.study_id == study_id)
        with self._read() as c:
            return [dict(row._mapping) for row in c.execute(query)]

    def progress(self, study_id: str) -> list[dict]:
        """Per reader and session: planned, submitted and answered counts, start/end of the session."""
        w, r = T.worklist, T.readings
        keys = ("study_id", "reader_id", "session_id", "item_code")
        with self._read() as c:
            rows = c.execute(sa.select(w.c.reader_id, w.c.session_id, sa.func.count().label("planned"),
                                       sa.func.count(r.c.submitted_at).label("submitted"))
                             .select_from(w.outerjoin(r, sa.and_(*[w.c[k] == r.c[k] for k in keys])))
                             .where(w.c.study_id == study_id).group_by(w.c.reader_id, w.c.session_id)).all()
            runs = {(x.reader_id, x.session_id): x for x in c.execute(
                sa.select(T.session_runs).where(T.session_runs.c.study_id == study_id))}
            order = {x.session_id: x.ordinal for x in c.execute(
                sa.select(T.sessions).where(T.sessions.c.study_id == study_id))}
        result = []
        for row in sorted(rows, key=lambda x: (x.reader_id, order.get(x.session_id, 0))):
            run = runs.get((row.reader_id, row.session_id))
            result.append({"reader_id": row.reader_id, "session_id": row.session_id, "planned": row.planned,
                           "submitted": row.submitted, "started_at": run.started_at if run else None,
                           "ended_at": run.ended_at if run else None})
        return result
