"""Synthesis: 512×512×400 NCCT → synthetic CTA with the shipped aorta model, shipped path vs MONAI defaults.

Each configuration runs in its own process (so its peak RSS is its own) on the same input and weights:
- shipped: the model card's settings: ``exact`` inference (the network's output on the whole body at once, in
  slabs with a halo of its receptive radius), the card's TTA (flips or shifts);
- shipped, no TTA: the same with a single pass (no uncertainty map);
- shipped, contiguous: the shipped settings with the network in PyTorch's default (contiguous) memory order
  instead of channels-last 3D, to show what that choice gives;
- shipped, thin slabs: ``exact`` with ``max_slab_voxels`` 2 M, which leaves 8-row slab cores, each read with
  its 2 × 32-row halo (24 slabs): the same numbers as the shipped run are expected, since the result does not
  depend on how the volume is cut;
- MONAI defaults: ``sliding_window_inference`` with its defaults (overlap 0.5, constant blending, one window per
  call, fp32, the network as loaded, in contiguous memory order) on the whole volume, 96³ window, same TTA;
- MONAI defaults, training patch: the same with the card's training patch as the window;
- MONAI untiled: ``sliding_window_inference`` with one window holding the whole volume (the model grid rounded
  up to the stride; for a shifted TTA pass, with the voxels mirrored before its first faces), same TTA: MONAI's
  own run of the network with no tile borders, the reference that does not depend on a window size.
Every configuration starts its windows or slabs at multiples of the network's stride (8 voxels).
Reported: end-to-end synthesis time (input check → resampling → inference → back to the input grid), the
inference stage alone, peak RSS, speed ratios, and differences of the output (HU): maximum, 99.99th percentile
and the fraction of voxels that differ by more than 1 HU.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

SHAPE_IJK = (512, 512, 400)


def _make_input(path: Path) -> None:
    """The aorta phantom of a held-out seed resampled onto a 512×512×400 grid (0.66 × 0.66 × 0.72 mm)."""
    import SimpleITK as sitk

    from NetZeroAICT import write_volume
    from NetZeroAICT.foundry import make_pair
    from NetZeroAICT.volume import Volume

    pair = make_pair("aorta", 90002)
    src = pair.ncct
    extent = [(n - 1) * s for n, s in zip(src.shape_ijk, src.spacing_mm)]
    spacing = [e / (n - 1) for e, n in zip(extent, SHAPE_IJK)]
    ref = sitk.Image(list(SHAPE_IJK), sitk.sitkUInt8)
    ref.SetSpacing(spacing)
    ref.SetOrigin(src.origin_lps)
    ref.SetDirection(tuple(src.direction_lps.ravel()))
    image = sitk.Resample(src.to_sitk(), ref, sitk.Transform(), sitk.sitkLinear, -1024.0, sitk.sitkFloat32)
    write_volume(Volume.from_sitk(image), path, compress=False)


def _worker(mode: str, input_path: str, output_npy: str) -> None:
    import time
    from dataclasses import replace

    import torch

    from NetZeroAICT import read_volume
    from NetZeroAICT.synthesis import InferenceSettings, SynthesisEngine, read_card
    from NetZeroAICT.synthesis.engine import card_settings
    from NetZeroAICT.synthesis.model_card import find_model_dir
    from NetZeroAICT.synthesis.network import network_stride

    torch.set_num_threads(2)
    volume = read_volume(input_path)
    card = read_card(find_model_dir("aorta"))
    stride = network_stride(card.architecture)
    shipped = card_settings(card, "cpu")   # from the card alone: loading the model is part of the timed run
    settings = {"shipped": shipped,
                "no_tta": replace(shipped, tta_flips=[()], tta_shifts=[(0, 0, 0)]),
                "contiguous": replace(shipped, channels_last=False),
                "thin_slabs": replace(shipped, max_slab_voxels=2_000_000)}.get(mode)
    if mode in ("monai_default", "monai_patch", "monai_untiled"):
        roi = card.inference.get("roi_size", card.patch_size) if mode == "monai_default" else card.patch_size
        if mode == "monai_untiled":   # one window per pass: its whole region (a shifted pass's holds the
            roi = (0, 0, 0)           # voxels mirrored before the first faces), rounded up to the stride
        settings = InferenceSettings(mode="sliding", patch_size=roi, overlap=0.5,
                                     tta_flips=shipped.tta_flips, tta_shifts=shipped.tta_shifts, sw_batch_size=1,
                                     precision="fp32", crop_to_body=False, skip_empty_windows=False, blend="constant",
                                     align=stride, channels_last=False)
    engine = SynthesisEngine("aorta", device="cpu", settings=settings)
    start = time.perf_counter()
    result = engine.synthesize(volume, accept_warnings=True)
    seconds = time.perf_counter() - start
    np.save(output_npy, result.cta.voxels)
    print(json.dumps({"seconds": seconds, "peak_rss_gb": result.record["peak_rss_gb"],
                      "timings_s": result.record["timings_s"], "inference": result.record["inference"]}))


def _edge(result: dict) -> str:
    """The window edge (voxels) a sliding-window run used, from its run record: "96", or "96×96×64"."""
    size = result["inference"]["patch_size"]
    return str(size[0]) if len(set(size)) == 1 else "×".join(map(str, size))


def _run_worker(mode: str, input_path: Path, output: Path) -> dict:
    repo = Path(__file__).resolve().parents[2]
    run = subprocess.run([sys.executable, "-m", "Testing.bench.bench_synthesis", mode, str(input_path), str(output)],
                         capture_output=True, text=True, cwd=repo)
    if run.returncode:
        raise RuntimeError(f"{mode} failed: {run.stderr[-2000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def run() -> list[dict]:
    from NetZeroAICT.errors import NetZeroAICTError
    from NetZeroAICT.synthesis.model_card import find_model_dir

    try:
        find_model_dir("aorta")
    except NetZeroAICTError as error:
        return [{"what": "synthesis benchmark skipped", "value": str(error)}]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        _make_input(tmp / "ncct.nrrd")
        results = {}
        modes = ("shipped", "no_tta", "contiguous", "thin_slabs", "monai_default", "monai_patch", "monai_untiled")
        for mode in modes:
            results[mode] = _run_worker(mode, tmp / "ncct.nrrd", tmp / f"{mode}.npy")
            r = results[mode]
            print(f"   ({mode}: {r['seconds']:.1f} s, inference {r['timings_s']['inference']:.1f} s, "
                  f"peak {r['peak_rss_gb']:.2f} GB; {r['inference']})", flush=True)
        labels = {"shipped": "shipped (exact, TTA ×2)", "no_tta": "shipped, no TTA",
                  "contiguous": "shipped, network in contiguous memory order",
                  "thin_slabs": "shipped in thin slabs (max_slab_voxels 2 M: 8-row cores)",
                  "monai_default": f"MONAI defaults, {_edge(results['monai_default'])}³ window (overlap 0.5, "
                                   "constant blending, fp32, TTA ×2)",
                  "monai_patch": f"MONAI defaults, {_edge(results['monai_patch'])}³ training patch as window (TTA ×2)",
                  "monai_untiled": "MONAI untiled (one window holding the whole volume, TTA ×2)"}
        for mode, label in labels.items():
            r = results[mode]
            rows.append({"what": f"512×512×400 end-to-end, {label}", "value": f"{r['seconds']:.1f} s",
                         "goal": "≤ 15 s" if mode in ("shipped", "no_tta") else "baseline", "timings_s": r["timings_s"]})
            rows.append({"what": f"peak RSS, {label}", "value": f"{r['peak_rss_gb']:.2f} GB", "goal": "≤ 4 GB"})
        for base_mode in ("monai_default", "monai_patch", "monai_untiled", "contiguous"):
            base, ours = results[base_mode], results["shipped"]
            rows.append({"what": f"speed ratio {labels[base_mode]} / shipped: end-to-end (inference stage alone)",
                         "value": f"{base['seconds'] / ours['seconds']:.2f}× "
                                  f"({base['timings_s']['inference'] / ours['timings_s']['inference']:.2f}×)",
                         "goal": "≥ 2×" if base_mode in ("monai_default", "monai_patch") else
                                 "for scale (the same computation, contiguous memory order)"
                                 if base_mode == "monai_untiled" else "what channels-last memory order gives"})
        pairs = [("shipped", "monai_default", "max ≤ 1 HU"), ("shipped", "monai_patch", "max ≤ 1 HU"),
                 ("shipped", "monai_untiled", "max ≤ 1 HU (the same network output, without tiles)"),
                 ("shipped", "thin_slabs", "max ≤ 1 HU (the result does not depend on the slabs)"),
                 ("shipped", "contiguous", "max ≤ 1 HU (memory order changes only rounding)"),
                 ("monai_default", "monai_patch", "two MONAI tilings of the same network, for scale")]
        for a_mode, b_mode, goal in pairs:
            a = np.load(tmp / f"{a_mode}.npy", mmap_mode="r")
            b = np.load(tmp / f"{b_mode}.npy", mmap_mode="r")
            diff = np.concatenate([np.abs(a[z:z + 50] - b[z:z + 50]).ravel() for z in range(0, a.shape[0], 50)])
            rows.append({"what": f"|ΔHU| {labels[a_mode]} vs {labels[b_mode]}: max / 99.99th percentile / voxels > 1 HU",
                         "value": f"{diff.max():.2f} / {np.percentile(diff, 99.99):.2f} HU / "
                                  f"{100 * np.mean(diff > 1):.3f} %", "goal": goal})
            del diff
    return rows


if __name__ == "__main__":
    _worker(*sys.argv[1:4])
