"""SynthesisEngine: a non-contrast CT in, a synthetic CT angiogram, an uncertainty map and a run record out.

Steps: check the input → resample to the model spacing → inference, in the patient order the model was
trained in, with test-time augmentation (flips or shifts, as the model card says: mean and standard
deviation) → back onto the exact input grid → gate the enhancement (exactly zero where tiny or outside the
body) → add it to the NCCT. Tissue, bone and air that receive no enhancement keep their
scanned values bit for bit.
"""

from __future__ import annotations

import contextlib
import datetime
import platform
import threading
import time
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from .. import __version__
from ..errors import NetZeroAICTError
from ..volume import Volume
from ..volume_io import volume_sha256
from .grids import from_network_order, in_network_order, input_grid_chunks, to_model_grid, to_network_order
from .guard import check_before_synthesis
from .inference import InferenceSettings, SynthesisCancelled, gate_enhancement, predict_enhancement
from .model_card import ModelCard, check_indication, find_model_dir, load_model
from .network import network_stride, scan_voxel_edges_zyx
from .record import EnergyMeter, FootprintSettings, footprint, peak_rss_gb

#: ``progress(stage, fraction 0..1 of the whole run, message)``
ProgressCallback = Callable[[str, float, str], None]
MIN_HU, MAX_HU = -1024.0, 3071.0


@dataclass
class SynthesisResult:
    """``cta``: synthetic CTA (HU, input grid); ``uncertainty``: TTA standard deviation (HU); ``record``: run record."""

    cta: Volume
    uncertainty: Volume
    record: dict


class RunRecorder:
    """Collects per-stage timings, reports progress over a fraction range, and checks for cancellation."""

    def __init__(self, progress: ProgressCallback | None = None, cancel: threading.Event | None = None,
                 settings: FootprintSettings | None = None, device: str = "cpu"):
        self.progress = progress
        self.cancel = cancel or threading.Event()
        self.timings_s: dict[str, float] = {}
        self.settings = settings or FootprintSettings()
        self.meter = EnergyMeter(self.settings, device).start()
        self._t0 = time.perf_counter()

    def report(self, stage: str, fraction: float, message: str = "") -> None:
        if self.progress is not None:
            self.progress(stage, float(min(max(fraction, 0.0), 1.0)), message)

    @contextlib.contextmanager
    def stage(self, name: str, start: float, message: str):
        if self.cancel.is_set():
            raise SynthesisCancelled("synthesis cancelled", hint="run it again to get a result")
        self.report(name, start, message)
        t = time.perf_counter()
        yield
        self.timings_s[name] = round(self.timings_s.get(name, 0.0) + time.perf_counter() - t, 4)

    def finish(self) -> dict:
        self.timings_s["total"] = round(time.perf_counter() - self._t0, 4)
        peak = peak_rss_gb()
        energy = self.meter.stop(peak)
        fp = footprint(energy, self.settings)
        return {"timings_s": dict(self.timings_s), "peak_rss_gb": round(peak, 3),
                "peak_rss_note": "peak resident memory of the process (getrusage ru_maxrss)",
                "energy": {"wh": fp["energy_wh"], "method": fp["energy_method"],
                           "cpu_time_s": round(energy["cpu_time_s"], 3),
                           **({"gpu_wh": energy["gpu_energy_wh"]} if "gpu_energy_wh" in energy else {})},
                "co2e_g": fp["co2e_g"], "grid_g_co2e_per_kwh": self.settings.grid_g_co2e_per_kwh,
                "avoided": fp["avoided"], "footprint_settings": fp["settings"], "footprint_sources": fp["sources"]}


