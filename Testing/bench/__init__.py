"""Benchmarks: ``make bench`` runs every ``bench_*.py`` here; each has ``run() -> list[dict]``.

A benchmark prints what it measured in one run (times, ratios, peak memory) next to its goal, and never
fails the build: performance targets live here, not in timed tests.
"""
