"""One Qt import for Slicer's PythonQt and for PySide6.

Inside Slicer, ``import qt`` gives PythonQt, whose single ``qt`` namespace holds every class; elsewhere
PySide6 is used. Code written against this module must respect what the two bindings share:

* classes through ``QtWidgets`` / ``QtCore`` / ``QtGui`` (all three are the ``qt`` module under PythonQt);
* read Qt properties with :func:`prop` (PythonQt exposes ``label.text`` as an attribute, PySide6 as a
  method; ``QObject.property`` works in both);
* no custom ``Signal`` declarations (PythonQt cannot create them): use plain Python callbacks;
* run dialogs with :func:`exec_dialog`.
"""

from __future__ import annotations

try:  # Slicer's PythonQt
    import qt as _qt  # type: ignore[import-not-found]

    QtCore = QtGui = QtWidgets = _qt
    BINDING = "PythonQt"
except ImportError:  # plain Python: PySide6
    from PySide6 import QtCore, QtGui, QtWidgets  # noqa: F401

    BINDING = "PySide6"

Qt = QtCore.Qt


def prop(widget, name: str):
    """Read the Qt property ``name`` of ``widget`` in a way both bindings accept."""
    return widget.property(name)


def exec_dialog(dialog) -> int:
    """Run a modal dialog and return its result code."""
    runner = getattr(dialog, "exec", None) or getattr(dialog, "exec_")
    return runner()
