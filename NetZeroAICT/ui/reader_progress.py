"""The reader's progress header: who reads, which session, case k of N (plain Qt through :mod:`qtcompat`)."""

from __future__ import annotations

from .qtcompat import QtWidgets


class ReaderProgressHeader(QtWidgets.QFrame):
    """"Case k of N" in large type, the session and reader below, and a bar of cases submitted.

    Only what the reader may see is shown: the pseudonymous case code, never a case id or a modality.
    """

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("ReaderProgressHeader")
        self.setFrameShape(QtWidgets.QFrame.StyledPanel)
        layout = QtWidgets.QGridLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        self.case_label = QtWidgets.QLabel("No reading session open")
        self.case_label.setObjectName("case_label")
        self.case_label.setStyleSheet("QLabel { font-size: 15px; font-weight: bold; }")
        self.code_label = QtWidgets.QLabel("")
        self.code_label.setObjectName("code_label")
        self.code_label.setStyleSheet("QLabel { font-family: monospace; font-size: 13px; color: #1565c0; }")
        self.session_label = QtWidgets.QLabel("")
        self.session_label.setObjectName("session_label")
        self.session_label.setWordWrap(True)
        self.progress_bar = QtWidgets.QProgressBar()
        self.progress_bar.setObjectName("progress_bar")
        self.progress_bar.setTextVisible(True)
        self.progress_bar.setMaximumHeight(16)
        layout.addWidget(self.case_label, 0, 0)
        layout.addWidget(self.code_label, 0, 1)
        layout.addWidget(self.session_label, 1, 0, 1, 2)
        layout.addWidget(self.progress_bar, 2, 0, 1, 2)
        layout.setColumnStretch(0, 1)

    def set_progress(self, reader: str, session: str, case_index: int, case_count: int, submitted: int,
                     case_code: str = "", session_kind: str = "", training: bool = False) -> None:
        """Show case ``case_index`` (1-based) of ``case_count``, ``submitted`` of them done.

        Args:
            reader: the reader's id or name; session: the session id; session_kind: "diagnostic" or "turing";
            training: the case is a training case (not analysed), which the reader is told.
        """
        if case_index > case_count:
            self.case_label.setText(f"Session complete: {case_count} of {case_count} cases")
        else:
            self.case_label.setText(f"Case {case_index} of {case_count}" + ("  (training)" if training else ""))
        self.code_label.setText(case_code)
        kind = {"diagnostic": "diagnostic reading", "turing": "real or synthetic?"}.get(session_kind, session_kind)
        self.session_label.setText(f"Reader {reader} · session {session}" + (f" ({kind})" if kind else ""))
        self.progress_bar.setRange(0, max(case_count, 1))
        self.progress_bar.setValue(submitted)
        self.progress_bar.setFormat(f"{submitted} of {case_count} submitted")

    def clear(self) -> None:
        self.case_label.setText("No reading session open")
        self.code_label.setText("")
        self.session_label.setText("")
        self.progress_bar.setValue(0)
