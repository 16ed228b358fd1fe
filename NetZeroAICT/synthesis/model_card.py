"""Model cards and weights: what a model is, what it was trained on, how well it did, and its checked weights.

A model folder holds ``model.json`` (the card) and ``model.safetensors`` (the weights). The card names the
weights' SHA-256; :func:`load_model` reads the weight bytes once, checks them against that digest and only
then decodes them with safetensors (which never unpickles). Shipped models live in
``Resources/Models/<indication>/`` of the repository, or ``NetZeroAICT/Models/<indication>/`` once installed
into 3D Slicer (looked up first).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import NetZeroAICTError, ValidationError
from ..indications import get_indication

PACKAGE_DIR = Path(__file__).resolve().parents[1]
REPO_DIR = PACKAGE_DIR.parent
CARD_NAME = "model.json"
WEIGHTS_NAME = "model.safetensors"
INTENDED_USE = ("Research use only; not for clinical use. Produces a SYNTHETIC CT angiogram from a non-contrast "
                "CT for method development and reader studies; never a substitute for a contrast-enhanced scan.")

CARD_SCHEMA = {
    "type": "object",
    "required": ["schema_version", "model_id", "indication", "version", "architecture", "spacing_mm",
                 "windows_hu", "enhancement_scale_hu", "enhancement_gate_hu", "patch_size", "inference",
                 "weights", "intended_use"],
    "properties": {
        "schema_version": {"const": 1},
        "model_id": {"type": "string", "minLength": 1},
        "indication": {"type": "string"},
        "version": {"type": "string", "minLength": 1},
        "architecture": {"type": "object", "required": ["name", "kwargs"],
                         "properties": {"input_skip": {"type": "object", "required": ["features", "hidden"],
                                                       "properties": {"features": {"type": "integer", "minimum": 1},
                                                                      "hidden": {"type": "integer", "minimum": 1}}}}},
        "spacing_mm": {"type": "number", "exclusiveMinimum": 0},
        "windows_hu": {"type": "array", "minItems": 2,
                       "items": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "number"}}},
        "enhancement_scale_hu": {"type": "number", "exclusiveMinimum": 0},
        "enhancement_gate_hu": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "number"}},
        "min_body_hu": {"type": "number"},
        "max_enhanced_ncct_hu": {"type": "number"},
        "patch_size": {"type": "array", "minItems": 3, "maxItems": 3, "items": {"type": "integer", "minimum": 16}},
        "inference": {"type": "object", "required": ["overlap", "tta_flips"],
                      "properties": {"mode": {"enum": ["exact", "sliding"]},
                                     "max_slab_voxels": {"type": "integer", "minimum": 1000},
                                     "halo_vox": {"type": "integer", "minimum": 0},
                                     "overlap": {"type": "number", "minimum": 0, "maximum": 0.9},
                                     "tta_flips": {"type": "array", "minItems": 1,
                                                   "items": {"type": "array", "items": {"enum": [0, 1, 2]}}},
                                     "tta_shifts": {"type": "array", "minItems": 1,
                                                    "items": {"type": "array", "minItems": 3, "maxItems": 3,
                                                              "items": {"type": "integer", "minimum": 0,
                                                                        "maximum": 64}}},
                                     "tta_lower_sd": {"type": "number", "minimum": 0, "maximum": 3},
                                     "sw_batch_size": {"type": "integer", "minimum": 1},
                                     "roi_size": {"type": "array", "minItems": 3, "maxItems": 3,
                                                  "items": {"type": "integer", "minimum": 16}},
                                     "precision": {"enum": ["fp32", "bf16"]}}},
        "weights": {"type": "object", "required": ["file", "sha256"],
                    "properties": {"file": {"type": "string"},
                                   "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                                   "tensors_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}},
        "contrast_level": {"type": "object",
                           "properties": {"normalised": {"type": "boolean"},
                                          "training_lumen_enhancement_hu": {
                                              "type": "array", "minItems": 2, "maxItems": 2,
                                              "items": {"type": "number"}}}},
        "scan_resolution": {"type": "object",
                            "properties": {"max_factor_zyx": {"type": "array", "minItems": 3, "maxItems": 3,
                                                              "items": {"type": "number", "minimum": 1}}}},
        "training": {"type": "object"},
        "metrics_held_out": {"type": "object"},
        "metrics_validation": {"type": "object"},
        "intended_use": {"type": "string", "minLength": 1},
    },
}


@dataclass
class ModelCard:
    """The card of one synthesis model (``model.json``).

    Attributes:
        model_id: stable identifier (``netzeroaict-aorta-unet``).
        indication: indication name (see :mod:`NetZeroAICT.indications`).
        version: model version string.
        architecture: ``{"name": "monai.networks.nets.UNet", "kwargs": {...}}``.
        spacing_mm: isotropic voxel size the network works at, mm.
        windows_hu: input HU windows, one (low, high) pair per input channel.
        enhancement_scale_hu: the network's output × this = enhancement in HU. For a contrast-normalised
            model (``contrast_level.normalised``) this is the default lumen enhancement: the median, over the
            training cases, of the arterial lumen's enhancement; a run may ask for another level.
        enhancement_gate_hu: (t0, t1): predicted enhancement below t0 HU is set exactly to 0, ramps to full
            value at t1 HU; keeps tissue without enhancement exactly as scanned.
        min_body_hu: voxels of the NCCT below this HU (air, lung parenchyma) are never changed.
        max_enhanced_ncct_hu: voxels of the NCCT above this HU (bone, calcium) are never changed.
        patch_size: training patch (z, y, x) in voxels at ``spacing_mm`` (and the default ``sliding`` window).
        inference: ``mode`` (``exact``, the default: the whole-volume output in slabs with a halo, optional
            ``max_slab_voxels`` and ``halo_vox``, the network's receptive radius rounded up to its stride,
            written at training and measured at run time when absent; or ``sliding``: MONAI sliding windows), ``tta_flips`` (list of lists of
            spatial axes 0=z 1=y 2=x), optional ``tta_shifts`` and ``tta_lower_sd`` (the enhancement is the
            passes' mean less this many of their standard deviations, not below 0; absent: 0, the mean;
            :class:`~NetZeroAICT.synthesis.inference.InferenceSettings`), ``precision`` (fp32 | bf16, CPU only),
            and for ``sliding``: ``overlap`` (fraction), ``sw_batch_size``, optional ``roi_size`` (window, voxels; default ``patch_size``: the
            network is convolutional with batch norm, so a larger window than the training patch is valid).
        weights: ``{"file": "model.safetensors", "sha256": hex}``.
        contrast_level: ``{"normalised": true, "training_lumen_enhancement_hu": [min, max]}`` when the network
            predicts the enhancement in units of the case's lumen enhancement (how much contrast a scan got is
            set by the injection and timing, not visible in the NCCT, so the level is a setting of the run);
            empty for models that predict HU directly.
        scan_resolution: ``{"max_factor_zyx": [z, y, x]}`` when the network has three more input channels after
            the windows, the scan's resolution (:func:`~NetZeroAICT.synthesis.network.scan_resolution_channels`:
            log2 of how many model voxels a scan voxel spans along each network axis, up to these factors, the
            coarsest of its thick-slice training patches); empty for a network that sees the windows only.
        training: what the model was trained on (data, seeds, cases, shapes, epochs, command, timings).
        metrics_held_out: metrics on held-out phantoms (seeds never used in training), for reporting.
        metrics_validation: the same metrics on the validation phantoms (``models --evaluate-only --split
            validation``), for choosing between trained models without touching the held-out ones.
    """

    model_id: str
    indication: str
    version: str
    architecture: dict
    spacing_mm: float
    windows_hu: list
    enhancement_scale_hu: float = 500.0
    enhancement_gate_hu: list = field(default_factory=lambda: [15.0, 40.0])
    min_body_hu: float = -400.0
    max_enhanced_ncct_hu: float = 300.0
    patch_size: list = field(default_factory=lambda: [64, 64, 64])
    inference: dict = field(default_factory=lambda: {"overlap": 0.25, "tta_flips": [[], [2]], "sw_batch_size": 2})
    weights: dict = field(default_factory=lambda: {"file": WEIGHTS_NAME, "sha256": "0" * 64})
    contrast_level: dict = field(default_factory=dict)
    scan_resolution: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    metrics_held_out: dict = field(default_factory=dict)
    metrics_validation: dict = field(default_factory=dict)
    intended_use: str = INTENDED_USE
    notes: str = ""
    schema_version: int = 1

    @property
    def normalised(self) -> bool:
        """True when the network predicts enhancement relative to the lumen's (the level is a run setting)."""
        return bool(self.contrast_level.get("normalised"))

    @property
    def n_input_channels(self) -> int:
        """The network's input channels: one per HU window, and three scan-resolution ones if it has them."""
        from .network import SCAN_RESOLUTION_CHANNELS

        return len(self.windows_hu) + (SCAN_RESOLUTION_CHANNELS if self.scan_resolution else 0)

    def resolution_channels(self, voxel_edges_zyx=None) -> tuple[float, ...]:
        """The scan-resolution channel values for a scan with these voxel edges (mm, network axes z, y, x; None: a
        scan on the model grid), or () for a network without them."""
        from .network import scan_resolution_channels

        if not self.scan_resolution:
            return ()
        edges = (self.spacing_mm,) * 3 if voxel_edges_zyx is None else tuple(float(e) for e in voxel_edges_zyx)
        return scan_resolution_channels(edges, self.spacing_mm, self.scan_resolution["max_factor_zyx"])

    @property
    def description(self) -> str:
        """The description every output of this model carries."""
        return f"SYNTHETIC digital contrast ({self.indication}) {self.model_id} v{self.version}"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict, where: str = "model card") -> "ModelCard":
        validate_card(data, where)
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


