"""A reader working through a blinded package: the worklist, the current case, answers into the store.

No Qt and no Slicer here: :class:`ReaderPackage` reads the package folder a reader gets (see
``NetZeroAICT.study.package``), :class:`ReadingSession` drives one reader through one session with the
study's :class:`~NetZeroAICT.study.store.ResultsStore`, which keeps every answer, its revisions and the reading
time, and enforces the answer policy and the washout.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from NetZeroAICT.errors import ValidationError
from NetZeroAICT.study.package import enrol_reader
from NetZeroAICT.study.protocol import TURING_ROLES
from NetZeroAICT.ui.question_rules import is_unanswered

IMAGE_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".mha")


@dataclass
class ReaderPackage:
    """A blinded package folder: ``package.json``, ``reader_protocol.json``, ``worklists/``, ``images/``."""

    folder: Path
    study_id: str
    reader_protocol: dict

    @classmethod
    def open(cls, folder: str | Path) -> "ReaderPackage":
        """Read a package folder; errors say which file is missing or unreadable."""
        folder = Path(folder)
        data = {}
        for name in ("package.json", "reader_protocol.json"):
            path = folder / name
            try:
                data[name] = json.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise ValidationError(f"not a reader package: {name} is missing", where=str(folder),
                                      hint="open the folder that `study package` wrote") from None
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                raise ValidationError(f"unreadable {name}: {error}", where=str(path),
                                      hint="the package is damaged; ask the study lead for a new copy") from None
        return cls(folder, data["package.json"]["study_id"], data["reader_protocol.json"])

    @property
    def reader_ids(self) -> list[str]:
        """Readers who have a worklist in this package."""
        return sorted(p.stem for p in (self.folder / "worklists").glob("*.json"))

    @property
    def sessions(self) -> list[dict]:
        return self.reader_protocol["sessions"]

    @property
    def hanging_protocol(self) -> dict:
        return self.reader_protocol.get("hanging_protocol", {})

    @property
    def answer_policy(self) -> str:
        return self.reader_protocol.get("answer_policy", "lock_on_submit")

    def session(self, session_id: str) -> dict:
        for session in self.sessions:
            if session["id"] == session_id:
                return session
        raise ValidationError(f"no session {session_id!r} in the package", where=str(self.folder),
                              hint=f"one of {', '.join(s['id'] for s in self.sessions)}")

    def questions_for(self, session_kind: str) -> list[dict]:
        """The questions asked in a session of that kind (Turing questions only in the Turing session)."""
        turing = session_kind == "turing"
        return [q for q in self.reader_protocol["questions"] if (q.get("role") in TURING_ROLES) == turing]

    def worklist(self, reader_id: str) -> dict[str, list[str]]:
        """The reader's image codes per session, in reading order."""
        path = self.folder / "worklists" / f"{reader_id}.json"
        if not path.exists():
            raise ValidationError(f"no worklist for reader {reader_id!r}", where=str(self.folder),
                                  hint=f"readers in this package: {', '.join(self.reader_ids) or 'none'}")
        return json.loads(path.read_text(encoding="utf-8"))["sessions"]

    def image_path(self, code: str) -> Path:
        for suffix in IMAGE_SUFFIXES:
            path = self.folder / "images" / f"{code}{suffix}"
            if path.exists():
                return path
        raise ValidationError(f"the image for code {code} is missing", where=str(self.folder / "images"),
                              hint="the package is incomplete; ask the study lead for a new copy")


