"""Synthesis: 512×512×400 NCCT → synthetic CTA with the shipped aorta model, fast path vs MONAI defaults.

Each configuration runs in its own process (so its peak RSS is its own) on the same input and weights:
- shipped: the model card's settings (window 96³, overlap 0.25, body crop, body-free windows skipped, flip TTA);
- shipped, no TTA: the same with a single pass (no uncertainty map);
- MONAI defaults: window = training patch, overlap 0.5, fp32, whole volume, same TTA.
Reported: end-to-end synthesis time (input check → resampling → inference → back to the input grid), peak
RSS, speed ratio and the largest absolute difference of the output (HU) to MONAI's defaults.
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

    import torch

    from NetZeroAICT import read_volume
    from NetZeroAICT.synthesis import InferenceSettings, SynthesisEngine, read_card
    from NetZeroAICT.synthesis.model_card import find_model_dir

    torch.set_num_threads(2)
    volume = read_volume(input_path)
    card = read_card(find_model_dir("aorta"))
    settings = None
    if mode == "no_tta":
        inf = card.inference
        settings = InferenceSettings(patch_size=inf.get("roi_size", card.patch_size), overlap=inf["overlap"],
                                     tta_flips=[()], sw_batch_size=inf.get("sw_batch_size", 1))
    elif mode == "monai_default":
        settings = InferenceSettings(patch_size=card.patch_size, overlap=0.5,
                                     tta_flips=[tuple(f) for f in card.inference["tta_flips"]], sw_batch_size=1,
                                     precision="fp32", crop_to_body=False, skip_empty_windows=False)
    engine = SynthesisEngine("aorta", device="cpu", settings=settings)
    start = time.perf_counter()
    result = engine.synthesize(volume, accept_warnings=True)
    seconds = time.perf_counter() - start
    np.save(output_npy, result.cta.voxels)
    print(json.dumps({"seconds": seconds, "peak_rss_gb": result.record["peak_rss_gb"],
                      "timings_s": result.record["timings_s"]}))


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
        results = {mode: _run_worker(mode, tmp / "ncct.nrrd", tmp / f"{mode}.npy")
                   for mode in ("shipped", "no_tta", "monai_default")}
        base = np.load(tmp / "monai_default.npy", mmap_mode="r")
        for mode, label in (("shipped", "shipped settings (TTA ×2)"), ("no_tta", "shipped settings, no TTA"),
                            ("monai_default", "MONAI defaults (overlap 0.5, fp32, TTA ×2)")):
            r = results[mode]
            rows.append({"what": f"512×512×400 end-to-end, {label}", "value": f"{r['seconds']:.1f} s",
                         "goal": "≤ 15 s" if mode != "monai_default" else "baseline", "timings_s": r["timings_s"]})
            rows.append({"what": f"peak RSS, {label}", "value": f"{r['peak_rss_gb']:.2f} GB", "goal": "≤ 4 GB"})
        for mode in ("shipped", "no_tta"):
            out = np.load(tmp / f"{mode}.npy", mmap_mode="r")
            diff = max(float(np.abs(out[z:z + 50] - base[z:z + 50]).max()) for z in range(0, base.shape[0], 50))
            rows.append({"what": f"speed ratio MONAI defaults / {mode}",
                         "value": f"{results['monai_default']['seconds'] / results[mode]['seconds']:.2f}×",
                         "goal": "≥ 2×"})
            rows.append({"what": f"max |ΔHU| {mode} vs MONAI defaults", "value": f"{diff:.3f} HU",
                         "goal": "≤ 1 HU" if mode == "shipped" else "(no TTA: differs by the TTA averaging)"})
    return rows


if __name__ == "__main__":
    _worker(*sys.argv[1:4])