def validate_card(data: dict, where: str = "model card") -> None:
    """Raise :class:`ValidationError` naming the bad field when ``data`` does not follow the card schema."""
    import jsonschema

    errors = sorted(jsonschema.Draft202012Validator(CARD_SCHEMA).iter_errors(data), key=lambda e: list(e.path))
    if errors:
        error = errors[0]
        field_path = "/".join(str(p) for p in error.path) or "(top level)"
        raise ValidationError(f"invalid model card field {field_path}: {error.message}", where=where,
                              hint="regenerate the card with `python -m NetZeroAICT train` or fix the field")
    get_indication(data["indication"])
    channels = data["architecture"]["kwargs"].get("in_channels")
    from .network import SCAN_RESOLUTION_CHANNELS

    expected = len(data["windows_hu"]) + (SCAN_RESOLUTION_CHANNELS if data.get("scan_resolution") else 0)
    if channels is not None and channels != expected:
        raise ValidationError(f"invalid model card field architecture/kwargs/in_channels: the network takes {channels} "
                              f"input channels, but the card gives it {expected} ({len(data['windows_hu'])} HU "
                              f"window(s){' and 3 scan-resolution channels' if data.get('scan_resolution') else ''})",
                              where=where, hint="one input channel per HU window, and 3 more with scan_resolution")


