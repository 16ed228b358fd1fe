"""MRML glue: the only part of the NetZeroAICT package that imports ``slicer``.

Nothing else in the core imports this subpackage; the Slicer modules (DigitalContrast, ReaderStudy) do,
and the tests exercise it on slicer-core (Slicer's real MRML, headless).
"""
