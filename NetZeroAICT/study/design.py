"""The study design: who reads which case, as which modality, in which order, in which session.

Crossover with counterbalancing: in the two diagnostic sessions every reader reads every case once, real in
one session and synthetic in the other; for any case half of the readers (exactly, for an even number of
readers) meet it real first, and every reader meets half of the cases real first. The reading order is
shuffled per reader and session from the recorded seed (training cases first). The Turing session shows
each reader each patient once, as either real or synthetic (half and half, balanced per case across
readers), so real and synthetic images of different patients are mixed and no pair can be compared.
Sessions are read in protocol order, each at least its ``washout_days`` after the reader's previous session
ended.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

from ..errors import ValidationError
from .protocol import Protocol


@dataclass(frozen=True)
class Reading:
    """One planned reading: ``reader_id`` reads ``case_id`` shown as ``modality`` (real|synthetic) at
    ``position`` (0-based) of session ``session_id``."""

    reader_id: str
    session_id: str
    session_kind: str
    position: int
    case_id: str
    modality: str
    training: bool


def _rng(seed: int, *labels: str) -> random.Random:
    """An independent random stream for (seed, labels…), stable across Python versions and call order."""
    digest = hashlib.sha256("|".join([str(seed), *labels]).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _shuffled(items: list, rng: random.Random) -> list:
    items = list(items)
    rng.shuffle(items)
    return items


@dataclass
class Design:
    """The planned readings of a study, made from ``seed`` (record it; the same seed gives the same design)."""

    study_id: str
    seed: int
    readings: list[Reading]

    def for_reader(self, reader_id: str, session_id: str) -> list[Reading]:
        """The reader's readings in that session, in reading order."""
        return sorted((r for r in self.readings if r.reader_id == reader_id and r.session_id == session_id),
                      key=lambda r: r.position)

    def to_dict(self) -> dict:
        return {"study_id": self.study_id, "seed": self.seed, "readings": [asdict(r) for r in self.readings]}

    @classmethod
    def from_dict(cls, data: dict) -> "Design":
        return cls(data["study_id"], int(data["seed"]), [Reading(**r) for r in data["readings"]])

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=1), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Design":
        try:
            return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ValidationError(f"not a study design file ({error})", where=str(path),
                                  hint="make one with `python -m NetZeroAICT study design PROTOCOL --out design.json`")

    def table(self) -> str:
        """The design as text: one line per reader and session, cases in reading order with R/S (real or
        synthetic) and * for training cases; then the balance summary."""
        lines = [f"study {self.study_id}, seed {self.seed}"]
        for reader_id, session_id in dict.fromkeys((r.reader_id, r.session_id) for r in self.readings):
            plan = self.for_reader(reader_id, session_id)
            cells = " ".join(f"{r.case_id}:{'R' if r.modality == 'real' else 'S'}{'*' if r.training else ''}"
                             for r in plan)
            lines.append(f"{reader_id:>10s} {session_id:>10s} ({plan[0].session_kind:10s}) {cells}")
        balance = balance_report(self)
        lines.append(f"balance: {balance['summary']}")
        return "\n".join(lines)


def make_design(protocol: Protocol, seed: int | None = None) -> Design:
    """The counterbalanced crossover (plus Turing) design of ``protocol``; ``seed`` defaults to the
    protocol's ``seed`` (else 0)."""
    seed = int(protocol.data.get("seed", 0) if seed is None else seed)
    readers = [r["id"] for r in protocol.readers]
    readings: list[Reading] = []
    groups = {flag: [c["id"] for c in protocol.cases if bool(c.get("training")) == flag] for flag in (True, False)}
    diagnostic = [s for s in protocol.sessions if s["kind"] == "diagnostic"]
    for session in protocol.sessions:
        modality: dict[tuple[str, str], str] = {}
        for training, case_ids in groups.items():
            label = "turing" if session["kind"] == "turing" else "crossover"
            order = _shuffled(sorted(case_ids), _rng(seed, label, str(training)))
            for c, case_id in enumerate(order):
                for r, reader_id in enumerate(readers):
                    first_real = (r + c) % 2 == 0
                    if session["kind"] == "diagnostic" and session is diagnostic[1]:
                        first_real = not first_real
                    modality[reader_id, case_id] = "real" if first_real else "synthetic"
        for reader_id in readers:
            order = []
            for training in (True, False):
                order += _shuffled(sorted(groups[training]), _rng(seed, "order", reader_id, session["id"], str(training)))
            readings += [Reading(reader_id, session["id"], session["kind"], position, case_id,
                                 modality[reader_id, case_id], case_id in groups[True])
                         for position, case_id in enumerate(order)]
    return Design(protocol.study_id, seed, readings)


def balance_report(design: Design) -> dict:
    """Counts that show the design is balanced.

    Returns a dict with ``readers_real_first`` ({case: number of readers who read it real in the first
    diagnostic session}), ``cases_real_first`` ({reader: number of cases read real first}),
    ``crossover_complete`` (every reader read every case once real and once synthetic across the diagnostic
    sessions), ``turing_real`` ({case: readers shown it real in the Turing session}) and ``summary`` (text).
    """
    diag = [r for r in design.readings if r.session_kind == "diagnostic" and not r.training]
    sessions = list(dict.fromkeys(r.session_id for r in diag))
    first = [r for r in diag if sessions and r.session_id == sessions[0]]
    readers_real_first = Counter(r.case_id for r in first if r.modality == "real")
    cases_real_first = Counter(r.reader_id for r in first if r.modality == "real")
    pairs = Counter((r.reader_id, r.case_id, r.modality) for r in diag)
    readers = {r.reader_id for r in design.readings}
    cases = {r.case_id for r in design.readings if not r.training}
    complete = bool(diag) and all(pairs[(rd, c, m)] == 1 for rd in readers for c in cases for m in ("real", "synthetic"))
    turing = [r for r in design.readings if r.session_kind == "turing" and not r.training]
    turing_real = Counter(r.case_id for r in turing if r.modality == "real")
    parts = []
    if diag:
        counts = [readers_real_first.get(c, 0) for c in sorted(cases)]
        parts.append(f"crossover {'complete' if complete else 'INCOMPLETE'}; readers starting real per case "
                     f"{min(counts)}–{max(counts)} of {len(readers)}")
    if turing:
        counts = [turing_real.get(c, 0) for c in sorted(cases)]
        parts.append(f"turing: readers shown real per case {min(counts)}–{max(counts)} of {len(readers)}")
    return {"readers_real_first": {c: readers_real_first.get(c, 0) for c in sorted(cases)},
            "cases_real_first": {rd: cases_real_first.get(rd, 0) for rd in sorted(readers)},
            "crossover_complete": complete, "turing_real": {c: turing_real.get(c, 0) for c in sorted(cases)},
            "summary": "; ".join(parts) or "no readings"}


def earliest_start(previous_end: datetime | None, washout_days: float) -> datetime | None:
    """When a reader whose previous session ended at ``previous_end`` may start a session with that washout."""
    return None if previous_end is None else previous_end + timedelta(days=float(washout_days))