def model_search_paths(indication: str) -> list[Path]:
    """Folders searched for the shipped model of ``indication``, in order."""
    return [PACKAGE_DIR / "Models" / indication, REPO_DIR / "Resources" / "Models" / indication]


def find_model_dir(indication: str, model_dir: str | os.PathLike | None = None) -> Path:
    """The model folder to use: ``model_dir`` when given, else the shipped model of ``indication``."""
    get_indication(indication)
    if model_dir is not None:
        folder = Path(model_dir)
        if not (folder / CARD_NAME).is_file():
            raise NetZeroAICTError(f"no {CARD_NAME} in this model folder", where=str(folder),
                                   hint="give a folder written by `python -m NetZeroAICT train`")
        return folder
    for folder in model_search_paths(indication):
        if (folder / CARD_NAME).is_file():
            return folder
    raise NetZeroAICTError(f"no shipped model for indication {indication!r}",
                           where=", ".join(str(p) for p in model_search_paths(indication)),
                           hint="run `make models` (or `python -m NetZeroAICT models --indication "
                                f"{indication}`), or pass --model DIR")


#: How a phantom tissue label reads to a radiologist where it does not say enough by itself.
TISSUE_WORDS = {"blood_pool": "heart blood pool", "wall": "vessel wall", "lung_vessel": "lung vessels",
                "vein": "veins", "bowel_fluid": "bowel contents"}


