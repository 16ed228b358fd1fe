"""Run the benchmarks: ``python -m Testing.bench [NAME …]`` (names without the ``bench_`` prefix)."""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
import time
from pathlib import Path

import Testing.bench as package


def main(argv: list[str]) -> int:
    names = sorted(m.name for m in pkgutil.iter_modules(package.__path__) if m.name.startswith("bench_"))
    if argv:
        names = [n for n in names if n.removeprefix("bench_") in argv]
    results = []
    for name in names:
        module = importlib.import_module(f"Testing.bench.{name}")
        print(f"== {name}: {(module.__doc__ or '').strip().splitlines()[0] if module.__doc__ else ''}", flush=True)
        start = time.perf_counter()
        rows = module.run()
        for row in rows:
            row.setdefault("benchmark", name)
            goal = f"  (goal {row['goal']})" if "goal" in row else ""
            print(f"   {row['what']}: {row['value']}{goal}", flush=True)
        results.extend(rows)
        print(f"   [{time.perf_counter() - start:.1f} s]", flush=True)
    out = Path("bench-output")
    out.mkdir(exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    print(f"wrote {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
