"""Tables of the results store (SQLAlchemy Core), the same on SQLite and PostgreSQL.

Readers' stores hold pseudonymous item codes only (the image codes of their blinded package), never case ids
or modalities; the lead's key maps codes back when the answers are exported. Invariants live in the schema:

- ``answers`` has one row per (study, reader, session, item, question) — its primary key;
- every answer belongs to a planned reading (``worklist``) of a known question (foreign keys);
- ``answer_revisions`` keeps every value ever saved, numbered per answer (unique), and is append-only:
  triggers refuse UPDATE and DELETE on both databases.

Times are ISO 8601 UTC strings with microseconds (sortable, identical on both databases); durations in s.
"""

from __future__ import annotations

import sqlalchemy as sa

SCHEMA_VERSION = 1

metadata = sa.MetaData()
_ID = sa.String(64)
_TIME = sa.String(40)

study = sa.Table(
    "study", metadata,
    sa.Column("study_id", _ID, primary_key=True),
    sa.Column("reader_protocol", sa.Text, nullable=False),  # JSON: the reader-side protocol
    sa.Column("schema_version", sa.Integer, nullable=False),
)

sessions = sa.Table(
    "sessions", metadata,
    sa.Column("study_id", _ID, sa.ForeignKey("study.study_id"), primary_key=True),
    sa.Column("session_id", _ID, primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("washout_days", sa.Float, nullable=False),
    sa.Column("ordinal", sa.Integer, nullable=False),
    sa.CheckConstraint("kind IN ('diagnostic', 'turing')", name="session_kind"),
)

questions = sa.Table(
    "questions", metadata,
    sa.Column("study_id", _ID, sa.ForeignKey("study.study_id"), primary_key=True),
    sa.Column("question_id", _ID, primary_key=True),
    sa.Column("definition", sa.Text, nullable=False),  # JSON: the question as in the protocol
)

_READING_KEY = ["study_id", "reader_id", "session_id", "item_code"]

worklist = sa.Table(
    "worklist", metadata,
    *[sa.Column(name, _ID, primary_key=True) for name in _READING_KEY],
    sa.Column("position", sa.Integer, nullable=False),
    sa.ForeignKeyConstraint(["study_id", "session_id"], ["sessions.study_id", "sessions.session_id"]),
    sa.UniqueConstraint("study_id", "reader_id", "session_id", "position", name="worklist_position"),
)

session_runs = sa.Table(
    "session_runs", metadata,
    sa.Column("study_id", _ID, primary_key=True),
    sa.Column("reader_id", _ID, primary_key=True),
    sa.Column("session_id", _ID, primary_key=True),
    sa.Column("started_at", _TIME, nullable=False),
    sa.Column("ended_at", _TIME),
    sa.ForeignKeyConstraint(["study_id", "session_id"], ["sessions.study_id", "sessions.session_id"]),
)

readings = sa.Table(
    "readings", metadata,
    *[sa.Column(name, _ID, primary_key=True) for name in _READING_KEY],
    sa.Column("started_at", _TIME, nullable=False),
    sa.Column("active_since", _TIME),  # when the reading time being counted began (None once submitted)
    sa.Column("duration_s", sa.Float, nullable=False, default=0.0),
    sa.Column("submitted_at", _TIME),
    sa.ForeignKeyConstraint(_READING_KEY, [f"worklist.{c}" for c in _READING_KEY]),
)

answers = sa.Table(
    "answers", metadata,
    *[sa.Column(name, _ID, primary_key=True) for name in _READING_KEY],
    sa.Column("question_id", _ID, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),  # JSON
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("answered_at", _TIME, nullable=False),
    sa.ForeignKeyConstraint(_READING_KEY, [f"readings.{c}" for c in _READING_KEY]),
    sa.ForeignKeyConstraint(["study_id", "question_id"], ["questions.study_id", "questions.question_id"]),
)

answer_revisions = sa.Table(
    "answer_revisions", metadata,
    *[sa.Column(name, _ID, nullable=False) for name in _READING_KEY],
    sa.Column("question_id", _ID, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("recorded_at", _TIME, nullable=False),
    sa.PrimaryKeyConstraint(*_READING_KEY, "question_id", "revision"),
    sa.ForeignKeyConstraint(_READING_KEY, [f"readings.{c}" for c in _READING_KEY]),
)

_SQLITE_TRIGGERS = [
    f"CREATE TRIGGER IF NOT EXISTS answer_revisions_no_{op.lower()} BEFORE {op} ON answer_revisions "
    f"BEGIN SELECT RAISE(ABORT, 'answer_revisions is append-only'); END"
    for op in ("UPDATE", "DELETE")
]
_POSTGRES_TRIGGERS = [
    "CREATE OR REPLACE FUNCTION answer_revisions_append_only() RETURNS trigger AS $$ BEGIN "
    "RAISE EXCEPTION 'answer_revisions is append-only'; END; $$ LANGUAGE plpgsql",
    "DROP TRIGGER IF EXISTS answer_revisions_append_only ON answer_revisions",
    "CREATE TRIGGER answer_revisions_append_only BEFORE UPDATE OR DELETE ON answer_revisions "
    "FOR EACH ROW EXECUTE FUNCTION answer_revisions_append_only()",
]


def schema_ready(connection: sa.Connection) -> bool:
    """True when the tables and the append-only triggers exist (the usual case: a store opened again)."""
    if connection.dialect.name == "postgresql":
        query = "SELECT count(*) FROM pg_trigger WHERE tgname = 'answer_revisions_append_only'"
        needed = 1
    else:
        query = "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'answer_revisions_no_%'"
        needed = 2
    if not sa.inspect(connection).has_table("answers"):
        return False
    return connection.execute(sa.text(query)).scalar() == needed


def create_schema(engine: sa.Engine) -> None:
    """Create the tables and the append-only triggers (idempotent)."""
    with engine.connect().execution_options(nz_read_only=True) as connection:
        if schema_ready(connection):
            return
    with engine.begin() as connection:
        metadata.create_all(connection)
        statements = _POSTGRES_TRIGGERS if engine.dialect.name == "postgresql" else _SQLITE_TRIGGERS
        if engine.dialect.name == "postgresql":
            # serialise concurrent first-time creations of the trigger
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(727001)"))
        for statement in statements:
            connection.execute(sa.text(statement))