def tissue_words(label: str) -> str:
    """A phantom tissue label as words: :data:`TISSUE_WORDS`, else the label with spaces ("soft_plaque": "soft
    plaque")."""
    return TISSUE_WORDS.get(label, label.replace("_", " "))


def main_false_contrast(summary: dict, share: float = 0.1, at_most: int = 3) -> list[tuple[str, float]]:
    """Where a metrics summary's false contrast mostly lies: ``(tissue, mL)`` of the parts of its
    ``false_contrast_ml_by_tissue`` holding at least ``share`` of the mean false contrast, largest first, at most
    ``at_most`` of them; ``[]`` for a summary without the breakdown (cards evaluated before it) or without false
    contrast."""
    parts = (summary.get("false_contrast_ml_by_tissue") or {}).get("mean") or {}
    total = (summary.get("false_contrast_ml") or {}).get("mean") or 0.0
    return [(name, float(ml)) for name, ml in parts.items() if total > 0 and ml >= share * total][:at_most]


def check_indication(card: ModelCard, indication: str, folder) -> None:
    """Refuse a model folder whose card is for another indication than the one asked for."""
    if card.indication != indication:
        raise NetZeroAICTError(f"the model in this folder is for {card.indication!r}, not {indication!r}",
                               where=str(folder), hint="pick the model folder of the indication you asked for")


def read_card(folder: str | os.PathLike) -> ModelCard:
    """Read and validate ``folder/model.json``."""
    path = Path(folder) / CARD_NAME
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise NetZeroAICTError("model card not found", where=str(path)) from None
    except json.JSONDecodeError as error:
        raise ValidationError(f"model card is not valid JSON ({error.msg}, line {error.lineno})",
                              where=str(path)) from None
    return ModelCard.from_dict(data, where=str(path))


def load_model(folder: str | os.PathLike, device: str = "cpu"):
    """Read the card and weights of a model folder; return ``(card, network in eval mode)``.

    The weight file's SHA-256 must equal the card's ``weights.sha256`` before anything is decoded.
    Raises:
        ValidationError: the card is malformed or the weights do not match it (tampered or corrupted).
    """
    from safetensors.torch import load as load_safetensors

    from .network import build_network

    card, blob, weights_path = _verified_weights(folder)
    try:
        state = load_safetensors(blob)
    except Exception as error:  # safetensors raises its own error types
        raise ValidationError(f"weights are not a valid safetensors file ({error})", where=str(weights_path)) from None
    network = build_network(card.architecture)
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise ValidationError(f"weights do not fit the card's architecture: {str(error).splitlines()[0]}",
                              where=str(weights_path)) from None
    return card, network.to(device).eval()


def _verified_weights(folder: str | os.PathLike) -> tuple[ModelCard, bytes, Path]:
    """A model folder's card, its weight file's bytes and path, once their SHA-256 matches the card's (nothing is
    decoded before). Raises a clear error for missing, altered or corrupted weights."""
    folder = Path(folder)
    card = read_card(folder)
    weights_path = folder / card.weights["file"]
    try:
        blob = weights_path.read_bytes()
    except FileNotFoundError:
        raise NetZeroAICTError("model weights not found", where=str(weights_path),
                               hint="the model folder is incomplete; reinstall or retrain the model") from None
    digest = hashlib.sha256(blob).hexdigest()
    if digest != card.weights["sha256"]:
        raise ValidationError(
            f"weights SHA-256 {digest[:16]}… does not match the model card ({card.weights['sha256'][:16]}…); "
            "refusing to use them", where=str(weights_path),
            hint="the weights were altered or corrupted: reinstall the model or retrain it")
    return card, blob, weights_path


