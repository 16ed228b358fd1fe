"""``synthesize_file``: read an NCCT file or DICOM folder, synthesise, write the results and the run record."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from ..errors import NetZeroAICTError
from ..volume_io import file_sha256, read_volume, volume_suffix, write_volume
from .engine import ProgressCallback, RunRecorder, SynthesisEngine
from .inference import InferenceSettings
from .record import FootprintSettings


def synthesize_file(ncct_path, indication: str, out_path, uncertainty_path=None, record_path=None,
                    device: str = "auto", model_dir=None, progress: ProgressCallback | None = None,
                    accept_warnings: bool = False, dicom_out=None, *, cancel: threading.Event | None = None,
                    settings: InferenceSettings | None = None,
                    footprint_settings: FootprintSettings | None = None, engine: SynthesisEngine | None = None,
                    lumen_hu: float | None = None) -> dict:
    """Synthesise a CT angiogram from the NCCT at ``ncct_path``; return the run record.

    Args:
        ncct_path: NIfTI/NRRD/MHA file or DICOM series folder (non-contrast CT in HU).
        indication: indication name.
        out_path: synthetic CTA file (.nii.gz/.nii/.nrrd/.mha), described as SYNTHETIC.
        uncertainty_path: optional file for the TTA standard deviation (HU).
        record_path: optional JSON file for the run record.
        device: ``auto``, ``cpu`` or ``cuda``.
        model_dir: model folder; None uses the shipped model.
        progress: ``progress(stage, fraction, message)``.
        accept_warnings: go on despite input-safety warnings.
        dicom_out: folder for a derived DICOM series (DICOM input only).
        cancel: an event that stops the run when set (from another thread).
        lumen_hu: contrast level, mean HU of the synthetic arterial lumen (default: the model's).
    """
    out_path = Path(out_path)
    for path in (out_path, uncertainty_path):
        if path is not None and volume_suffix(path) not in (".nii.gz", ".nii", ".nrrd", ".mha"):
            raise NetZeroAICTError("unsupported output file type", where=str(path), hint="use .nii.gz, .nrrd or .mha")
    engine = engine or SynthesisEngine(indication, model_dir, device, settings, footprint_settings)
    if lumen_hu is not None:
        engine.lumen_hu, engine.lumen_enhancement_hu = float(lumen_hu), None
    recorder = RunRecorder(progress, cancel, engine.footprint_settings, engine.device)
    with recorder.stage("read", 0.0, f"reading {ncct_path}"):
        volume = read_volume(ncct_path)
        sha = file_sha256(ncct_path) if Path(ncct_path).is_file() else None
    if dicom_out is not None and volume.metadata.get("format") != "dicom":
        raise NetZeroAICTError("a derived DICOM series can only be written for a DICOM input", where=str(ncct_path),
                               hint="give the DICOM folder as input, or leave out --dicom-out")
    result = engine.synthesize(volume, accept_warnings=accept_warnings, recorder=recorder, span=(0.03, 0.9),
                               input_sha256=sha)
    record = result.record
    with recorder.stage("write", 0.9, f"writing {out_path}"):
        write_volume(result.cta, out_path, description=result.cta.metadata["description"])
        outputs = {"cta": str(out_path)}
        if uncertainty_path is not None:
            write_volume(result.uncertainty, uncertainty_path, description=result.uncertainty.metadata["description"])
            outputs["uncertainty"] = str(uncertainty_path)
        if dicom_out is not None:
            from .dicom_out import write_derived_series

            outputs["dicom"] = str(write_derived_series(result.cta, volume, dicom_out, record))
    record["output"] = outputs
    record.update(recorder.finish())
    if record_path is not None:
        _write_json(Path(record_path), record)
        record["output"]["record"] = str(record_path)
    recorder.report("done", 1.0, "done")
    return record


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    os.replace(tmp, path)
