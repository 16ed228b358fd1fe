"""The DigitalContrast module's logic pieces, importable without the Slicer application.

* :mod:`.request` — the run the user asked for (dataclass) and the engine command line;
* :mod:`.process` — the engine subprocess and its JSON-lines events (plain Python);
* :mod:`.synthesis_job` — node in → subprocess → synthetic nodes out (MRML);
* :mod:`.views` — what the module shows after a run: layout, overlays, volume rendering, view annotations;
* :mod:`.sample` — the "Sample NCCT phantom" for Slicer's Sample Data module (generated, no download);
* :mod:`.dependencies` — Python packages the engine needs, installed only after asking.
"""