def save_model(network, card: ModelCard, folder: str | os.PathLike) -> Path:
    """Write ``model.safetensors`` and ``model.json`` (with the weights' SHA-256) into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _write_model({k: v.detach().cpu().contiguous() for k, v in network.state_dict().items()}, card, folder)
    return folder


def _write_model(state: dict, card: ModelCard, folder: Path) -> None:
    """Write ``state`` as the card's weight file (the card's id and version in its metadata) and the card with the
    file's SHA-256 (what :func:`load_model` checks) and its tensors' (the same tensors written without metadata:
    what :func:`next_version` compares, since the metadata holds the version), each replaced atomically."""
    from safetensors.torch import save

    name = card.weights.get("file") or WEIGHTS_NAME
    blob = save(state, metadata={"model_id": card.model_id, "version": card.version})
    card.weights = {"file": name, "sha256": hashlib.sha256(blob).hexdigest(),
                    "tensors_sha256": hashlib.sha256(save(state)).hexdigest()}
    _atomic_write(folder / name, blob)
    _atomic_write(folder / CARD_NAME, (json.dumps(card.to_dict(), indent=2) + "\n").encode())


def interface(card: ModelCard) -> tuple:
    """What a model's callers depend on: its network, the spacing and HU windows it reads, and whether it predicts
    the enhancement relative to the lumen's. A change in any of them is a new major version (:func:`next_version`)."""
    return (json.dumps(card.architecture, sort_keys=True), float(card.spacing_mm),
            json.dumps(card.windows_hu), card.n_input_channels, card.normalised)


def run_settings(card: ModelCard) -> str:
    """What, besides the weights, sets a model's output: its inference and contrast-level settings, its gates."""
    return json.dumps([card.inference, card.enhancement_scale_hu, card.enhancement_gate_hu, card.min_body_hu,
                       card.max_enhanced_ncct_hu, card.contrast_level, card.scan_resolution], sort_keys=True)


def next_version(previous: ModelCard | None, card: ModelCard) -> str:
    """The version ``card``'s model takes when it replaces ``previous`` (None: there was no model), MAJOR.MINOR.PATCH:
    MAJOR + 1 for another :func:`interface` (network, spacing, windows or output); MINOR + 1 for new weights of the
    same network; PATCH + 1 for the same weights run with other :func:`run_settings`; else the same version. So two
    models of an indication that can give different outputs never share a version, and the same tensors installed
    again (their file differs: its metadata holds the version) keep theirs."""
    if previous is None:
        return "1.0.0"
    try:
        major, minor, patch = (int(part) for part in previous.version.split("."))
    except ValueError:
        raise ValidationError(f"version {previous.version!r} is not MAJOR.MINOR.PATCH",
                              where=f"{previous.model_id} model card",
                              hint="set it to a version such as 1.0.0") from None
    if interface(previous) != interface(card):
        return f"{major + 1}.0.0"
    if not _same_tensors(previous, card):
        return f"{major}.{minor + 1}.0"
    if run_settings(previous) != run_settings(card):
        return f"{major}.{minor}.{patch + 1}"
    return previous.version


def _same_tensors(a: ModelCard, b: ModelCard) -> bool:
    """Whether two cards' weights are the same tensors: by their tensors' SHA-256 where both cards have it, else
    (cards written before it) by their files'."""
    if a.weights.get("tensors_sha256") and b.weights.get("tensors_sha256"):
        return a.weights["tensors_sha256"] == b.weights["tensors_sha256"]
    return a.weights.get("sha256") == b.weights.get("sha256")


def set_version(folder: str | os.PathLike, version: str) -> ModelCard:
    """Give the model in ``folder`` the version ``version``: in its card and in its weight file's metadata (the
    tensors unchanged), the card's SHA-256 updated to the rewritten file. The weights are checked against the card
    first, as :func:`load_model` checks them; both files are replaced atomically."""
    from safetensors.torch import load as load_safetensors

    card, blob, _ = _verified_weights(folder)
    card.version = version
    _write_model(load_safetensors(blob), card, Path(folder))
    return card


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