class ReadingSession:
    """One reader's session: which case is shown, what was answered, submit and move on.

    Args:
        package: the reader's blinded package.
        store: a :class:`~NetZeroAICT.study.store.ResultsStore` (the reader's local store or a shared one).
        reader_id: the reader (must have a worklist in the package).
        session_id: the session to read; None picks the first session the reader has not ended.

    Opening registers the study and the worklist in the store (idempotent) and starts (or resumes) the session:
    the store refuses while the previous session is open or its washout is not over.
    """

    def __init__(self, package: ReaderPackage, store, reader_id: str, session_id: str | None = None):
        self.package, self.store, self.reader_id = package, store, reader_id
        self.study_id = package.study_id
        worklists = package.worklist(reader_id)
        enrol_reader(store, package.folder, reader_id)
        self.session_id = session_id or self._first_open_session()
        self.session = package.session(self.session_id)
        self.codes = list(worklists.get(self.session_id, []))
        self.questions = package.questions_for(self.session["kind"])
        self.started_at = store.start_session(self.study_id, reader_id, self.session_id)
        self.position = 0
        self.resume()

    def _first_open_session(self) -> str:
        ended = {row["session_id"] for row in self.store.progress(self.study_id)
                 if row["reader_id"] == self.reader_id and row["ended_at"]}
        for session in self.package.sessions:
            if session["id"] not in ended:
                return session["id"]
        raise ValidationError(f"reader {self.reader_id} has finished every session", where=self.study_id,
                              hint="nothing is left to read in this package")

    # -- where we are -------------------------------------------------------------------------------------
    @property
    def key(self) -> dict:
        return dict(study_id=self.study_id, reader_id=self.reader_id, session_id=self.session_id)

    @property
    def current_code(self) -> str | None:
        return self.codes[self.position] if self.position < len(self.codes) else None

    @property
    def is_complete(self) -> bool:
        return self.store.next_reading(**self.key) is None

    def submitted_codes(self) -> set[str]:
        rows = self.store.answers(self.study_id)
        return {r["item_code"] for r in rows if r["reader_id"] == self.reader_id
                and r["session_id"] == self.session_id and r["submitted_at"]}

    def progress(self) -> dict:
        """``{case_index (1-based), case_count, submitted, code, session_kind}`` for the progress header."""
        return {"case_index": self.position + 1, "case_count": len(self.codes),
                "submitted": len(self.submitted_codes()), "code": self.current_code or "",
                "session_kind": self.session["kind"]}

    def resume(self) -> str | None:
        """Go to the first case not yet submitted (after a restart); returns its code (None: all done)."""
        code = self.store.next_reading(**self.key)
        self.position = self.codes.index(code) if code is not None else len(self.codes)
        return code

    def open_current(self) -> Path | None:
        """Start (or restart) timing the current reading; returns its image path (None: session done)."""
        code = self.current_code
        if code is None:
            return None
        self.store.start_reading(**self.key, item_code=code)
        return self.package.image_path(code)

    # -- answers --------------------------------------------------------------------------------------------
    def saved_answers(self, code: str | None = None) -> dict[str, Any]:
        """Answers saved for a case (default: the current one), by question id."""
        code = code or self.current_code
        return {r["question_id"]: r["value"] for r in self.store.answers(self.study_id)
                if r["reader_id"] == self.reader_id and r["session_id"] == self.session_id
                and r["item_code"] == code}

    def editable(self, code: str | None = None) -> tuple[bool, str]:
        """(may the answers of the case still change, why not) under the answer policy."""
        code = code or self.current_code
        policy = self.package.answer_policy
        if code in self.submitted_codes() and policy == "lock_on_submit":
            return False, "Submitted: answers are locked (this study locks answers on submit)."
        if policy == "editable_in_session" and any(
                r["ended_at"] for r in self.store.progress(self.study_id)
                if r["reader_id"] == self.reader_id and r["session_id"] == self.session_id):
            return False, "The session has ended: answers are locked."
        return True, ""

    def save(self, answers: dict[str, Any]) -> int:
        """Save every given answer that differs from the stored one (autosave); returns how many were saved.

        Unanswered questions (None, "", []) are skipped: the store keeps answers, not their absence."""
        if not self.editable()[0]:
            return 0
        stored = self.saved_answers()
        count = 0
        for question in self.questions:
            value = answers.get(question["id"])
            if is_unanswered(value):
                continue
            if stored.get(question["id"]) != value:
                self.store.save_answer(**self.key, item_code=self.current_code, question_id=question["id"],
                                       value=value)
                count += 1
        return count

    def submit(self, answers: dict[str, Any]) -> str | None:
        """Save the answers, submit the reading (the store checks required answers) and move to the next
        case not yet submitted; returns its code (None: the session's work is done)."""
        code = self.current_code
        if code is None:
            raise ValidationError("every case of this session is submitted", where=self.session_id)
        self.save(answers)
        self.store.submit_reading(**self.key, item_code=code)
        return self.resume()

    def finish(self) -> None:
        """End the session (refused by the store while a case is unsubmitted)."""
        self.store.end_session(**self.key)

    # -- navigation -----------------------------------------------------------------------------------------
    def can_go_previous(self) -> bool:
        return self.position > 0

    def can_go_next(self) -> bool:
        """Forward only over submitted cases: the reading order is part of the design."""
        return self.position < len(self.codes) and self.current_code in self.submitted_codes()

    def go_previous(self) -> str | None:
        if self.can_go_previous():
            self.position -= 1
        return self.current_code

    def go_next(self) -> str | None:
        if self.can_go_next():
            self.position += 1
        return self.current_code
