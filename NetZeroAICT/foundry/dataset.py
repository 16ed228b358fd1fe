"""Datasets of paired phantoms on disk: one folder per case, a manifest, a train/validation/test split by seed.

    dataset/
      manifest.json            indication, seeds, split {train, validation, test} (case folder names), grid
      aorta_00000/ …           one case each (see :mod:`NetZeroAICT.foundry.pair`)

Building is resumable: a case whose folder already holds a complete case (case.json written last, with the
same indication, seed, grid and generator version) is skipped. The split depends on the seed alone (a hash
of it), so a case never changes sides when the dataset grows.
"""

from __future__ import annotations

import json
import os
import sys
import zlib
from pathlib import Path

from ..errors import NetZeroAICTError
from ..indications import get_indication
from .pair import CASE_FILE, IMAGE_FILES
from .phantom import GENERATOR_VERSION, default_grid, make_pair

MANIFEST = "manifest.json"
SPLIT_FRACTIONS = {"train": 0.8, "validation": 0.1, "test": 0.1}


def case_name(indication: str, seed: int) -> str:
    return f"{indication}_{int(seed):05d}"


def split_of(seed: int, fractions: dict[str, float] = SPLIT_FRACTIONS) -> str:
    """train, validation or test, from a hash of the seed (stable when the dataset grows)."""
    u = (zlib.crc32(f"seed-{int(seed)}".encode()) % 10_000) / 10_000
    edge = 0.0
    for name, fraction in fractions.items():
        edge += fraction
        if u < edge:
            return name
    return list(fractions)[-1]


def _complete(folder: Path, expected: dict) -> bool:
    try:
        case = json.loads((folder / CASE_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return all((folder / name).exists() for name in (*IMAGE_FILES, "lumen.nii.gz")) and \
        all(case.get(k) == v for k, v in expected.items())


def build_dataset(indication: str, cases: int, out: str | os.PathLike, first_seed: int = 0,
                  shape_ijk=None, spacing_mm: float | None = None, progress: bool = True) -> dict:
    """Write ``cases`` phantoms (seeds ``first_seed`` …) into ``out`` and its manifest; returns the manifest.

    Cases already complete on disk are kept as they are (resume after an interruption).
    """
    ind = get_indication(indication)
    if not 1 <= int(cases) <= 100_000:
        raise NetZeroAICTError(f"number of cases {cases} is out of range", where="cases", hint="give 1–100000")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    default_shape, default_spacing = default_grid(ind.name)
    shape = list(shape_ijk or default_shape)
    spacing = float(spacing_mm or default_spacing)
    seeds = list(range(int(first_seed), int(first_seed) + int(cases)))
    from tqdm import tqdm

    made = skipped = 0
    bar = tqdm(seeds, desc=f"{ind.name} phantoms", unit="case", file=sys.stderr, disable=not progress)
    for seed in bar:
        folder = out / case_name(ind.name, seed)
        expected = {"indication": ind.name, "seed": seed, "shape_ijk": shape, "spacing_mm": spacing,
                    "generator_version": GENERATOR_VERSION}
        if _complete(folder, expected):
            skipped += 1
            continue
        make_pair(ind.name, seed, shape, spacing).save(folder)
        made += 1
    manifest = {
        "indication": ind.name, "synthetic": True, "generator_version": GENERATOR_VERSION,
        "shape_ijk": shape, "spacing_mm": spacing, "seeds": seeds,
        "split": {name: [case_name(ind.name, s) for s in seeds if split_of(s) == name] for name in SPLIT_FRACTIONS},
        "split_rule": "crc32 of the seed; fractions " + ", ".join(f"{k} {v}" for k, v in SPLIT_FRACTIONS.items()),
    }
    tmp = out / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2))
    os.replace(tmp, out / MANIFEST)
    manifest["made"], manifest["skipped"] = made, skipped
    return manifest


def read_manifest(folder: str | os.PathLike) -> dict:
    path = Path(folder) / MANIFEST
    if not path.exists():
        raise NetZeroAICTError("no manifest.json: not a dataset folder", where=str(folder),
                               hint="build one with: python -m NetZeroAICT foundry dataset --indication … --out …")
    return json.loads(path.read_text())
