"""Merging reader stores from several sites into one, idempotently.

``merge_stores(target, sources)`` copies every row the target lacks, in one transaction per source (all or
nothing). Merging the same source twice changes nothing. Where both hold a row: an answer keeps its higher
revision, a reading or session keeps the more finished state (submitted, ended), and rows that must agree
(study protocol, sessions, questions, worklist positions, revisions with the same number) must agree —
otherwise :class:`~NetZeroAICT.study.store.StoreError` names the conflict and nothing of that source is merged.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from . import store_schema as T
from .store import ResultsStore, StoreError

# (table, columns that must agree when both stores hold the row)
_MUST_AGREE = [
    (T.study, ("reader_protocol",)),
    (T.sessions, ("kind", "washout_days", "ordinal")),
    (T.questions, ("definition",)),
    (T.worklist, ("position",)),
    (T.answer_revisions, ("value",)),
]


def _key(table: sa.Table, row) -> tuple:
    return tuple(row._mapping[c.name] for c in table.primary_key.columns)


def _rows(connection, table: sa.Table) -> dict[tuple, sa.Row]:
    return {_key(table, row): row for row in connection.execute(sa.select(table))}


def _where(table: sa.Table, key: tuple):
    return [c == v for c, v in zip(table.primary_key.columns, key)]


def _merge_one(target: ResultsStore, source_url: str) -> dict[str, int]:
    source = ResultsStore(source_url, create=False)
    counts = {}
    try:
        with source._read() as s, target._write() as t:
            for table in (T.study, T.sessions, T.questions, T.worklist, T.session_runs, T.readings, T.answers,
                          T.answer_revisions):
                theirs, ours = _rows(s, table), _rows(t, table)
                added = updated = 0
                agree = dict(_MUST_AGREE).get(table, ())
                for key, row in theirs.items():
                    mine = ours.get(key)
                    values = dict(row._mapping)
                    if mine is None:
                        t.execute(table.insert().values(**values))
                        added += 1
                        continue
                    for column in agree:
                        if mine._mapping[column] != values[column]:
                            raise StoreError(f"{table.name} {key} differs in {column} between the stores",
                                             where=source.url, hint="these stores belong to different studies "
                                             "or were edited by hand; resolve the conflict before merging")
                    change = _update_for(table, mine, row)
                    if change:
                        t.execute(table.update().where(*_where(table, key)).values(**change))
                        updated += 1
                counts[table.name] = added
                if updated:
                    counts[f"{table.name} updated"] = updated
    finally:
        source.close()
    return counts


def _update_for(table: sa.Table, mine, theirs) -> dict:
    """The columns to take from the source row when both stores hold it (empty: keep ours)."""
    m, s = mine._mapping, theirs._mapping
    if table is T.answers:
        if s["revision"] > m["revision"]:
            return {"value": s["value"], "revision": s["revision"], "answered_at": s["answered_at"]}
        if s["revision"] == m["revision"] and s["value"] != m["value"]:
            raise StoreError(f"answer {_key(table, theirs)} has revision {s['revision']} with two different values",
                             where="merge", hint="resolve the conflict before merging")
        return {}
    if table is T.readings and m["submitted_at"] is None and s["submitted_at"] is not None:
        return {"submitted_at": s["submitted_at"], "duration_s": s["duration_s"], "active_since": None}
    if table is T.session_runs and m["ended_at"] is None and s["ended_at"] is not None:
        return {"ended_at": s["ended_at"]}
    return {}


def merge_stores(target: ResultsStore | str | Path, sources: list[str | Path]) -> dict[str, dict[str, int]]:
    """Merge every source store (URL or SQLite path) into ``target``; returns rows added per source and table."""
    own = not isinstance(target, ResultsStore)
    store = ResultsStore(target) if own else target
    try:
        return {str(source): _merge_one(store, str(source)) for source in sources}
    finally:
        if own:
            store.close()