def resolve_device(device: str = "auto") -> str:
    """``auto`` → ``cuda`` when a CUDA GPU is usable, else ``cpu``; ``cuda`` without a GPU is an error."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise NetZeroAICTError("device 'cuda' was asked for but no CUDA GPU is available", where="--device",
                               hint="use --device cpu or auto")
    if device not in ("cpu",) and not device.startswith("cuda"):
        raise NetZeroAICTError(f"unknown device {device!r}", where="--device", hint="use auto, cpu or cuda")
    return device


class SynthesisEngine:
    """Synthesises CT angiograms for one indication with one model.

    Args:
        indication: indication name (``aorta`` …).
        model_dir: a model folder; None uses the shipped model of the indication.
        device: ``auto``, ``cpu`` or ``cuda``.
        settings: inference settings; None takes them from the model card.
        footprint_settings: numbers for energy and carbon accounting.
        lumen_hu: contrast level asked for, as the mean HU of the synthetic arterial lumen (e.g. 350); the
            enhancement becomes this minus the unenhanced blood HU measured under the predicted lumen.
        lumen_enhancement_hu: contrast level asked for, as the lumen's enhancement in HU (e.g. 300).
            With neither, a contrast-normalised model uses its card's default (the training cases' median).
    """

    def __init__(self, indication: str, model_dir=None, device: str = "auto",
                 settings: InferenceSettings | None = None, footprint_settings: FootprintSettings | None = None,
                 lumen_hu: float | None = None, lumen_enhancement_hu: float | None = None):
        if lumen_hu is not None and lumen_enhancement_hu is not None:
            raise NetZeroAICTError("give the contrast level either as lumen HU or as lumen enhancement, not both",
                                   where="contrast level")
        self.lumen_hu = lumen_hu
        self.lumen_enhancement_hu = lumen_enhancement_hu
        self.indication = indication
        self.model_dir = find_model_dir(indication, model_dir)
        self.device = resolve_device(device)
        self._settings = settings
        self.footprint_settings = footprint_settings or FootprintSettings()
        self.card: ModelCard | None = None
        self.network = None
        self._cancel = threading.Event()
        #: When True, the network's output for the last input is kept, and a run on the same voxels and geometry
        #: with the same settings (only the contrast level changed) reuses it instead of running the network
        #: again: the output of a contrast-normalised model does not depend on the level.
        self.reuse_network_output = False
        self._kept: tuple | None = None

    # -- model --------------------------------------------------------------------------------------
    def load(self) -> ModelCard:
        """Load the card and the SHA-256-checked weights (once)."""
        if self.network is None:
            self.card, self.network = load_model(self.model_dir, self.device)
            check_indication(self.card, self.indication, self.model_dir)
        return self.card

    @property
    def settings(self) -> InferenceSettings:
        if self._settings is not None:
            return self._settings
        return card_settings(self.load(), self.device)

    def cancel(self) -> None:
        """Ask the running :meth:`synthesize` (from another thread) to stop; it raises
        :class:`SynthesisCancelled` at the next window or stage."""
        self._cancel.set()

    # -- run ----------------------------------------------------------------------------------------
    def synthesize(self, volume: Volume, progress: ProgressCallback | None = None, accept_warnings: bool = False,
                   recorder: RunRecorder | None = None, span: tuple[float, float] = (0.0, 1.0),
                   input_sha256: str | None = None) -> SynthesisResult:
        """Synthesise a CTA from ``volume`` (NCCT, float32 HU).

        ``span`` is the part (start, end) of the whole run's progress this call covers (for callers that also
        read and write files). Raises InputRefused, NeedsConfirmation, SynthesisCancelled or NetZeroAICTError.
        """
        recorder = recorder or RunRecorder(progress, None, self.footprint_settings, self.device)
        self._cancel = recorder.cancel  # what cancel() sets while this run is going
        lo, hi = span

        def at(fraction: float) -> float:
            return lo + (hi - lo) * fraction

        with recorder.stage("check", at(0.0), "checking the input"):
            checked = check_before_synthesis(volume, self.indication, accept_warnings)
        with recorder.stage("load_model", at(0.03), "loading the model (SHA-256 checked)"):
            card = self.load()
            settings = self.settings
            if card.scan_resolution:   # the network is told how coarse this scan is (see ModelCard)
                edges = scan_voxel_edges_zyx(volume.spacing_mm, volume.direction_lps)
                settings = replace(settings, input_constants=card.resolution_channels(edges))
        with recorder.stage("resample", at(0.06), f"resampling to {card.spacing_mm:g} mm"):
            hu_model, grid = to_model_grid(volume, card.spacing_mm)
        coverage: dict = {}
        voxels_sha256 = None     # hashed once, for the reuse key and the record
        with recorder.stage("inference", at(0.1), "inference"):
            key = None
            if self.reuse_network_output:
                voxels_sha256 = volume_sha256(volume)
                key = (voxels_sha256, card.weights["sha256"], repr(settings))
            if key is not None and self._kept is not None and self._kept[0] == key:
                mean, std = self._kept[1].copy(), self._kept[2].copy()
                coverage.update(self._kept[3], network_output="reused from the previous run on this input")
            else:
                # the network reads the volume in the phantoms' patient order, whatever the file's orientation
                mean, std = predict_enhancement(
                    self.network, to_network_order(hu_model, volume.direction_lps), card.windows_hu,
                    1.0 if card.normalised else card.enhancement_scale_hu, card.min_body_hu, settings, self.device,
                    progress=lambda f: recorder.report("inference", at(0.1 + 0.75 * f), f"inference {100 * f:.0f}%"),
                    cancel=recorder.cancel, facts=coverage)
                mean, std = (from_network_order(a, volume.direction_lps) for a in (mean, std))
                self._kept = (key, mean.copy(), std.copy(), dict(coverage)) if key is not None else None
            contrast = self._contrast_level(card, mean, hu_model)
            if card.normalised:
                mean *= contrast["lumen_enhancement_hu"]
                std *= contrast["lumen_enhancement_hu"]
            del hu_model
        with recorder.stage("restore", at(0.86), "back to the input grid"):
            cta_voxels, uncertainty, stats = restore_to_input_grid(volume, mean, std, grid, card)
            del mean, std
        description = card.description
        cta = volume.with_voxels(cta_voxels, description=description, synthetic=True,
                                 model_id=card.model_id, model_version=card.version, indication=self.indication)
        unc = volume.with_voxels(uncertainty, description=f"UNCERTAINTY (TTA std, HU) of {description}",
                                 synthetic=True, model_id=card.model_id, model_version=card.version)
        record = {
            "schema": "netzeroaict.run_record/1",
            "synthetic": True,
            "description": description,
            "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "netzeroaict_version": __version__,
            "indication": self.indication,
            "input": {"path": volume.metadata.get("source"),
                      "sha256": input_sha256 or voxels_sha256 or volume_sha256(volume),
                      "sha256_of": "file" if input_sha256 else "voxels and geometry",
                      "shape_ijk": list(volume.shape_ijk), "spacing_mm": list(volume.spacing_mm)},
            "input_check": checked,
            "model": {"id": card.model_id, "version": card.version, "sha256": card.weights["sha256"],
                      "folder": str(self.model_dir), "spacing_mm": card.spacing_mm,
                      "architecture": card.architecture["name"]},
            "inference": {**coverage, "voxel_order": _voxel_order(volume),
                          "tta_flips": [list(f) for f in settings.tta_flips],
                          "enhancement_from_passes": (
                              f"mean − {settings.tta_lower_sd:g} × standard deviation, not below 0"
                              if settings.tta_lower_sd else "mean"),
                          "precision": settings.precision, "crop_to_body": settings.crop_to_body,
                          "memory_order": "channels-last 3D" if settings.channels_last and self.device == "cpu"
                          else "contiguous",
                          "alignment_vox": settings.align,
                          **({"scan_resolution_channels": {
                              "voxel_edges_zyx_mm": [round(e, 3) for e in edges],
                              "log2_factors_zyx": [round(v, 3) for v in settings.input_constants]}}
                             if card.scan_resolution else {}),
                          **({"patch_size": list(settings.patch_size), "overlap": settings.overlap,
                              "sw_batch_size": settings.sw_batch_size, "blend": settings.blend}
                             if settings.mode == "sliding" else {"max_slab_voxels": settings.max_slab_voxels})},
            "device": _device_facts(self.device),
            "contrast_level": contrast,
            "enhancement": stats,
        }
        if span[1] >= 1.0:
            recorder.report("done", 1.0, "done")
            record.update(recorder.finish())
        return SynthesisResult(cta, unc, record)

    def _contrast_level(self, card: ModelCard, relative: np.ndarray, hu_model: np.ndarray) -> dict:
        """The lumen enhancement (HU) this run uses, and where it came from; ``relative`` is the network's
        output in units of the lumen enhancement (contrast-normalised models)."""
        asked = self.lumen_hu is not None or self.lumen_enhancement_hu is not None
        if not card.normalised:
            if asked:
                raise NetZeroAICTError("this model predicts HU directly; its contrast level cannot be set",
                                       where=str(self.model_dir / "model.json"),
                                       hint="leave out the contrast level, or use a contrast-normalised model")
            return {"normalised": False}
        facts = {"normalised": True, "model_default_hu": card.enhancement_scale_hu,
                 "training_range_hu": card.contrast_level.get("training_lumen_enhancement_hu")}
        if self.lumen_enhancement_hu is not None:
            level = float(self.lumen_enhancement_hu)
            if not 0 < level <= 2000:
                raise NetZeroAICTError(f"lumen enhancement {level:g} HU is outside 0–2000 HU", where="contrast level")
            return {**facts, "lumen_enhancement_hu": level, "source": "asked for as lumen enhancement"}
        if self.lumen_hu is not None:
            lumen = relative >= 0.5
            blood = float(np.median(hu_model[lumen])) if lumen.any() else UNENHANCED_BLOOD_HU
            level = float(self.lumen_hu) - blood
            if not 0 < level <= 2000 or self.lumen_hu > MAX_HU:
                raise NetZeroAICTError(f"lumen {self.lumen_hu:g} HU is not above the unenhanced blood "
                                       f"({blood:.0f} HU) by 0–2000 HU", where="contrast level",
                                       hint="ask for a diagnostic lumen level, e.g. 300–500 HU")
            return {**facts, "lumen_enhancement_hu": round(level, 1), "target_lumen_hu": float(self.lumen_hu),
                    "unenhanced_blood_hu": round(blood, 1),
                    "source": "asked for as lumen HU (blood measured under the predicted lumen)"}
        return {**facts, "lumen_enhancement_hu": card.enhancement_scale_hu, "source": "model default"}


#: Unenhanced blood (HU) assumed when no lumen is predicted and a lumen HU is asked for.
UNENHANCED_BLOOD_HU = 40.0


def card_settings(card: ModelCard, device: str = "cpu") -> InferenceSettings:
    """The inference settings a model card asks for (``bf16`` only on CPU)."""
    inf = card.inference
    precision = inf.get("precision", "fp32") if device == "cpu" else "fp32"
    return InferenceSettings(mode=inf.get("mode", "exact"), halo=inf.get("halo_vox"),
                             max_slab_voxels=int(inf.get("max_slab_voxels", InferenceSettings.max_slab_voxels)),
                             patch_size=tuple(inf.get("roi_size", card.patch_size)), overlap=float(inf["overlap"]),
                             tta_flips=[tuple(f) for f in inf["tta_flips"]],
                             tta_shifts=[tuple(t) for t in inf.get("tta_shifts", [(0, 0, 0)])],
                             tta_lower_sd=float(inf.get("tta_lower_sd", 0.0)),
                             sw_batch_size=int(inf.get("sw_batch_size", 2)), precision=precision,
                             align=network_stride(card.architecture))


def restore_to_input_grid(volume: Volume, mean: np.ndarray, std: np.ndarray, grid, card: ModelCard
                          ) -> tuple[np.ndarray, np.ndarray, dict]:
    """The synthetic CTA and the uncertainty map on ``volume``'s grid from the enhancement ``mean`` and its TTA
    ``std`` (HU, model grid ``grid``; None when the input is on the model grid), with the enhancement statistics.

    A few input slices at a time: interpolate both maps, gate the enhancement (:func:`gate_enhancement`), add it
    to the NCCT. Outside the box where the model-grid maps are not zero nothing changes (CTA = NCCT,
    uncertainty 0). The elementwise work runs in torch on views of the numpy arrays, so it uses torch's threads.
    """
    import torch

    ncct = np.asarray(volume.voxels, dtype=np.float32)
    cta_voxels = ncct.copy()
    uncertainty = np.zeros(ncct.shape, dtype=np.float32)
    n_changed, total, peak = 0, 0.0, 0.0
    with torch.inference_mode():
        for box, (enhancement, unc) in input_grid_chunks([mean, std], grid, volume, out=[None, uncertainty]):
            gate_enhancement(enhancement, ncct[box], card.enhancement_gate_hu, card.min_body_hu,
                             card.max_enhanced_ncct_hu, MAX_HU, also_zero=unc)
            enh = torch.from_numpy(enhancement)       # gated: 0 or positive
            n = int(torch.count_nonzero(enh))
            if n:
                n_changed += n
                total += float(enh.sum())     # float32 sum of one chunk (pairwise), added up in float64
                peak = max(peak, float(enh.max()))
                torch.from_numpy(cta_voxels[box]).add_(enh)
    stats = {"voxels_enhanced_fraction": round(n_changed / ncct.size, 6), "max_enhancement_hu": round(peak, 2),
             "mean_enhancement_in_enhanced_hu": round(total / n_changed, 2) if n_changed else 0.0}
    return cta_voxels, uncertainty, stats


def _voxel_order(volume: Volume) -> str:
    """How the network read the input's voxels, for the run record."""
    if in_network_order(volume.direction_lps):
        return "as stored (superior, posterior, left)"
    return "reordered to superior, posterior, left (the order the model was trained in), and back"


def _device_facts(device: str) -> dict:
    import torch

    facts = {"name": device, "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
             "platform": platform.platform(), "processor": platform.processor() or platform.machine()}
    if device.startswith("cuda"):
        facts["gpu"] = torch.cuda.get_device_name(0)
    return facts
