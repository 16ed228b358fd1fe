"""Stand-ins for one indication's model rebuild, run in the child processes of ``models --parallel`` (spawned
children import them by name, so they live in a module of their own)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path


def timed_rebuild(indication: str, kwargs: dict) -> dict:
    """Writes when it started and ended into the work folder; fails for the limb, as a broken run would."""
    start = time.time()
    time.sleep(2.0)
    if indication == "limb":
        raise RuntimeError("the limb phantoms could not be written")
    record = {"start": start, "end": time.time(), "pid": os.getpid(), "minutes": kwargs["minutes"]}
    (Path(kwargs["work_dir"]) / f"{indication}.json").write_text(json.dumps(record))
    return {"lumen_dice": {"mean": 0.5}, "indication": indication}
