"""CLI registration of the reader-study analysis: ``study mrmc|analyze|report``.

The ``study`` command group is shared with the study commands (init, validate, design, …), which call
:func:`NetZeroAICT.study.analysis.cli.register_study_commands` on their group. This module makes the
analysis commands available on their own too: it creates the ``study`` group only if no module registered it
before, and then adds the analysis commands to it (skipping any already there).
"""

from __future__ import annotations

import argparse

from .study.analysis.cli import register_study_commands


def register(subparsers) -> None:
    study = subparsers.choices.get("study")
    if study is None:
        study = subparsers.add_parser("study", help="reader studies: analysis (mrmc, analyze, report)",
                                      description="Reader-study commands.")
        study_subparsers = study.add_subparsers(dest="study_command", required=True, metavar="STUDY_COMMAND")
    else:
        study_subparsers = next((a for a in study._actions if isinstance(a, argparse._SubParsersAction)), None)
        if study_subparsers is None:
            study_subparsers = study.add_subparsers(dest="study_command", required=True, metavar="STUDY_COMMAND")
    register_study_commands(study_subparsers)
