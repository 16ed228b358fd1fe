"""Plain-Qt user-interface pieces shared by the Slicer modules.

They import Qt only through :mod:`NetZeroAICT.ui.qtcompat`, so the same code runs on Slicer's PythonQt
(``import qt``) and on PySide6, where the tests drive them offscreen. The rest of the core never imports
this subpackage.
"""
