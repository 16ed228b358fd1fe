"""The ReaderStudy module's logic, kept out of the module file so it can be tested without the Slicer application.

- :mod:`.reading` — a reader's package, session, answers (no Qt, no Slicer);
- :mod:`.viewer` — one blinded case at a time in MRML, with the hanging protocol and rulers (slicer-core);
- :mod:`.reader_panel` — the reader's panel (plain Qt, PythonQt or PySide6);
- :mod:`.lead` — the study lead's steps over the study core (no Qt, no Slicer);
- :mod:`.simulated_reader`, :mod:`.demo_study` — SIMULATED readers and the end-to-end demo study.
"""
